import { z } from 'zod';
import { duration, parseDuration } from '../config/duration.js';
import type { FraudEvent, LoginEvent } from '../events/types.js';
import { humanCount, humanNumber } from '../format/human.js';
import { robustScore, round, shrinkToPrior } from '../windows/baseline.js';
import { addPair, dropPairsBefore, sumPairs } from '../windows/buckets.js';
import { defineDetector, type Detector, type Emit } from './types.js';

const options = z.strictObject({
  /** The window whose login attempts (successes and failures) are judged; the baseline counts attempts per window-long bucket. Default 1h. */
  window: duration('15m', '6h').default('1h'),
  /** Attempts within `window` below which the account is never judged. Default 12. */
  minCount: z.number().int().min(1).max(10_000).default(12),
  /** Robust z-score (median/MAD) of the window's attempts at or above which it alerts. Default 5. */
  zThreshold: z.number().min(1).max(100).default(5),
  /** Smallest spread the z-score divides by, so a flat history does not give an infinite score. Default 2 (attempts). */
  minScale: z.number().min(0.1).max(10_000).default(2),
  /** How far back the account's own history goes. Default 7d. */
  baseline: duration('1d', '14d').default('7d'),
  /**
   * How long an account must have been seen before it is judged against its own history alone
   * (learning period). Until then its attempts are judged against its own active windows shrunk
   * toward the population prior (priorMedian, priorSpread, priorWeight), and its failures are
   * not judged; with priorWeight 0 it is not judged at all. Default 3d.
   */
  minHistory: duration('0s', '14d').default('3d'),
  /** The population's typical attempts per active window: what a young account's baseline is shrunk toward. Default 1. */
  priorMedian: z.number().min(0).max(10_000).default(1),
  /** How widely accounts' typical attempts differ: the prior's spread. Default 2 (attempts). */
  priorSpread: z.number().min(0.1).max(10_000).default(2),
  /**
   * What the prior is worth, in active windows of the account's own: with n of them the baseline
   * is (priorWeight × prior + n × own) / (priorWeight + n), for the median and the spread alike.
   * 0 turns priors off: a young account is not judged until minHistory. Default 2.
   */
  priorWeight: z.number().min(0).max(1000).default(2),
  /** Also judge failed logins against the account's own failure history (slow brute force). Default true. */
  failureBaselineEnabled: z.boolean().default(true),
  /** The window whose failed logins are judged; counted in 1/24 slices of it. Default 24h. */
  failureWindow: duration('1h', '7d').default('24h'),
  /** Failed logins within `failureWindow` below which failures are never judged. Default 15. */
  minFailures: z.number().int().min(1).max(10_000).default(15),
  /** Robust z-score of the window's failures against the account's earlier failureWindow-long blocks at or above which it alerts. Default 5. */
  failureZThreshold: z.number().min(1).max(100).default(5),
  /** Smallest spread the failure z-score divides by. Default 2 (failures). */
  failureMinScale: z.number().min(0.1).max(10_000).default(2),
});

/** The judged window is counted in 1/12 slices (5 min for 1h). */
const RECENT_SLICES = 12;
/** The failure window is counted in 1/24 slices (1h for 24h). */
const FAILURE_SLICES = 24;

/*
 * The state is one flat number array of exact size (updated in place; copied when a login adds or
 * drops a pair):
 *
 *   [since, nb, bucket, attempts, … (nb pairs), nr, slice, attempts, … (nr pairs), slice, failures, …]
 *
 * - since: first event time (ms); the account is judged once it is `minHistory` old.
 * - attempts per window-long bucket (sparse, only active ones, ascending) over `baseline`: at
 *   most baseline/window + 2 pairs.
 * - attempts per 1/12 of `window` over the last window: at most 13 pairs.
 * - to the end of the array, failures per 1/24 of `failureWindow` over `baseline` +
 *   `failureWindow` (sparse; at most 24 × (blocks + 1) pairs, in practice a handful, usually none).
 *
 * Every account that logged in within the baseline (a week) holds this, so it is kept to one
 * array: a wrapper object, two bucket series of two arrays each and the arrays' growth room cost
 * ~670 B for an account with a single login, this array 104 B.
 */
type State = number[];

const SINCE = 0;
const BUCKET_COUNT = 1;
/** Index of the first bucket pair. */
const BUCKETS = 2;

/**
 * login_rate_anomaly: an account logging in far more than it usually does.
 *
 * Attempts in the last `window` are scored with a robust z-score (median/MAD) against the
 * account's own active windows over `baseline` (windows with at least one attempt). Active
 * windows, not every window: a shared family account that logs in 15 times an hour every
 * evening and never at night has a typical active hour of 15, not a median hour of 0, so its
 * evenings stay quiet while 40 attempts in an hour stand out on it as on a quiet account.
 *
 * With `failureBaselineEnabled`, failed logins over `failureWindow` (24h) are scored against the
 * account's failures in the preceding failureWindow-long blocks of `baseline` (7 days),
 * zeros included: a user who mistypes twice a week has a baseline of 0 and stays below
 * `minFailures`; steady guessing of a few passwords an hour does not.
 *
 * Young accounts (seen for less than `minHistory`) are judged early against their own few active
 * windows shrunk toward a population prior (empirical Bayes: priorMedian, priorSpread,
 * priorWeight), so 30 attempts in an hour on a day-old account stand out; their failures wait
 * for minHistory. An account idle for a whole `baseline` is learnt afresh. Alerts carry only the triggering event id: the detector keeps counts, not
 * events, because its state exists for every account active in the baseline period.
 */
export const loginRateAnomaly = defineDetector({
  id: 'login_rate_anomaly',
  keyKind: 'account',
  defaultSeverity: 'medium',
  description: "An account's login attempts (or failures) in a window far above its own baseline (robust z-score).",
  // A slow attack stays above the account's baseline for most of a day, with findings hours
  // apart: a six-hour gap keeps it one episode.
  defaultCooldown: '6h',
  options,
  create(o): Detector<State> {
    const windowMs = parseDuration(o.window);
    // Evidence echoes durations as configured ("24h", not "1d").
    const window = o.window;
    const sliceMs = windowMs / RECENT_SLICES;
    const baselineMs = parseDuration(o.baseline);
    const baseline = o.baseline;
    const baselineBuckets = Math.ceil(baselineMs / windowMs);
    const minHistoryMs = parseDuration(o.minHistory);
    const failuresOn = o.failureBaselineEnabled;
    const failureWindowMs = parseDuration(o.failureWindow);
    const failureWindow = o.failureWindow;
    const failureSliceMs = failureWindowMs / FAILURE_SLICES;
    // A failureWindow longer than half the baseline still gets one block to compare against.
    const failureBlocks = Math.max(1, Math.floor(baselineMs / failureWindowMs));
    const retentionMs = Math.max(baselineMs + windowMs, failuresOn ? (failureBlocks + 1) * failureWindowMs : 0);

    /*
     * The sections of a state are ranges: buckets [BUCKETS, bEnd), recent slices [bEnd + 1, rEnd)
     * (s[bEnd] is their count), failure slices [rEnd, s.length).
     */

    const prior = { median: o.priorMedian, scale: o.priorSpread, weight: o.priorWeight };

    function judgeAttempts(ev: LoginEvent, s: State, bEnd: number, rEnd: number, emit: Emit, young: boolean): boolean {
      // Judged at the newest attempt known: a late attempt still completes the burst it belongs to.
      const lastSlice = Math.max(Math.floor(ev.ts / sliceMs), s[rEnd - 2]!);
      const firstSlice = lastSlice - (RECENT_SLICES - 1);
      if (Math.floor(ev.ts / sliceMs) < firstSlice) return false; // a late event of earlier history
      const attempts = sumPairs(s, firstSlice, lastSlice, bEnd + 1, rEnd);
      if (attempts < o.minCount) return false;
      // The baseline stops short of the buckets the judged window overlaps, so a burst is not
      // part of its own baseline.
      const windowStartBucket = Math.floor((firstSlice * sliceMs) / windowMs);
      const fromBucket = Math.floor((lastSlice * sliceMs) / windowMs) - baselineBuckets;
      const history: number[] = [];
      for (let i = BUCKETS; i < bEnd; i += 2) if (s[i]! >= fromBucket && s[i]! < windowStartBucket) history.push(s[i + 1]!);
      // No active window before this one in the baseline: nothing to compare with. A young
      // account needs one too (its first hour may be a new household signing in on every
      // screen); from then on it is compared with the population (the prior) as much as with itself.
      if (history.length === 0) return false;
      const score = shrinkToPrior(robustScore(history, attempts, o.minScale), history.length, attempts, young ? prior : undefined);
      if (score.z < o.zThreshold) return false;
      const youngText = score.priorShare > 0 ? `, shrunk toward the population's ${humanNumber(prior.median)} for an account seen for under ${o.minHistory}` : '';
      emit({
        detector: 'login_rate_anomaly',
        key: ev.accountId,
        summary: `Account ${ev.accountId} made ${humanCount(attempts)} login attempts in the last ${window}, against a usual ${humanNumber(score.median)} per active ${window} over ${baseline}${youngText} (robust z ${humanNumber(score.z)}, threshold ${o.zThreshold}).`,
        evidence: {
          judged: 'attempts',
          attempts,
          window,
          baselineMedian: round(score.median),
          baselineMad: round(score.mad),
          z: round(score.z),
          activeWindows: history.length,
          baseline,
          minCount: o.minCount,
          zThreshold: o.zThreshold,
          latestIp: ev.ip,
          ...(score.priorShare > 0 ? { ownMedian: round(score.ownMedian), priorShare: round(score.priorShare, 2) } : {}),
        },
        eventIds: [ev.eventId],
      });
      return true;
    }

    function judgeFailures(ev: LoginEvent, s: State, rEnd: number, emit: Emit): void {
      const lastSlice = Math.max(Math.floor(ev.ts / failureSliceMs), s[s.length - 2]!);
      if (Math.floor(ev.ts / failureSliceMs) < lastSlice - (FAILURE_SLICES - 1)) return; // earlier history
      const current = sumPairs(s, lastSlice - (FAILURE_SLICES - 1), lastSlice, rEnd);
      if (current < o.minFailures) return;
      // Blocks aligned on the judged window, zeros included: for failures, no failure is the norm.
      const blocks = new Array<number>(failureBlocks);
      for (let k = 1; k <= failureBlocks; k++) {
        const end = lastSlice - k * FAILURE_SLICES;
        blocks[k - 1] = sumPairs(s, end - (FAILURE_SLICES - 1), end, rEnd);
      }
      const score = robustScore(blocks, current, o.failureMinScale);
      if (score.z < o.failureZThreshold) return;
      emit({
        detector: 'login_rate_anomaly',
        key: ev.accountId,
        summary: `Account ${ev.accountId} had ${humanCount(current)} failed logins in the last ${failureWindow}, against a usual ${humanNumber(score.median)} per ${failureWindow} over the preceding ${baseline} (robust z ${humanNumber(score.z)}, threshold ${o.failureZThreshold}).`,
        evidence: {
          judged: 'failures',
          failures: current,
          window: failureWindow,
          baselineMedian: round(score.median),
          baselineMad: round(score.mad),
          z: round(score.z),
          baselineBlocks: failureBlocks,
          minFailures: o.minFailures,
          zThreshold: o.failureZThreshold,
          latestIp: ev.ip,
        },
        eventIds: [ev.eventId],
      });
    }

    return {
      id: 'login_rate_anomaly',
      keyKind: 'account',
      stateVersion: 2,
      retentionMs,
      consumes: ['login'],
      keyOf: (ev: FraudEvent) => (ev.type === 'login' ? ev.accountId : undefined),
      onEvent(ev, state, _ctx, emit) {
        if (ev.type !== 'login') return state;
        const t = ev.ts;
        const bucket = Math.floor(t / windowMs);
        const slice = Math.floor(t / sliceMs);
        const s: State = state ?? [t, 0, 0];
        const size = s.length;

        let bEnd = BUCKETS + 2 * s[BUCKET_COUNT]!;
        bEnd += dropPairsBefore(s, bucket - baselineBuckets - 1, BUCKETS, bEnd);
        // Idle for the whole baseline: nothing left to compare with, learn the account afresh.
        if (bEnd === BUCKETS) s[SINCE] = t;
        else if (t < s[SINCE]!) s[SINCE] = t;
        bEnd += addPair(s, bucket, 1, BUCKETS, bEnd);
        s[BUCKET_COUNT] = (bEnd - BUCKETS) / 2;

        let rEnd = bEnd + 1 + 2 * s[bEnd]!;
        rEnd += dropPairsBefore(s, slice - (RECENT_SLICES - 1), bEnd + 1, rEnd);
        rEnd += addPair(s, slice, 1, bEnd + 1, rEnd);
        s[bEnd] = (rEnd - bEnd - 1) / 2;

        const failureSlice = Math.floor(t / failureSliceMs);
        dropPairsBefore(s, failureSlice - (failureBlocks + 1) * FAILURE_SLICES + 1, rEnd);
        if (failuresOn && !ev.success) addPair(s, failureSlice, 1, rEnd);

        // Splicing leaves growth room: an array that changed size is kept as an exact copy.
        const next = state !== undefined && s.length === size ? s : s.slice();
        const young = t - next[SINCE]! < minHistoryMs;
        if (young && o.priorWeight === 0) return next;
        if (judgeAttempts(ev, next, bEnd, rEnd, emit, young)) return next;
        if (young) return next;
        if (next.length > rEnd && !ev.success) judgeFailures(ev, next, rEnd, emit);
        return next;
      },
    };
  },
});
