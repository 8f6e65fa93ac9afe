import { z } from 'zod';
import { duration, parseDuration } from '../config/duration.js';
import type { FraudEvent, LoginEvent } from '../events/types.js';
import { robustScore, round } from '../windows/baseline.js';
import { addToBucket, emptySeries, pruneBuckets, sumBuckets, type BucketSeries } from '../windows/buckets.js';
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
  /** How long an account must have been seen before it is judged (learning period). Default 3d. */
  minHistory: duration('0s', '14d').default('3d'),
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

interface State {
  /** First event time: the account is judged once it is `minHistory` old. */
  since: number;
  /** Attempts per window-long bucket (sparse, only active ones) over `baseline`: at most baseline/window + 2 buckets. */
  buckets: BucketSeries;
  /** Attempts per 1/12 of `window` over the last window, flat [slice, count, ...]: at most 13 pairs. */
  recent: number[];
  /**
   * Failures per 1/24 of `failureWindow` over `baseline` + `failureWindow` (sparse; at most
   * 24 × (blocks + 1) slices, in practice a handful). Absent until the account's first failure.
   */
  failures?: BucketSeries;
}

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
 * New accounts are not judged until `minHistory`, and an account idle for a whole `baseline` is
 * learnt afresh. Alerts carry only the triggering event id: the detector keeps counts, not
 * events, because its state exists for every account active in the baseline period.
 */
export const loginRateAnomaly = defineDetector({
  id: 'login_rate_anomaly',
  keyKind: 'account',
  defaultSeverity: 'medium',
  description: "An account's login attempts (or failures) in a window far above its own baseline (robust z-score).",
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

    function judgeAttempts(ev: LoginEvent, s: State, emit: Emit): boolean {
      const r = s.recent;
      // Judged at the newest attempt known: a late attempt still completes the burst it belongs to.
      const lastSlice = Math.max(Math.floor(ev.ts / sliceMs), r[r.length - 2]!);
      const firstSlice = lastSlice - (RECENT_SLICES - 1);
      if (Math.floor(ev.ts / sliceMs) < firstSlice) return false; // a late event of earlier history
      let attempts = 0;
      for (let i = 0; i < r.length; i += 2) if (r[i]! >= firstSlice && r[i]! <= lastSlice) attempts += r[i + 1]!;
      if (attempts < o.minCount) return false;
      // The baseline stops short of the buckets the judged window overlaps, so a burst is not
      // part of its own baseline.
      const windowStartBucket = Math.floor((firstSlice * sliceMs) / windowMs);
      const fromBucket = Math.floor((lastSlice * sliceMs) / windowMs) - baselineBuckets;
      const history: number[] = [];
      const { idx, val } = s.buckets;
      for (let i = 0; i < idx.length; i++) if (idx[i]! >= fromBucket && idx[i]! < windowStartBucket) history.push(val[i]!);
      // No active window before this one in the baseline: nothing to compare with.
      if (history.length === 0) return false;
      const score = robustScore(history, attempts, o.minScale);
      if (score.z < o.zThreshold) return false;
      emit({
        detector: 'login_rate_anomaly',
        key: ev.accountId,
        summary: `Account ${ev.accountId} made ${attempts} login attempts in the last ${window}, against a usual ${round(score.median)} per active ${window} over ${baseline} (robust z ${round(score.z)}, threshold ${o.zThreshold}).`,
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
        },
        eventIds: [ev.eventId],
      });
      return true;
    }

    function judgeFailures(ev: LoginEvent, failures: BucketSeries, emit: Emit): void {
      const lastSlice = Math.max(Math.floor(ev.ts / failureSliceMs), failures.idx[failures.idx.length - 1]!);
      if (Math.floor(ev.ts / failureSliceMs) < lastSlice - (FAILURE_SLICES - 1)) return; // earlier history
      const current = sumBuckets(failures, lastSlice - (FAILURE_SLICES - 1), lastSlice);
      if (current < o.minFailures) return;
      // Blocks aligned on the judged window, zeros included: for failures, no failure is the norm.
      const blocks = new Array<number>(failureBlocks);
      for (let k = 1; k <= failureBlocks; k++) {
        const end = lastSlice - k * FAILURE_SLICES;
        blocks[k - 1] = sumBuckets(failures, end - (FAILURE_SLICES - 1), end);
      }
      const score = robustScore(blocks, current, o.failureMinScale);
      if (score.z < o.failureZThreshold) return;
      emit({
        detector: 'login_rate_anomaly',
        key: ev.accountId,
        summary: `Account ${ev.accountId} had ${current} failed logins in the last ${failureWindow}, against a usual ${round(score.median)} per ${failureWindow} over the preceding ${baseline} (robust z ${round(score.z)}, threshold ${o.failureZThreshold}).`,
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
      stateVersion: 1,
      retentionMs,
      keyOf: (ev: FraudEvent) => (ev.type === 'login' ? ev.accountId : undefined),
      onEvent(ev, state, _ctx, emit) {
        if (ev.type !== 'login') return state;
        const t = ev.ts;
        const bucket = Math.floor(t / windowMs);
        const slice = Math.floor(t / sliceMs);
        const s: State = state ?? { since: t, buckets: emptySeries(), recent: [] };

        pruneBuckets(s.buckets, bucket - baselineBuckets - 1);
        // Idle for the whole baseline: nothing left to compare with, learn the account afresh.
        if (s.buckets.idx.length === 0) s.since = t;
        else if (t < s.since) s.since = t;
        addToBucket(s.buckets, bucket, 1);

        const r = s.recent;
        let n = 0;
        while (n < r.length && r[n]! < slice - (RECENT_SLICES - 1)) n += 2;
        if (n > 0) r.splice(0, n);
        let i = r.length - 2;
        while (i >= 0 && r[i]! > slice) i -= 2;
        if (i >= 0 && r[i] === slice) r[i + 1]!++;
        else r.splice(i + 2, 0, slice, 1);

        const failureSlice = Math.floor(t / failureSliceMs);
        if (s.failures !== undefined) {
          pruneBuckets(s.failures, failureSlice - (failureBlocks + 1) * FAILURE_SLICES + 1);
          if (s.failures.idx.length === 0) s.failures = undefined;
        }
        if (failuresOn && !ev.success) addToBucket((s.failures ??= emptySeries()), failureSlice, 1);

        if (t - s.since < minHistoryMs) return s;
        if (judgeAttempts(ev, s, emit)) return s;
        if (s.failures !== undefined && !ev.success) judgeFailures(ev, s.failures, emit);
        return s;
      },
    };
  },
});
