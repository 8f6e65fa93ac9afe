import { z } from 'zod';
import { duration, parseDuration } from '../config/duration.js';
import type { FraudEvent, LoginEvent } from '../events/types.js';
import { humanCount, humanDuration } from '../format/human.js';
import { addToBucket, emptySeries, pruneBuckets, sumBuckets, type BucketSeries } from '../windows/buckets.js';
import { countBefore, insertSorted } from '../windows/timeList.js';
import { defineDetector, type Detector, type EventContext, type Emit } from './types.js';

const options = z.strictObject({
  /** Failed logins on one account within `window` that raise an alert. Default 10. */
  threshold: z.number().int().min(2).max(1000).default(10),
  /** The short (burst) window. Default 10m. */
  window: duration('1m', '24h').default('10m'),
  /** Also count failures over `longWindow`, for slow attacks that never reach `threshold` in `window`. Default true. */
  longWindowEnabled: z.boolean().default(true),
  /** The long (slow brute force) window; failures are counted in 1/24 slices of it. Default 24h. */
  longWindow: duration('1h', '7d').default('24h'),
  /** Failed logins on one account within `longWindow` that raise an alert. Default 30. */
  longThreshold: z.number().int().min(2).max(10_000).default(30),
  /**
   * Failing addresses remembered per account for the evidence of how guessing is spread
   * (addresses, networks, countries, user agents, top sources); past it the address that failed
   * least recently is forgotten and counted as such, so the counts then read "at least". Default 32.
   */
  maxSources: z.number().int().min(1).max(256).default(32),
});

/** The engine keeps the last 20 event ids of an alert; fewer would starve the alert of context. */
const MIN_KEPT_FAILURES = 20;
/** Resolution of the flood overflow counter: 1/30 of `window` (20 s for 10 min). */
const OVERFLOW_SLICES = 30;
/** Resolution of the long window: 1/24 of it (an hour for 24h). */
const LONG_SLICES = 24;
/** Successes remembered at once (the latest): each resets its own source's failures in the window. */
const MAX_SUCCESSES = 8;
/** Sources listed by name in the evidence, most failures first. */
const TOP_SOURCES = 5;

/* Flat tuples, so a state is a few plain arrays however many sources it tracks. */
/** A success: [time, address, device id ('' when none)]. */
const OK = 3;
/** A failing source: [address, latest user agent ('' when none), country ('' when unknown), failures, latest failure time]. */
const SRC = 5;
const SRC_IP = 0;
const SRC_UA = 1;
const SRC_COUNTRY = 2;
const SRC_N = 3;
const SRC_LAST = 4;

interface State {
  /**
   * Latest failures, oldest first, as parallel arrays; at most max(threshold, 20) and none older
   * than the longest window. They give exact short-window counts up to the threshold, the
   * alert's event ids, and each failure's source: its address and device id ('' when none).
   */
  ts: number[];
  ids: string[];
  ip: string[];
  dev: string[];
  /**
   * Latest successes within the short window, flat OK tuples, at most MAX_SUCCESSES; absent
   * when none. A failure counts towards the burst unless a success from its source (the same
   * address, or the same device) came at or after it.
   */
  ok?: (number | string)[];
  /**
   * Failures pushed out of `ts` while still inside `window` (a flood), per 1/30 of `window`, so
   * `failures` stays a true count instead of saturating at the list length. Their sources are
   * not kept, so no success resets them: a flood is an attack whoever logs in. At most 31 slices.
   */
  overflow?: BucketSeries;
  /** Failures per 1/24 of `longWindow`, at most 25 slices; absent when the long window is off. */
  long?: BucketSeries;
  /** Failing addresses over the longest window (SRC tuples, at most maxSources), for the evidence. */
  src: (number | string)[];
  /** Addresses forgotten from `src` while still in the window (the cap): the counts are then lower bounds. */
  gone: number;
}

/** Burst state at a time: the failures counted and the first one's time. */
interface Burst {
  count: number;
  first: number;
}

/** The network an address belongs to in the evidence: its /24 (IPv4) or /48 (IPv6). */
export function networkOf(ip: string): string {
  if (!ip.includes(':')) return `${ip.slice(0, ip.lastIndexOf('.'))}.0/24`;
  // Expand "::" so the first three groups are known, then print them as the canonical prefix.
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const first = groups.slice(0, 3).map((g) => Number.parseInt(g, 16).toString(16));
  while (first.length > 0 && first[first.length - 1] === '0') first.pop();
  return `${first.join(':')}::/48`;
}

/**
 * brute_force: many failed logins on one account in a short window. A success that follows
 * within the window from a source that took part in the guessing escalates to critical: the
 * attacker probably got in.
 *
 * Sources. A login's source is its address and its device. A success resets the burst count
 * only for failures from its own source (the same address, or the same device id): the owner
 * logging in from the office does not wipe out an attacker's burst from elsewhere, and the
 * critical alert names the success that followed that source's own failures, not the owner's.
 * Failures from every source still add up account-wide, so guessing spread over many addresses
 * (each far below any per-address threshold) reaches the threshold all the same; the evidence
 * then describes the spread: distinct addresses, /24 and /48 networks, countries, user agents
 * and the top sources (bounded by maxSources; see its doc).
 *
 * The long window catches slow attacks (a few guesses an hour, all day). It is not reset by a
 * success, because an attacker's slow guessing goes on while the owner keeps logging in, and a
 * success after it does not escalate: on an account in daily use the owner's own login is the
 * likelier explanation. Beyond the latest failures kept for event ids, the long window holds
 * only counts per 1/24 slice of it (at most 25 pairs of numbers), not every event.
 *
 * A failure arriving later than the lateness is judged at the newest failure known, so it
 * completes the burst it belongs to; one older than that burst's window, or than a later
 * success from its source, judges nothing.
 */
export const bruteForce = defineDetector({
  id: 'brute_force',
  keyKind: 'account',
  defaultSeverity: 'high',
  // A slow brute force keeps finding for as long as its long window (24h): one episode, paged
  // once and again when it escalates to a success, not once per global cooldown.
  defaultCooldown: '24h',
  description:
    'N or more failed logins on one account within a window, counted per source so that only a success from the same address or device resets them (critical when such a success follows), or many over a long window (slow or spread guessing, with the spread in the evidence).',
  options,
  create(o): Detector<State> {
    const windowMs = parseDuration(o.window);
    const threshold = o.threshold;
    const longOn = o.longWindowEnabled;
    const longWindowMs = parseDuration(o.longWindow);
    const longThreshold = o.longThreshold;
    const longSliceMs = longWindowMs / LONG_SLICES;
    const overflowSliceMs = windowMs / OVERFLOW_SLICES;
    const keepMs = longOn ? Math.max(windowMs, longWindowMs) : windowMs;
    const cap = Math.max(threshold, MIN_KEPT_FAILURES);
    const maxSources = o.maxSources;
    // Evidence echoes durations as configured ("24h", not "1d").
    const window = o.window;
    const longWindow = o.longWindow;

    /** Whether a success from (ip, dev) resets a failure from (fIp, fDev). */
    function sameSource(ip: string, dev: string, fIp: string, fDev: string): boolean {
      return ip === fIp || (dev !== '' && dev === fDev);
    }

    /** Whether the kept failure `i` was reset by a success from its source at or after it. */
    function reset(s: State, i: number): boolean {
      const ok = s.ok;
      if (ok === undefined) return false;
      const t = s.ts[i]!;
      for (let j = 0; j < ok.length; j += OK) {
        if ((ok[j] as number) >= t && sameSource(ok[j + 1] as string, ok[j + 2] as string, s.ip[i]!, s.dev[i]!)) return true;
      }
      return false;
    }

    function prune(s: State, t: number): void {
      const n = countBefore(s.ts, t - keepMs);
      if (n > 0) {
        s.ts.splice(0, n);
        s.ids.splice(0, n);
        s.ip.splice(0, n);
        s.dev.splice(0, n);
      }
      if (s.ok !== undefined) {
        // A success older than the window can reset no failure inside it.
        let k = 0;
        while (k < s.ok.length && (s.ok[k] as number) < t - windowMs) k += OK;
        if (k === s.ok.length) s.ok = undefined;
        else if (k > 0) s.ok.splice(0, k);
      }
      if (s.overflow !== undefined) {
        pruneBuckets(s.overflow, Math.ceil((t - windowMs) / overflowSliceMs));
        if (s.overflow.idx.length === 0) s.overflow = undefined;
      }
      if (s.long !== undefined) {
        pruneBuckets(s.long, Math.floor(t / longSliceMs) - (LONG_SLICES - 1));
        if (s.long.idx.length === 0) s.long = undefined;
      }
      if (s.src.length > 0) {
        let at = 0;
        for (let j = 0; j < s.src.length; j += SRC) {
          if ((s.src[j + SRC_LAST] as number) < t - keepMs) continue;
          for (let k = 0; k < SRC; k++) s.src[at + k] = s.src[j + k]!;
          at += SRC;
        }
        s.src.length = at;
        if (at === 0) s.gone = 0;
      }
    }

    /** Failures in the short window ending at `t` not reset by a success from their source. */
    function shortWindow(s: State, t: number): Burst {
      const cutoff = t - windowMs;
      let count = 0;
      let first = Number.POSITIVE_INFINITY;
      if (s.overflow !== undefined) {
        const { idx, val } = s.overflow;
        for (let i = 0; i < idx.length; i++) {
          const start = idx[i]! * overflowSliceMs;
          if (start < cutoff || start > t) continue;
          count += val[i]!;
          if (start < first) first = start;
        }
      }
      for (let i = 0; i < s.ts.length; i++) {
        const ts = s.ts[i]!;
        if (ts < cutoff || ts > t || reset(s, i)) continue;
        count++;
        if (ts < first) first = ts;
      }
      return { count, first };
    }

    /** Ids of kept failures in [from, t] (those still counted when `counted`), oldest first, with the trigger last. */
    function supporting(s: State, from: number, t: number, trigger: string, triggerIsFailure: boolean, counted: boolean): string[] {
      const out: string[] = [];
      for (let i = 0; i < s.ts.length; i++) {
        const ts = s.ts[i]!;
        if (ts >= from && ts <= t && s.ids[i] !== trigger && !(counted && reset(s, i))) out.push(s.ids[i]!);
      }
      if (triggerIsFailure || out.length > 0) out.push(trigger);
      return out;
    }

    /** Records a failure's address among the sources, evicting the least recently failing one at the cap. */
    function noteSource(s: State, ev: LoginEvent, country: string): void {
      const src = s.src;
      for (let j = 0; j < src.length; j += SRC) {
        if (src[j + SRC_IP] !== ev.ip) continue;
        (src[j + SRC_N] as number)++;
        if (ev.ts >= (src[j + SRC_LAST] as number)) {
          src[j + SRC_LAST] = ev.ts;
          if (ev.userAgent !== undefined) src[j + SRC_UA] = ev.userAgent;
        }
        return;
      }
      if (src.length >= maxSources * SRC) {
        let lru = 0;
        for (let j = SRC; j < src.length; j += SRC) if ((src[j + SRC_LAST] as number) < (src[lru + SRC_LAST] as number)) lru = j;
        src.splice(lru, SRC);
        s.gone++;
      }
      src.push(ev.ip, ev.userAgent ?? '', country, 1, ev.ts);
    }

    /**
     * How the failures since `from` are spread: distinct addresses, networks, countries and user
     * agents over the sources remembered, and the top sources. With sources forgotten at the
     * cap, `sourcesForgotten` says so and the distinct counts are lower bounds.
     */
    function spread(s: State, from: number): Record<string, unknown> {
      const nets = new Set<string>();
      const countries = new Set<string>();
      const agents = new Set<string>();
      const rows: { ip: string; failures: number; country: string; userAgent: string }[] = [];
      for (let j = 0; j < s.src.length; j += SRC) {
        if ((s.src[j + SRC_LAST] as number) < from) continue;
        const ip = s.src[j + SRC_IP] as string;
        const country = s.src[j + SRC_COUNTRY] as string;
        const ua = s.src[j + SRC_UA] as string;
        nets.add(networkOf(ip));
        if (country !== '') countries.add(country);
        if (ua !== '') agents.add(ua);
        rows.push({ ip, failures: s.src[j + SRC_N] as number, country, userAgent: ua });
      }
      rows.sort((a, b) => b.failures - a.failures || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
      return {
        addresses: rows.length,
        networks: nets.size,
        countries: [...countries].sort(),
        userAgents: agents.size,
        topSources: rows.slice(0, TOP_SOURCES),
        sourcesForgotten: s.gone,
      };
    }

    /** " from 57 addresses in 40 networks and 9 countries" when the guessing is spread, else "". */
    function spreadText(sp: Record<string, unknown>): string {
      const addresses = sp.addresses as number;
      if (addresses < 2) return '';
      const atLeast = (sp.sourcesForgotten as number) > 0 ? 'at least ' : '';
      const countries = (sp.countries as string[]).length;
      return ` from ${atLeast}${humanCount(addresses)} addresses in ${humanCount(sp.networks as number)} networks and ${humanCount(countries)} ${countries === 1 ? 'country' : 'countries'}`;
    }

    function onSuccess(ev: LoginEvent, s: State, emit: Emit): State | undefined {
      const t = ev.ts;
      const dev = ev.deviceId ?? '';
      prune(s, t);
      const { count, first } = shortWindow(s, t);
      if (count >= threshold) {
        // Only a success that follows failures from its own source escalates: it names the
        // attacker's own success, not the owner's login elsewhere in the middle of the burst.
        let own = 0;
        for (let i = 0; i < s.ts.length; i++) {
          if (s.ts[i]! >= t - windowMs && s.ts[i]! <= t && !reset(s, i) && sameSource(ev.ip, dev, s.ip[i]!, s.dev[i]!)) own++;
        }
        if (own > 0) {
          const sp = spread(s, t - windowMs);
          emit({
            detector: 'brute_force',
            severity: 'critical',
            key: ev.accountId,
            summary: `Successful login on account ${ev.accountId} from ${ev.ip} after ${humanCount(count)} failed logins within ${window}, ${humanCount(own)} of them from the same address or device: the password was probably guessed.`,
            evidence: { firedWindow: 'short', failures: count, sourceFailures: own, threshold, window, successIp: ev.ip, successDevice: dev === '' ? null : dev, firstFailureAt: new Date(first).toISOString(), spread: sp },
            eventIds: supporting(s, t - windowMs, t, ev.eventId, false, true),
          });
        }
      }
      // This source is back in its owner's (or the attacker's) hands: its burst starts afresh.
      // The other sources' failures, and the long window, keep counting (see the detector's doc).
      const ok = (s.ok ??= []);
      ok.push(t, ev.ip, dev);
      if (ok.length > MAX_SUCCESSES * OK) ok.splice(0, ok.length - MAX_SUCCESSES * OK);
      prune(s, t);
      return s.ts.length === 0 && s.long === undefined && s.overflow === undefined ? undefined : s;
    }

    function onFailure(ev: LoginEvent, state: State | undefined, ctx: EventContext, emit: Emit): State {
      const t = ev.ts;
      const s: State = state ?? { ts: [], ids: [], ip: [], dev: [], src: [], gone: 0 };
      prune(s, t);
      const at = insertSorted(s.ts, t);
      s.ids.splice(at, 0, ev.eventId);
      s.ip.splice(at, 0, ev.ip);
      s.dev.splice(at, 0, ev.deviceId ?? '');
      // A late failure that a later success from its source already answered judges nothing.
      const answered = reset(s, at);
      if (s.ts.length > cap) {
        const dropped = s.ts[0]!;
        if (dropped >= t - windowMs && !reset(s, 0)) addToBucket((s.overflow ??= emptySeries()), Math.floor(dropped / overflowSliceMs), 1);
        s.ts.shift();
        s.ids.shift();
        s.ip.shift();
        s.dev.shift();
      }
      if (longOn) addToBucket((s.long ??= emptySeries()), Math.floor(t / longSliceMs), 1);
      noteSource(s, ev, ctx.geo?.country ?? '');

      // Judged at the newest failure known: a failure arriving later than the lateness still
      // completes the burst it belongs to (and one outside that burst judges nothing).
      const now = Math.max(t, s.ts[s.ts.length - 1]!);
      const inShort = t >= now - windowMs && !answered;
      const { count, first } = inShort ? shortWindow(s, now) : { count: 0, first: now };
      if (count >= threshold) {
        const sp = spread(s, now - windowMs);
        emit({
          detector: 'brute_force',
          key: ev.accountId,
          summary: `${humanCount(count)} failed logins on account ${ev.accountId} within ${humanDuration(now - first)}${spreadText(sp)} (threshold ${threshold} in ${window}), latest from ${ev.ip}.`,
          evidence: { firedWindow: 'short', failures: count, threshold, window, latestIp: ev.ip, firstFailureAt: new Date(first).toISOString(), spread: sp },
          eventIds: supporting(s, now - windowMs, now, ev.eventId, true, true),
        });
        return s;
      }
      if (s.long !== undefined) {
        const lastSlice = Math.floor(now / longSliceMs);
        const firstSlice = lastSlice - (LONG_SLICES - 1);
        const longCount = Math.floor(t / longSliceMs) >= firstSlice ? sumBuckets(s.long, firstSlice, lastSlice) : 0;
        if (longCount >= longThreshold) {
          const from = firstSlice * longSliceMs;
          // The earliest counted failure: exact when its time is still kept, else the start of its slice.
          let firstAt = from;
          for (let i = 0; i < s.long.idx.length; i++) {
            if (s.long.idx[i]! >= firstSlice) {
              firstAt = s.long.idx[i]! * longSliceMs;
              break;
            }
          }
          const kept = countBefore(s.ts, from);
          if (kept < s.ts.length && s.ts[kept]! < firstAt + longSliceMs) firstAt = s.ts[kept]!;
          const sp = spread(s, from);
          emit({
            detector: 'brute_force',
            key: ev.accountId,
            summary: `${humanCount(longCount)} failed logins on account ${ev.accountId} over the last ${longWindow}${spreadText(sp)} without a burst of ${threshold} in ${window} (slow or spread guessing, threshold ${longThreshold} in ${longWindow}), latest from ${ev.ip}.`,
            evidence: {
              firedWindow: 'long',
              failures: longCount,
              threshold: longThreshold,
              window: longWindow,
              latestIp: ev.ip,
              firstFailureAt: new Date(firstAt).toISOString(),
              spread: sp,
            },
            eventIds: supporting(s, from, now, ev.eventId, true, false),
          });
        }
      }
      return s;
    }

    return {
      id: 'brute_force',
      keyKind: 'account',
      // 3: failures keep their source, successes are kept per source, and failing addresses are tracked.
      stateVersion: 3,
      retentionMs: keepMs,
      consumes: ['login'],
      keyOf: (ev: FraudEvent) => (ev.type === 'login' ? ev.accountId : undefined),
      onEvent(ev, state, ctx, emit) {
        if (ev.type !== 'login') return state;
        if (ev.success) return state === undefined ? undefined : onSuccess(ev, state, emit);
        return onFailure(ev, state, ctx, emit);
      },
    };
  },
});
