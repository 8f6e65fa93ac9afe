import { z } from 'zod';
import { duration, parseDuration } from '../config/duration.js';
import type { FraudEvent, LoginEvent } from '../events/types.js';
import { humanCount, humanDuration } from '../format/human.js';
import { addToBucket, emptySeries, pruneBuckets, sumBuckets, type BucketSeries } from '../windows/buckets.js';
import { countBefore, evictBefore, insertSorted } from '../windows/timeList.js';
import { defineDetector, type Detector, type Emit } from './types.js';

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
});

/** The engine keeps the last 20 event ids of an alert; fewer would starve the alert of context. */
const MIN_KEPT_FAILURES = 20;
/** Resolution of the flood overflow counter: 1/30 of `window` (20 s for 10 min). */
const OVERFLOW_SLICES = 30;
/** Resolution of the long window: 1/24 of it (an hour for 24h). */
const LONG_SLICES = 24;

interface State {
  /**
   * Latest failures, oldest first, as parallel arrays; at most max(threshold, 20) and none older
   * than the longest window. They give exact short-window counts up to the threshold and the
   * alert's event ids.
   */
  ts: number[];
  ids: string[];
  /** Time of the latest success (0: none): the short window counts only failures after it. */
  since: number;
  /**
   * Failures pushed out of `ts` while still inside `window` (a flood), per 1/30 of `window`,
   * so `failures` stays a true count instead of saturating at the list length. At most 31 slices.
   */
  overflow?: BucketSeries;
  /** Failures per 1/24 of `longWindow`, at most 25 slices; absent when the long window is off. */
  long?: BucketSeries;
}

/**
 * brute_force: many failed logins on one account in a short window. A success that follows
 * within the window escalates to critical: the attacker probably got in.
 *
 * The long window catches slow attacks (a few guesses an hour, all day). It is not reset by a
 * success, because an attacker's slow guessing goes on while the owner keeps logging in, and a
 * success after it does not escalate: on an account in daily use the owner's own login is the
 * likelier explanation. Beyond the latest failures kept for event ids, the long window holds
 * only counts per 1/24 slice of it (at most 25 pairs of numbers), not every event.
 *
 * Only failures after the latest success count towards `window`. A failure arriving later than
 * the lateness is judged at the newest failure known, so it completes the burst it belongs to;
 * one older than that burst's window (or than the latest success) judges nothing.
 */
export const bruteForce = defineDetector({
  id: 'brute_force',
  keyKind: 'account',
  defaultSeverity: 'high',
  // A slow brute force keeps finding for as long as its long window (24h): one episode, paged
  // once and again when it escalates to a success, not once per global cooldown.
  defaultCooldown: '24h',
  description: 'N or more failed logins on one account within a window (critical when a success follows), or many over a long window (slow brute force).',
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
    // Evidence echoes durations as configured ("24h", not "1d").
    const window = o.window;
    const longWindow = o.longWindow;

    function prune(s: State, t: number): void {
      evictBefore(t - keepMs, s.ts, s.ids);
      if (s.overflow !== undefined) {
        // A slice counts only when it starts inside the window and after the latest success.
        const from = Math.max(Math.ceil((t - windowMs) / overflowSliceMs), Math.floor(s.since / overflowSliceMs) + 1);
        pruneBuckets(s.overflow, from);
        if (s.overflow.idx.length === 0) s.overflow = undefined;
      }
      if (s.long !== undefined) {
        pruneBuckets(s.long, Math.floor(t / longSliceMs) - (LONG_SLICES - 1));
        if (s.long.idx.length === 0) s.long = undefined;
      }
    }

    /** Failures in the short window ending at `t`, after the latest success; and the first one's time. */
    function shortWindow(s: State, t: number): { count: number; first: number } {
      const cutoff = t - windowMs;
      let count = 0;
      let first = Number.POSITIVE_INFINITY;
      if (s.overflow !== undefined) {
        const { idx, val } = s.overflow;
        for (let i = 0; i < idx.length; i++) {
          const start = idx[i]! * overflowSliceMs;
          if (start < cutoff || start <= s.since || start > t) continue;
          count += val[i]!;
          if (start < first) first = start;
        }
      }
      for (let i = 0; i < s.ts.length; i++) {
        const ts = s.ts[i]!;
        if (ts < cutoff || ts <= s.since || ts > t) continue;
        count++;
        if (ts < first) first = ts;
      }
      return { count, first };
    }

    /** Ids of kept failures in [from, t], oldest first, with the trigger last. */
    function supporting(s: State, from: number, t: number, trigger: string, triggerIsFailure: boolean): string[] {
      const out: string[] = [];
      for (let i = 0; i < s.ts.length; i++) {
        const ts = s.ts[i]!;
        if (ts >= from && ts <= t && s.ids[i] !== trigger) out.push(s.ids[i]!);
      }
      if (triggerIsFailure || out.length > 0) out.push(trigger);
      return out;
    }

    function onSuccess(ev: LoginEvent, s: State, emit: Emit): State | undefined {
      const t = ev.ts;
      prune(s, t);
      const { count, first } = shortWindow(s, t);
      if (count >= threshold) {
        emit({
          detector: 'brute_force',
          severity: 'critical',
          key: ev.accountId,
          summary: `Successful login on account ${ev.accountId} from ${ev.ip} after ${humanCount(count)} failed logins within ${window}: the password was probably guessed.`,
          evidence: { firedWindow: 'short', failures: count, threshold, window, successIp: ev.ip, firstFailureAt: new Date(first).toISOString() },
          eventIds: supporting(s, Math.max(t - windowMs, s.since + 1), t, ev.eventId, false),
        });
      }
      // The account is back in its owner's (or the attacker's) hands: the burst count starts afresh.
      // The long window keeps counting (see the detector's doc).
      if (t > s.since) s.since = t;
      prune(s, t);
      return s.ts.length === 0 && s.long === undefined && s.overflow === undefined ? undefined : s;
    }

    function onFailure(ev: LoginEvent, state: State | undefined, emit: Emit): State {
      const t = ev.ts;
      const s: State = state ?? { ts: [], ids: [], since: 0 };
      prune(s, t);
      const at = insertSorted(s.ts, t);
      s.ids.splice(at, 0, ev.eventId);
      if (s.ts.length > cap) {
        const dropped = s.ts[0]!;
        if (dropped >= t - windowMs && dropped > s.since) addToBucket((s.overflow ??= emptySeries()), Math.floor(dropped / overflowSliceMs), 1);
        s.ts.shift();
        s.ids.shift();
      }
      if (longOn) addToBucket((s.long ??= emptySeries()), Math.floor(t / longSliceMs), 1);

      // Judged at the newest failure known: a failure arriving later than the lateness still
      // completes the burst it belongs to (and one outside that burst judges nothing).
      const now = Math.max(t, s.ts[s.ts.length - 1]!);
      const inShort = t >= now - windowMs && t > s.since;
      const { count, first } = inShort ? shortWindow(s, now) : { count: 0, first: now };
      if (count >= threshold) {
        emit({
          detector: 'brute_force',
          key: ev.accountId,
          summary: `${humanCount(count)} failed logins on account ${ev.accountId} within ${humanDuration(now - first)} (threshold ${threshold} in ${window}), latest from ${ev.ip}.`,
          evidence: { firedWindow: 'short', failures: count, threshold, window, latestIp: ev.ip, firstFailureAt: new Date(first).toISOString() },
          eventIds: supporting(s, Math.max(now - windowMs, s.since + 1), now, ev.eventId, true),
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
          emit({
            detector: 'brute_force',
            key: ev.accountId,
            summary: `${humanCount(longCount)} failed logins on account ${ev.accountId} over the last ${longWindow} without a burst of ${threshold} in ${window} (slow brute force, threshold ${longThreshold} in ${longWindow}), latest from ${ev.ip}.`,
            evidence: {
              firedWindow: 'long',
              failures: longCount,
              threshold: longThreshold,
              window: longWindow,
              latestIp: ev.ip,
              firstFailureAt: new Date(firstAt).toISOString(),
            },
            eventIds: supporting(s, from, now, ev.eventId, true),
          });
        }
      }
      return s;
    }

    return {
      id: 'brute_force',
      keyKind: 'account',
      stateVersion: 2,
      retentionMs: keepMs,
      keyOf: (ev: FraudEvent) => (ev.type === 'login' ? ev.accountId : undefined),
      onEvent(ev, state, _ctx, emit) {
        if (ev.type !== 'login') return state;
        if (ev.success) return state === undefined ? undefined : onSuccess(ev, state, emit);
        return onFailure(ev, state, emit);
      },
    };
  },
});
