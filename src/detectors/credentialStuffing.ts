import { z } from 'zod';
import { duration, parseDuration } from '../config/duration.js';
import type { FraudEvent, LoginEvent } from '../events/types.js';
import { humanCount, humanPercent } from '../format/human.js';
import { networkPrefix } from '../geo/distance.js';
import { round } from '../windows/baseline.js';
import { insertSorted } from '../windows/timeList.js';
import { defineDetector, type Detector, type Emit } from './types.js';

const options = z.strictObject({
  /** Distinct accounts with a failed login from one address within `window` that raise an alert. Default 20. */
  minAccounts: z.number().int().min(2).max(1000).default(20),
  /** Failed share of that address's login attempts within `window` needed to alert (a NAT's successes dilute it). Default 0.8. */
  minFailureRatio: z.number().gt(0).max(1).default(0.8),
  /** The sliding window, for addresses and networks alike. Default 10m. */
  window: duration('1m', '1h').default('10m'),
  /** Also aggregate by network prefix, for attacks spread over many addresses of one network. Default true. */
  prefixAggregation: z.boolean().default(true),
  /** IPv4 network prefix length for aggregation. Default 24. */
  prefixV4: z.number().int().min(8).max(32).default(24),
  /** IPv6 network prefix length for aggregation. Default 48. */
  prefixV6: z.number().int().min(16).max(128).default(48),
  /** Distinct failed accounts, from addresses each below `minAccounts`, that raise a network alert. Default 30. */
  prefixMinAccounts: z.number().int().min(2).max(1000).default(30),
  /** Distinct failing addresses (each below `minAccounts`) a network alert needs. Default 5. */
  prefixMinAddresses: z.number().int().min(2).max(256).default(5),
  /** Failed share of the network's login attempts within `window` needed for a network alert. Default 0.8. */
  prefixMinFailureRatio: z.number().gt(0).max(1).default(0.8),
});

/** Attempts are counted in 1/20 slices of the window (30 s for 10 min). */
const SLICES = 20;
/** Accounts remembered per address or network: enough to judge, bounded under a long attack. */
const MIN_ACCOUNT_CAP = 256;
/** Failing addresses remembered per network: a whole IPv4 /24. */
const ADDRESS_CAP = 256;
/** Event ids kept for an alert (the engine keeps 20). */
const ID_CAP = 20;
/** Account ids (and addresses) shown in evidence. */
const SAMPLE = 10;
const ADDRESSES_SHOWN = 20;

/**
 * The state of one address or one network. Every address seen in the last window has one, so
 * an address with only successful logins costs a single small array; the rest appears with the
 * first failure.
 */
interface State {
  /** Flat [slice, attempts, failures, ...] triples, oldest first; at most 21 slices. */
  slices: number[];
  /** Accounts with a failure in the window, ordered by their latest failure; at most max(256, thresholds). */
  accounts?: string[];
  accountTs?: number[];
  /** Network keys: the address of each account's latest failure (the account is attributed to it). */
  accountIp?: string[];
  /** Latest failure event ids (network keys: from addresses below `minAccounts`), oldest first; at most 20. */
  ids?: string[];
  idTs?: number[];
  /** Network keys: failing addresses by latest failure, with the number of accounts attributed to each; at most 256. */
  ips?: string[];
  ipTs?: number[];
  ipAccounts?: number[];
}

/**
 * Counts an attempt in its slice; returns the slices (a new array when the slice is new). A new
 * slice makes a new array of exact size: one spliced in keeps room for ~17 more numbers, and
 * every address seen in the window holds this array.
 */
function addSlice(slices: number[], slice: number, failed: boolean): number[] {
  let i = slices.length - 3;
  while (i >= 0 && slices[i]! > slice) i -= 3;
  if (i >= 0 && slices[i] === slice) {
    slices[i + 1]!++;
    if (failed) slices[i + 2]!++;
    return slices;
  }
  const added = [slice, 1, failed ? 1 : 0];
  return i + 3 === slices.length ? slices.concat(added) : slices.slice(0, i + 3).concat(added, slices.slice(i + 3));
}

function pruneSlices(slices: number[], minSlice: number): void {
  let n = 0;
  while (n < slices.length && slices[n]! < minSlice) n += 3;
  if (n > 0) slices.splice(0, n);
}

/** Moves (or adds) `value` to its place in a list ordered by latest time; a late (older) time changes nothing. */
function touch(list: string[], times: number[], value: string, t: number): void {
  const old = list.lastIndexOf(value);
  if (old !== -1) {
    if (times[old]! >= t) return;
    list.splice(old, 1);
    times.splice(old, 1);
  }
  const at = insertSorted(times, t);
  list.splice(at, 0, value);
}

/**
 * credential_stuffing: one address (or one network) failing logins against many accounts.
 *
 * Address level: `minAccounts` distinct failed accounts within `window` and a failure ratio of
 * at least `minFailureRatio` over the address's attempts. The ratio is what keeps a campus NAT
 * or carrier gateway quiet: hundreds of successes next to a few dozen typos.
 *
 * Network level (`prefixAggregation`): the same judgement over a /24 (IPv4) or /48 (IPv6) by default, for
 * bots spread over many addresses, each below the address threshold. Each failed account is
 * attributed to the address of its latest failure. An address with `minAccounts` or more
 * attributed accounts is judged at the address level (it alerts there when its ratio is high,
 * and is a NAT when not), so its accounts are left out of the network count and its events do
 * not trigger a network alert: a network alert always means the part of an attack that no
 * address alert covers. The network's attempts and ratio still include every address, so a
 * large NAT's successes in the same network also dilute a spread attack there (a documented
 * blind spot, preferred to false alarms on campus networks).
 *
 * Attempts and failures are counted in 1/20 slices of the window, so they cover the window and
 * at most one slice more; distinct accounts are exact (each has its latest failure time).
 */
export const credentialStuffing = defineDetector({
  id: 'credential_stuffing',
  keyKind: 'ip',
  defaultSeverity: 'high',
  description:
    'One address (or, spread over many addresses, one network prefix) failing logins against many distinct accounts with a high failure ratio.',
  options,
  create(o): Detector<State> {
    const windowMs = parseDuration(o.window);
    const window = o.window;
    const sliceMs = windowMs / SLICES;
    const accountCap = Math.max(MIN_ACCOUNT_CAP, o.minAccounts, o.prefixMinAccounts);
    const v4Bits = o.prefixV4;
    const v6Bits = o.prefixV6;
    const v4Octets = v4Bits % 8 === 0 ? v4Bits / 8 : -1;
    const v4Suffix = v4Octets > 0 ? `${'.0'.repeat(4 - v4Octets)}/${v4Bits}` : '';
    /** Reused for every event: the engine scores each key in turn before the next event. */
    const keys: [string, string] = ['', ''];

    function prefixOf(ip: string): string {
      // Fast path for dotted IPv4 on an octet boundary: string slicing, no parse.
      if (v4Octets > 0 && ip.indexOf(':') === -1) {
        let end = -1;
        for (let i = 0; i < v4Octets; i++) end = ip.indexOf('.', end + 1);
        return (v4Octets === 4 ? ip : ip.slice(0, end)) + v4Suffix;
      }
      return networkPrefix(ip, v4Bits, v6Bits);
    }

    /** Drops what has left the window; returns the state, back to its one-array form when no failure is left. */
    function prune(s: State, t: number): State {
      pruneSlices(s.slices, Math.floor((t - windowMs) / sliceMs));
      const accounts = s.accounts;
      if (accounts === undefined) return s;
      const cutoff = t - windowMs;
      const accountTs = s.accountTs!;
      let n = 0;
      while (n < accounts.length && accountTs[n]! < cutoff) n++;
      dropAccounts(s, n);
      const ids = s.ids!;
      const idTs = s.idTs!;
      n = 0;
      while (n < ids.length && idTs[n]! < cutoff) n++;
      if (n > 0) {
        ids.splice(0, n);
        idTs.splice(0, n);
      }
      if (s.ips !== undefined) {
        n = 0;
        while (n < s.ips.length && s.ipTs![n]! < cutoff) n++;
        if (n > 0) {
          s.ips.splice(0, n);
          s.ipTs!.splice(0, n);
          s.ipAccounts!.splice(0, n);
        }
      }
      return accounts.length === 0 && ids.length === 0 ? { slices: s.slices } : s;
    }

    /** Drops the `n` oldest accounts, un-attributing them from their addresses (network keys). */
    function dropAccounts(s: State, n: number): void {
      if (n <= 0) return;
      if (s.accountIp !== undefined) {
        for (let i = 0; i < n; i++) {
          const j = s.ips!.lastIndexOf(s.accountIp[i]!);
          if (j !== -1) s.ipAccounts![j]!--;
        }
        s.accountIp.splice(0, n);
      }
      s.accounts!.splice(0, n);
      s.accountTs!.splice(0, n);
    }

    /** Records a failure; returns whether the failing address is judged at the address level (network keys). */
    function recordFailure(s: State, ev: LoginEvent, network: boolean): boolean {
      const t = ev.ts;
      const accounts = (s.accounts ??= []);
      const accountTs = (s.accountTs ??= []);
      const ids = (s.ids ??= []);
      const idTs = (s.idTs ??= []);
      if (!network) {
        touch(accounts, accountTs, ev.accountId, t);
        if (accounts.length > accountCap) dropAccounts(s, accounts.length - accountCap);
        pushId(ids, idTs, ev.eventId, t);
        return false;
      }
      const accountIp = (s.accountIp ??= []);
      const ips = (s.ips ??= []);
      const ipTs = (s.ipTs ??= []);
      const ipAccounts = (s.ipAccounts ??= []);

      // The address, at its place by latest failure, keeping the accounts attributed to it.
      const j = ips.lastIndexOf(ev.ip);
      if (j === -1 || ipTs[j]! < t) {
        const attributed = j === -1 ? 0 : ipAccounts[j]!;
        if (j !== -1) {
          ips.splice(j, 1);
          ipTs.splice(j, 1);
          ipAccounts.splice(j, 1);
        }
        const at = insertSorted(ipTs, t);
        ips.splice(at, 0, ev.ip);
        ipAccounts.splice(at, 0, attributed);
      }
      // The account, attributed to the address of its latest failure. A late failure (older than
      // the account's latest) changes nothing.
      const known = accounts.lastIndexOf(ev.accountId);
      if (known === -1 || accountTs[known]! <= t) {
        const previousIp = known === -1 ? undefined : accountIp[known]!;
        if (known !== -1) {
          accounts.splice(known, 1);
          accountTs.splice(known, 1);
          accountIp.splice(known, 1);
        }
        const at = insertSorted(accountTs, t);
        accounts.splice(at, 0, ev.accountId);
        accountIp.splice(at, 0, ev.ip);
        if (previousIp !== ev.ip) {
          ipAccounts[ips.lastIndexOf(ev.ip)]!++;
          const p = previousIp === undefined ? -1 : ips.lastIndexOf(previousIp);
          if (p !== -1) ipAccounts[p]!--;
        }
      }
      if (accounts.length > accountCap) dropAccounts(s, accounts.length - accountCap);
      if (ips.length > ADDRESS_CAP) {
        // Accounts of a forgotten address stay counted, as spread (no address to judge them by).
        const n = ips.length - ADDRESS_CAP;
        ips.splice(0, n);
        ipTs.splice(0, n);
        ipAccounts.splice(0, n);
      }
      const own = ipAccounts[ips.lastIndexOf(ev.ip)]! >= o.minAccounts;
      if (!own) pushId(ids, idTs, ev.eventId, t);
      return own;
    }

    function pushId(ids: string[], idTs: number[], id: string, t: number): void {
      const at = insertSorted(idTs, t);
      ids.splice(at, 0, id);
      if (ids.length > ID_CAP) {
        ids.shift();
        idTs.shift();
      }
    }

    /**
     * The newest failure known: a failure arriving later than the lateness is judged with the
     * accounts and attempts around it, not in a window that ends before them.
     */
    function judgedAt(s: State, t: number): number {
      const accountTs = s.accountTs!;
      return Math.max(t, accountTs[accountTs.length - 1]!);
    }

    /** A failure older than the window of the newest one is history: it judges nothing. */
    function isHistory(s: State, t: number): boolean {
      return t < judgedAt(s, t) - windowMs;
    }

    /** Attempts and failures in the slices covering the window that ends at `t`. */
    function counts(s: State, t: number): { attempts: number; failures: number } {
      const last = Math.floor(t / sliceMs);
      const first = Math.floor((t - windowMs) / sliceMs);
      let attempts = 0;
      let failures = 0;
      const sl = s.slices;
      for (let i = 0; i < sl.length; i += 3) {
        if (sl[i]! < first || sl[i]! > last) continue;
        attempts += sl[i + 1]!;
        failures += sl[i + 2]!;
      }
      return { attempts, failures };
    }

    function eventIds(s: State, trigger: string): string[] {
      const out: string[] = [];
      for (const id of s.ids ?? []) if (id !== trigger) out.push(id);
      out.push(trigger);
      return out;
    }

    function judgeAddress(s: State, ev: LoginEvent, key: string, emit: Emit): void {
      const accounts = s.accounts!;
      if (accounts.length < o.minAccounts) return;
      const { attempts, failures } = counts(s, judgedAt(s, ev.ts));
      const ratio = attempts === 0 ? 0 : failures / attempts;
      if (ratio < o.minFailureRatio) return;
      emit({
        detector: 'credential_stuffing',
        key,
        summary: `Address ${key} failed logins against ${accounts.length >= accountCap ? 'at least ' : ''}${humanCount(accounts.length)} distinct accounts within ${window} (${humanCount(failures)} of ${humanCount(attempts)} attempts failed, ${humanPercent(ratio)}; threshold ${o.minAccounts} accounts at ${humanPercent(o.minFailureRatio)}).`,
        evidence: {
          scope: 'address',
          distinctAccounts: accounts.length,
          // At the cap the list forgets its oldest accounts: the true number is at least this.
          distinctAccountsCapped: accounts.length >= accountCap,
          attempts,
          failures,
          failureRatio: round(ratio, 2),
          sampleAccounts: accounts.slice(-SAMPLE),
          minAccounts: o.minAccounts,
          minFailureRatio: o.minFailureRatio,
          window,
        },
        eventIds: eventIds(s, ev.eventId),
      });
    }

    function judgeNetwork(s: State, ev: LoginEvent, key: string, emit: Emit): void {
      const accounts = s.accounts!;
      if (accounts.length < o.prefixMinAccounts) return;
      const ips = s.ips!;
      const ipAccounts = s.ipAccounts!;
      let ownAccounts = 0;
      let spreadAddresses = 0;
      for (let j = 0; j < ips.length; j++) {
        const n = ipAccounts[j]!;
        if (n >= o.minAccounts) ownAccounts += n;
        else if (n > 0) spreadAddresses++;
      }
      const spreadAccounts = accounts.length - ownAccounts;
      if (spreadAccounts < o.prefixMinAccounts || spreadAddresses < o.prefixMinAddresses) return;
      const { attempts, failures } = counts(s, judgedAt(s, ev.ts));
      const ratio = attempts === 0 ? 0 : failures / attempts;
      if (ratio < o.prefixMinFailureRatio) return;

      const addresses: string[] = [];
      const judgedAlone: string[] = [];
      for (let j = ips.length - 1; j >= 0; j--) {
        const n = ipAccounts[j]!;
        if (n >= o.minAccounts) {
          if (judgedAlone.length < SAMPLE) judgedAlone.unshift(ips[j]!);
        } else if (n > 0 && addresses.length < ADDRESSES_SHOWN) addresses.unshift(ips[j]!);
      }
      const sampleAccounts: string[] = [];
      for (let i = accounts.length - 1; i >= 0 && sampleAccounts.length < SAMPLE; i--) {
        const j = ips.lastIndexOf(s.accountIp![i]!);
        if (j === -1 || ipAccounts[j]! < o.minAccounts) sampleAccounts.unshift(accounts[i]!);
      }
      emit({
        detector: 'credential_stuffing',
        key,
        summary: `Network ${key}: ${humanCount(spreadAddresses)} addresses, each below ${o.minAccounts} accounts, failed logins against ${humanCount(spreadAccounts)} distinct accounts within ${window} (${humanCount(failures)} of ${humanCount(attempts)} attempts in the network failed, ${humanPercent(ratio)}).`,
        evidence: {
          scope: 'network',
          prefix: key,
          distinctAccounts: spreadAccounts,
          distinctAccountsCapped: accounts.length >= accountCap,
          addressCount: spreadAddresses,
          addresses,
          attempts,
          failures,
          failureRatio: round(ratio, 2),
          sampleAccounts,
          addressesJudgedAlone: judgedAlone,
          minAccounts: o.prefixMinAccounts,
          minAddresses: o.prefixMinAddresses,
          minFailureRatio: o.prefixMinFailureRatio,
          window,
        },
        eventIds: eventIds(s, ev.eventId),
      });
    }

    return {
      id: 'credential_stuffing',
      keyKind: 'ip',
      stateVersion: 1,
      retentionMs: windowMs,
      consumes: ['login'],
      keyOf(ev: FraudEvent) {
        if (ev.type !== 'login') return undefined;
        if (!o.prefixAggregation) return ev.ip;
        keys[0] = ev.ip;
        keys[1] = prefixOf(ev.ip);
        return keys;
      },
      onEvent(ev, state, _ctx, emit, key) {
        if (ev.type !== 'login') return state;
        const network = key !== ev.ip;
        const s = state === undefined ? { slices: [] } : prune(state, ev.ts);
        s.slices = addSlice(s.slices, Math.floor(ev.ts / sliceMs), !ev.success);
        if (!ev.success) {
          const own = recordFailure(s, ev, network);
          if (isHistory(s, ev.ts)) return s;
          if (!network) judgeAddress(s, ev, key, emit);
          else if (!own) judgeNetwork(s, ev, key, emit);
        }
        return s;
      },
    };
  },
});
