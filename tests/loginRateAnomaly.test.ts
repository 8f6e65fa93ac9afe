import { describe, expect, it } from 'vitest';
import { DETECTOR_INDEX } from '../src/detectors/registry.js';
import { Pipeline } from '../src/engine/pipeline.js';
import { decodeValue } from '../src/events/decode.js';
import { at, byTime, DAY, HOUR, login, MIN, only, run, session, testLocator, type RawEvent } from './helpers.js';

const R = only(['login_rate_anomaly']);
const round2 = (x: number) => Math.round(x * 100) / 100;
const HOME = '198.51.100.1';
const ELSEWHERE = '203.0.113.9';

/** One successful login a day at `hour` (offset from the test origin), days [from, to). */
function daily(account: string, from: number, to: number, hour = 2): RawEvent[] {
  return Array.from({ length: to - from }, (_, i) => login(account, (from + i) * DAY + hour * HOUR, HOME, true));
}

/** `n` login attempts `stepMs` apart from `startMs`. */
function burst(account: string, n: number, startMs: number, stepMs: number, success = true, ip = ELSEWHERE): RawEvent[] {
  return Array.from({ length: n }, (_, i) => login(account, startMs + i * stepMs, ip, success));
}

/** A shared family account: 15 logins an hour (every 4 min) for five evening hours, every day. */
function family(account: string, days: number): RawEvent[] {
  const evs: RawEvent[] = [];
  for (let d = 0; d < days; d++) for (let h = 10; h < 15; h++) for (let m = 0; m < 60; m += 4) evs.push(login(account, d * DAY + h * HOUR + m * MIN, HOME, true));
  return evs;
}

describe('login_rate_anomaly: attempts against the account baseline', () => {
  it('alerts when a once-a-day account makes 12 attempts in an hour', () => {
    // Baseline: five active hours with 1 attempt → median 1, MAD 0, scale = minScale 2.
    // 12 attempts: z = (12 − 1) / 2 = 5.5 ≥ 5.
    const evs = [...daily('acc1', 0, 5), ...burst('acc1', 12, 5 * DAY + 7 * HOUR, MIN)];
    const alerts = run(evs, { rules: R }).of('login_rate_anomaly');
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.severity).toBe('medium');
    expect(a.accountId).toBe('acc1');
    expect(a.ts).toBe(at(5 * DAY + 7 * HOUR + 11 * MIN));
    expect(a.evidence).toEqual({
      judged: 'attempts',
      attempts: 12,
      window: '1h',
      baselineMedian: 1,
      baselineMad: 0,
      z: 5.5,
      activeWindows: 5,
      baseline: '7d',
      minCount: 12,
      zThreshold: 5,
      latestIp: ELSEWHERE,
    });
    expect(a.eventIds).toEqual([evs.at(-1)!.eventId]);
  });

  it('stays quiet on 11 attempts (below minCount, although z = (11 − 1) / 2 = 5)', () => {
    expect(run([...daily('acc1', 0, 5), ...burst('acc1', 11, 5 * DAY + 7 * HOUR, MIN)], { rules: R }).alerts).toHaveLength(0);
  });

  it('stays quiet on a shared family account busy every evening, and alerts on a burst 10 above its usual 15', () => {
    expect(run(family('fam', 7), { rules: R }).alerts).toHaveLength(0);
    // Baseline: the 7 days before 19:00 on day 7 hold days 1–6's 30 active hours of 15 → median
    // 15, MAD 0, scale 2: z ≥ 5 from 25 attempts.
    const evs = [...family('fam', 7), ...burst('fam', 40, 7 * DAY + 19 * HOUR, 30_000)];
    const alerts = run(evs, { rules: R }).of('login_rate_anomaly');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.ts).toBe(at(7 * DAY + 19 * HOUR + 24 * 30_000));
    expect(alerts[0]!.evidence).toMatchObject({ attempts: 25, baselineMedian: 15, baselineMad: 0, z: 5, activeWindows: 30 });
  });

  it('stays quiet on a new account with no earlier active window, even with the prior', () => {
    expect(run(burst('new', 50, 0, 30_000), { rules: R }).alerts).toHaveLength(0);
    // Three hours later 20 more: its one window of 50 against the prior worth 2: median
    // (2 × 1 + 50) / 3 = 17.3, scale 2, z = (20 − 17.3) / 2 = 1.3.
    expect(run([...burst('new2', 50, 0, 30_000), ...burst('new2', 20, 3 * HOUR, 60_000)], { rules: R }).alerts).toHaveLength(0);
  });

  it('judges a young account early, its two days shrunk toward the population prior', () => {
    // Two days of one login (inside the 3-day learning period), then 50 attempts 30 s apart.
    // Own windows [1, 1]: median 1, scale = minScale 2; prior 1 ± 2 worth 2 windows: share 1/2,
    // median 1, scale 2. z = (12 − 1) / 2 = 5.5 at the 12th attempt (minCount 12).
    const evs = [...daily('young', 0, 2), ...burst('young', 50, 2 * DAY + 7 * HOUR, 30_000)];
    const alerts = run(evs, { rules: R }).of('login_rate_anomaly');
    expect(alerts.map((a) => a.ts)).toEqual([at(2 * DAY + 7 * HOUR + 11 * 30_000)]);
    expect(alerts[0]!.evidence).toMatchObject({ attempts: 12, baselineMedian: 1, z: 5.5, activeWindows: 2, ownMedian: 1, priorShare: 0.5 });
    expect(alerts[0]!.summary).toContain("shrunk toward the population's 1 for an account seen for under 3d");
    // Without a prior (priorWeight 0) two days are still the learning period: nothing is judged.
    const noPrior = only(['login_rate_anomaly'], { login_rate_anomaly: { priorWeight: 0 } });
    expect(run(evs, { rules: noPrior }).alerts).toHaveLength(0);
  });

  it('stays quiet on a young account that has always logged in a lot (the prior gives way to its own habit)', () => {
    // Two days of a household signing in 8 times in an hour, then 14 in an hour: own windows
    // [8, 8] → median 8; prior share 1/2 → median 4.5, scale 2; z = (14 − 4.5) / 2 = 4.75 < 5.
    const busy = (d: number) => Array.from({ length: 8 }, (_, i) => login('busy', d * DAY + 7 * HOUR + i * 6 * MIN, HOME, true));
    const evs = [...busy(0), ...busy(1), ...burst('busy', 14, 2 * DAY + 7 * HOUR, 4 * MIN)];
    expect(run(evs, { rules: R }).alerts).toHaveLength(0);
    // Control: 15 in the hour reaches z = (15 − 4.5) / 2 = 5.25.
    const more = [...busy(0), ...busy(1), ...burst('busy', 15, 2 * DAY + 7 * HOUR, 3 * MIN)];
    expect(run(more, { rules: R }).of('login_rate_anomaly')).toHaveLength(1);
  });

  it('learns an account afresh after it was idle for the whole baseline', () => {
    // Logins on days 0–3, then none until day 12, but the account keeps streaming every day, so
    // its state is not expired by the engine. One login on day 12, a burst on day 13: only one
    // day of new login history, so still learning.
    const streaming: RawEvent[] = [];
    for (let d = 4; d < 13; d++) streaming.push(...session('acc1', d * DAY + 5 * HOUR, HOUR, HOME, 'tv', `s${d}`));
    const both = only(['login_rate_anomaly', 'concurrent_streams']);
    const evs = byTime([...daily('acc1', 0, 4), ...streaming, ...daily('acc1', 12, 13), ...burst('acc1', 40, 13 * DAY + 7 * HOUR, 30_000)]);
    // Learning again, it is judged as a young account: one own window of 1, shrunk toward the prior.
    const noPrior = only(['login_rate_anomaly', 'concurrent_streams'], { login_rate_anomaly: { priorWeight: 0 } });
    expect(run(evs, { rules: noPrior }).alerts).toHaveLength(0);
    expect(run(evs, { rules: both }).of('login_rate_anomaly').map((a) => a.evidence.priorShare)).toEqual([round2(2 / 3)]);
    // The same burst with the login history continuing to day 12 is judged.
    const continuous = [...daily('acc2', 0, 13), ...burst('acc2', 40, 13 * DAY + 7 * HOUR, 30_000)];
    expect(run(continuous, { rules: R }).alerts).toHaveLength(1);
  });

  it('honours configured thresholds', () => {
    const history = daily('acc1', 0, 5);
    const r = only(['login_rate_anomaly'], { login_rate_anomaly: { minCount: 20, zThreshold: 10 } });
    // 20 attempts: z = (20 − 1) / 2 = 9.5 < 10; 21: z = 10.
    expect(run([...history, ...burst('acc1', 20, 5 * DAY + 7 * HOUR, MIN)], { rules: r }).alerts).toHaveLength(0);
    const a = run([...history, ...burst('acc1', 21, 5 * DAY + 7 * HOUR, MIN)], { rules: r }).of('login_rate_anomaly');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ attempts: 21, z: 10, minCount: 20, zThreshold: 10 });
    // minScale 4: 12 attempts give z = (12 − 1) / 4 = 2.75.
    const wide = only(['login_rate_anomaly'], { login_rate_anomaly: { minScale: 4 } });
    expect(run([...history, ...burst('acc1', 12, 5 * DAY + 7 * HOUR, MIN)], { rules: wide }).alerts).toHaveLength(0);
    // minHistory 7d without a prior: five days of history are not enough.
    const patient = only(['login_rate_anomaly'], { login_rate_anomaly: { minHistory: '7d', priorWeight: 0 } });
    expect(run([...history, ...burst('acc1', 12, 5 * DAY + 7 * HOUR, MIN)], { rules: patient }).alerts).toHaveLength(0);
    // With the prior the young account is judged: five own windows of 1, share 2/7, still median 1 and scale 2.
    const young = only(['login_rate_anomaly'], { login_rate_anomaly: { minHistory: '7d' } });
    expect(run([...history, ...burst('acc1', 12, 5 * DAY + 7 * HOUR, MIN)], { rules: young }).of('login_rate_anomaly')[0]!.evidence).toMatchObject({ z: 5.5, priorShare: 0.29 });
    // A prior spread of 4 weighs in: scale (2 × 4 + 5 × 2) / 7 = 2.57, z = 11 / 2.57 = 4.28 < 5.
    const wider = only(['login_rate_anomaly'], { login_rate_anomaly: { minHistory: '7d', priorSpread: 4 } });
    expect(run([...history, ...burst('acc1', 12, 5 * DAY + 7 * HOUR, MIN)], { rules: wider }).alerts).toHaveLength(0);
  });

  it('honours a configured window', () => {
    // 12 attempts 2 min apart span 22 min: a 15 min window never holds more than 8.
    const evs = [...daily('acc1', 0, 5), ...burst('acc1', 12, 5 * DAY + 7 * HOUR, 2 * MIN)];
    expect(run(evs, { rules: R }).alerts).toHaveLength(1);
    expect(run(evs, { rules: only(['login_rate_anomaly'], { login_rate_anomaly: { window: '15m' } }) }).alerts).toHaveLength(0);
  });
});

describe('login_rate_anomaly: failures against the account failure baseline', () => {
  /** Failures at :00, :20 and :40 of each hour for `hours` hours from `startMs`. */
  function guessing(account: string, hours: number, startMs: number): RawEvent[] {
    return burst(account, hours * 3, startMs, 20 * MIN, false);
  }

  it('alerts on slow guessing: 15 failures in 24 h on an account that never fails', () => {
    // Seven 24 h blocks of 0 failures → median 0, MAD 0, scale 2: z = 15 / 2 = 7.5.
    const evs = [...daily('acc1', 0, 7), ...guessing('acc1', 5, 7 * DAY)];
    const alerts = run(evs, { rules: R }).of('login_rate_anomaly');
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.ts).toBe(at(7 * DAY + 4 * HOUR + 40 * MIN)); // the 15th failure
    expect(a.evidence).toEqual({
      judged: 'failures',
      failures: 15,
      window: '24h',
      baselineMedian: 0,
      baselineMad: 0,
      z: 7.5,
      baselineBlocks: 7,
      minFailures: 15,
      zThreshold: 5,
      latestIp: ELSEWHERE,
    });
    expect(run(evs, { rules: only(['login_rate_anomaly'], { login_rate_anomaly: { failureBaselineEnabled: false } }) }).alerts).toHaveLength(0);
  });

  it('judges failures against the account own habit: 10 a day is its normal, 20 is not', () => {
    // Every day at 02:00, 10 failures then a success (an account whose users fumble a lot).
    const evs: RawEvent[] = [];
    for (let d = 0; d < 7; d++) evs.push(...burst('kid', 10, d * DAY + 2 * HOUR, MIN, false), login('kid', d * DAY + 2 * HOUR + 10 * MIN, HOME, true));
    // Day 7: blocks of 10 → median 10, MAD 0: 19 failures give z = 4.5, 20 give z = 5. (Attempts:
    // active hours of 11, so 20 attempts give z = 4.5, below the attempts threshold.)
    const day7 = (n: number) => burst('kid', n, 7 * DAY + 2 * HOUR, MIN, false);
    expect(run([...evs, ...day7(19)], { rules: R }).alerts).toHaveLength(0);
    const a = run([...evs, ...day7(20)], { rules: R }).of('login_rate_anomaly');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ judged: 'failures', failures: 20, baselineMedian: 10, z: 5 });
  });

  it('honours configured failure thresholds and window', () => {
    const history = daily('acc1', 0, 7);
    const r = only(['login_rate_anomaly'], { login_rate_anomaly: { minFailures: 6, failureWindow: '6h', failureZThreshold: 3 } });
    // 6 h window in 15 min slices; 6 failures 50 min apart: at the 6th, z = 6 / 2 = 3.
    const a = run([...history, ...burst('acc1', 6, 7 * DAY, 50 * MIN, false)], { rules: r }).of('login_rate_anomaly');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ failures: 6, window: '6h', baselineBlocks: 28, z: 3, minFailures: 6, zThreshold: 3 });
    // 6 failures 75 min apart span 6 h 15 min: the first has left the window at the 6th.
    expect(run([...history, ...burst('acc1', 6, 7 * DAY, 75 * MIN, false)], { rules: r }).alerts).toHaveLength(0);
  });
});

describe('login_rate_anomaly with brute_force: the owner’s own mistakes stay quiet', () => {
  const BOTH = only(['brute_force', 'login_rate_anomaly']);

  it('stays quiet for an owner who mistypes 2–3 times a week, each time followed by a success', () => {
    const evs: RawEvent[] = [...daily('acc1', 0, 28)];
    for (let week = 0; week < 4; week++) {
      for (const day of [1, 3, 5].slice(0, week % 2 === 0 ? 3 : 2)) {
        const t = (week * 7 + day) * DAY + 12 * HOUR;
        evs.push(login('acc1', t, HOME, false), login('acc1', t + 30_000, HOME, true));
      }
    }
    expect(run(evs, { rules: BOTH }).alerts).toHaveLength(0);
  });

  it('stays quiet for a user who forgets the password and fails 6 times in an hour once', () => {
    const evs = [...daily('acc1', 0, 10), ...burst('acc1', 6, 8 * DAY + 12 * HOUR, 10 * MIN, false, HOME), login('acc1', 8 * DAY + 13 * HOUR, HOME, true)];
    expect(run(evs, { rules: BOTH }).alerts).toHaveLength(0);
  });
});

describe('login_rate_anomaly: stream robustness and state', () => {
  it('gives the same alerts when events arrive out of order within the lateness', () => {
    const evs = byTime([...daily('acc1', 0, 7), ...burst('acc1', 14, 7 * DAY + 7 * HOUR, 20_000), ...guessing3('acc2')]);
    const swapped = [...evs];
    for (let i = 0; i + 1 < swapped.length; i += 2) [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
    const inOrder = run(evs, { rules: R }).alerts;
    expect(inOrder.map((a) => [a.accountId, a.evidence.judged])).toEqual([
      ['acc1', 'attempts'],
      ['acc2', 'failures'],
    ]);
    expect(run(swapped, { rules: R, latenessMs: 2 * DAY }).alerts).toEqual(inOrder);
  });

  it('counts a redelivered event (same eventId) once', () => {
    const b = burst('acc1', 11, 5 * DAY + 7 * HOUR, MIN);
    expect(run([...daily('acc1', 0, 5), ...b, b[2]!, b[10]!], { rules: R }).alerts).toHaveLength(0);
  });

  it('survives events later than the lateness allows', () => {
    // The history arrives after the burst, scored late and out of order: no crash, no alert from
    // the late events themselves, and a burst afterwards is judged against the whole history.
    const history = daily('acc1', 0, 5);
    const first = burst('acc1', 12, 5 * DAY + 7 * HOUR, MIN);
    const later = burst('acc1', 12, 6 * DAY + 7 * HOUR, MIN);
    const r = run([...first, ...history, ...later], { rules: R, latenessMs: 0 });
    expect(r.stats.late).toBe(5);
    const alerts = r.of('login_rate_anomaly');
    // Baseline at day 6, 07:11 (back to day −1, 07:11): days 0–4's active hours of 1 and the
    // first burst's 12 → median 1, MAD 0.
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.ts).toBe(at(6 * DAY + 7 * HOUR + 11 * MIN));
    expect(alerts[0]!.evidence).toMatchObject({ attempts: 12, baselineMedian: 1, activeWindows: 6 });
  });

  it('keeps a daily user to a few numbers', () => {
    const pipeline = new Pipeline({ rules: R, locator: testLocator(), latenessMs: 0, onAlert: () => undefined });
    for (const e of daily('acc1', 0, 10)) pipeline.offer(decodeValue(e), 0, undefined);
    // One flat array: [since, bucket count, (bucket, attempts)…, slice count, (slice, attempts)…, (failure slice, failures)…].
    const state = pipeline.core.store('account').get('acc1')!.states[DETECTOR_INDEX.login_rate_anomaly!] as number[];
    // Day 9's login prunes everything before day 2 (7 days of hourly buckets plus one): days 2–9.
    expect(state[1]).toBe(8);
    // One recent slice, and no failure slices after it.
    expect(state[2 + 2 * 8]).toBe(1);
    expect(state).toHaveLength(2 + 2 * 8 + 1 + 2);
    expect(JSON.stringify(state).length).toBeLessThan(200);
  });

  it('rejects out-of-range options', () => {
    expect(() => only(['login_rate_anomaly'], { login_rate_anomaly: { zThreshold: 0 } })).toThrow();
    expect(() => only(['login_rate_anomaly'], { login_rate_anomaly: { minScale: 0 } })).toThrow();
    expect(() => only(['login_rate_anomaly'], { login_rate_anomaly: { baseline: '30d' } })).toThrow();
    expect(() => only(['login_rate_anomaly'], { login_rate_anomaly: { failureWindow: '30m' } })).toThrow();
    expect(() => only(['login_rate_anomaly'], { login_rate_anomaly: { minFailures: 0 } })).toThrow();
  });
});

/** acc2: a week of daily logins, then 15 failures 20 min apart on day 7. */
function guessing3(account: string): RawEvent[] {
  return [...daily(account, 0, 7, 3), ...burst(account, 15, 7 * DAY + 8 * HOUR, 20 * MIN, false)];
}
