import { describe, expect, it } from 'vitest';
import { at, DAY, HOUR, login, MIN, only, run } from './helpers.js';

const R = only(['brute_force']);
const HOME = '198.51.100.1';

function failures(account: string, n: number, startMs: number, stepMs: number, ip = HOME) {
  return Array.from({ length: n }, (_, i) => login(account, startMs + i * stepMs, ip, false));
}

describe('brute_force', () => {
  it('alerts on 10 failures within 10 minutes', () => {
    const r = run(failures('acc1', 10, 0, 30_000), { rules: R });
    expect(r.of('brute_force')).toHaveLength(1);
    const a = r.alerts[0]!;
    expect(a.severity).toBe('high');
    expect(a.accountId).toBe('acc1');
    expect(a.evidence).toMatchObject({ failures: 10, threshold: 10 });
    expect(a.eventIds).toHaveLength(10);
  });

  it('says how long the burst took in minutes and seconds, not milliseconds', () => {
    // 9 gaps of 9,494 ms: 85,446 ms from the first failure to the tenth.
    const [a] = run(failures('acc1', 10, 0, 9_494), { rules: R }).of('brute_force');
    expect(a!.summary).toBe('10 failed logins on account acc1 within 1m25s (threshold 10 in 10m), latest from 198.51.100.1.');
  });

  it('escalates to critical when a success follows within the window, despite the cooldown', () => {
    const evs = [...failures('acc1', 12, 0, 20_000), login('acc1', 5 * MIN, HOME, true)];
    const alerts = run(evs, { rules: R }).of('brute_force');
    expect(alerts.map((a) => a.severity)).toEqual(['high', 'critical']);
  });

  it('gives one alert per cooldown for a long burst', () => {
    const alerts = run(failures('acc1', 40, 0, 10_000), { rules: R }).of('brute_force');
    expect(alerts).toHaveLength(1);
  });

  it('stays quiet on 9 failures, and on 10 failures spread over more than the window', () => {
    expect(run(failures('acc1', 9, 0, 10_000), { rules: R }).alerts).toHaveLength(0);
    expect(run(failures('acc2', 10, 0, 70_000), { rules: R }).alerts).toHaveLength(0);
  });

  it('stays quiet when a typo is followed by a success (the count starts afresh)', () => {
    const evs = [];
    for (let day = 0; day < 10; day++) {
      evs.push(login('acc1', day * 60 * MIN, HOME, false), login('acc1', day * 60 * MIN + 20_000, HOME, true));
    }
    expect(run(evs, { rules: R }).alerts).toHaveLength(0);
  });

  it('honours a configured threshold and window', () => {
    const r = only(['brute_force'], { brute_force: { threshold: 5, window: '2m' } });
    expect(run(failures('acc1', 5, 0, 20_000), { rules: r }).alerts).toHaveLength(1);
    expect(run(failures('acc1', 5, 0, 40_000), { rules: r }).alerts).toHaveLength(0);
  });
});

describe('brute_force: true counts', () => {
  it('reports every failure in the window, not just the failures it keeps event ids for', () => {
    // 40 failures 10 s apart (0 s … 390 s), then a success at 400 s: all 40 are within 10 min.
    const evs = [...failures('acc1', 40, 0, 10_000), login('acc1', 400_000, HOME, true)];
    const alerts = run(evs, { rules: R }).of('brute_force');
    expect(alerts.map((a) => a.severity)).toEqual(['high', 'critical']);
    expect(alerts[0]!.evidence).toMatchObject({ firedWindow: 'short', failures: 10 });
    expect(alerts[1]!.evidence).toMatchObject({ firedWindow: 'short', failures: 40, threshold: 10, window: '10m', firstFailureAt: at(0) });
    expect(alerts[1]!.eventIds).toHaveLength(20);
    expect(alerts[1]!.eventIds.at(-1)).toBe(evs.at(-1)!.eventId);
  });

  it('stops counting failures that have left the window', () => {
    // 60 failures 15 s apart (0 s … 885 s), success at 890 s: the window starts at 290 s, so the
    // failures at 300 s … 885 s count: (885 − 300) / 15 + 1 = 40.
    const evs = [...failures('acc1', 60, 0, 15_000), login('acc1', 890_000, HOME, true)];
    const critical = run(evs, { rules: R }).of('brute_force').find((a) => a.severity === 'critical')!;
    expect(critical.evidence).toMatchObject({ failures: 40, firstFailureAt: at(300_000) });
  });
});

describe('brute_force: slow brute force (long window)', () => {
  /** Two failures an hour (at :00 and :30) for `hours` hours, the owner logging in every 3 hours. */
  function slow(account: string, hours: number) {
    const evs = [];
    for (let h = 0; h < hours; h++) {
      evs.push(login(account, h * HOUR, '203.0.113.9', false), login(account, h * HOUR + 30 * MIN, '203.0.113.9', false));
      if (h % 3 === 0) evs.push(login(account, h * HOUR + 10 * MIN, HOME, true));
    }
    return evs;
  }

  it('alerts when 30 failures accumulate within 24 h, successes in between notwithstanding', () => {
    const evs = slow('acc1', 15); // the 30th failure is at 14 h 30 min
    const alerts = run(evs, { rules: R }).of('brute_force');
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.severity).toBe('high');
    expect(a.ts).toBe(at(14 * HOUR + 30 * MIN));
    expect(a.evidence).toMatchObject({ firedWindow: 'long', failures: 30, threshold: 30, window: '24h', latestIp: '203.0.113.9', firstFailureAt: at(0) });
    expect(a.eventIds).toHaveLength(20);
    expect(a.eventIds.at(-1)).toBe(evs.at(-1)!.eventId);
  });

  it('stays quiet on 29 failures in 24 h, and when the long window is disabled', () => {
    const evs = slow('acc1', 15).slice(0, -1); // drops the 30th failure
    expect(run(evs, { rules: R }).alerts).toHaveLength(0);
    const off = only(['brute_force'], { brute_force: { longWindowEnabled: false } });
    expect(run(slow('acc1', 15), { rules: off }).alerts).toHaveLength(0);
  });

  it('honours a configured long window and threshold', () => {
    // 2h in 24 slices of 5 min. Five failures 20 min apart: the 5th (80 min) sees all five.
    const r = only(['brute_force'], { brute_force: { longWindow: '2h', longThreshold: 5 } });
    const within = failures('acc1', 5, 0, 20 * MIN);
    const a = run(within, { rules: r }).of('brute_force');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ firedWindow: 'long', failures: 5, threshold: 5, window: '2h' });
    // Five failures 30 min apart: at 120 min the window covers slices from 5 min on, the first drops out.
    expect(run(failures('acc1', 5, 0, 30 * MIN), { rules: r }).alerts).toHaveLength(0);
  });

  it('stays quiet for an owner who mistypes 2–3 times a week, each time followed by a success', () => {
    const evs = [];
    for (let week = 0; week < 4; week++) {
      for (const day of [1, 3, 5].slice(0, week % 2 === 0 ? 3 : 2)) {
        const t = (week * 7 + day) * DAY + 19 * HOUR;
        evs.push(login('acc1', t, HOME, false), login('acc1', t + 30_000, HOME, true));
      }
    }
    expect(run(evs, { rules: R }).alerts).toHaveLength(0);
  });

  it('stays quiet for a user who forgets the password and fails 6 times in an hour once', () => {
    const evs = [...failures('acc1', 6, 0, 10 * MIN), login('acc1', 55 * MIN, HOME, true)];
    expect(run(evs, { rules: R }).alerts).toHaveLength(0);
  });
});

describe('brute_force: stream robustness', () => {
  it('gives the same alerts when events arrive out of order within the lateness', () => {
    const evs = [...failures('acc1', 12, 0, 10_000), login('acc1', 125_000, HOME, true)];
    const shuffled = [...evs];
    // Swap neighbours (10 s apart; the default lateness is 30 s).
    for (let i = 0; i + 1 < shuffled.length; i += 2) [shuffled[i], shuffled[i + 1]] = [shuffled[i + 1]!, shuffled[i]!];
    const inOrder = run(evs, { rules: R }).alerts;
    expect(inOrder.map((a) => a.severity)).toEqual(['high', 'critical']);
    expect(run(shuffled, { rules: R }).alerts).toEqual(inOrder);
  });

  it('gives the same slow-brute-force alert when events arrive out of order within a wide lateness', () => {
    const evs = failures('acc1', 30, 0, 30 * MIN);
    const reversedPairs = [...evs];
    for (let i = 0; i + 1 < reversedPairs.length; i += 2) [reversedPairs[i], reversedPairs[i + 1]] = [reversedPairs[i + 1]!, reversedPairs[i]!];
    const inOrder = run(evs, { rules: R, latenessMs: HOUR }).alerts;
    expect(inOrder).toHaveLength(1);
    expect(run(reversedPairs, { rules: R, latenessMs: HOUR }).alerts).toEqual(inOrder);
  });

  it('counts a redelivered failure (same eventId) once', () => {
    const nine = failures('acc1', 9, 0, 10_000);
    expect(run([...nine, nine[4]!, nine[8]!], { rules: R }).alerts).toHaveLength(0);
    const ten = failures('acc2', 10, 0, 10_000);
    const a = run([...ten.slice(0, 9), ten[3]!, ten[9]!], { rules: R }).of('brute_force');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ failures: 10 });
  });

  it('survives a failure later than the lateness allows, without corrupting the count', () => {
    // 9 failures, a success at 10 min, then a 10th failure stamped 95 s arrives after it. The success
    // already closed that burst, so the late failure completes nothing; a fresh burst later counts
    // exactly its own 10 failures.
    const evs = [
      ...failures('acc1', 9, 0, 10_000),
      login('acc1', 10 * MIN, HOME, true),
      login('acc1', 95_000, HOME, false),
      ...failures('acc1', 10, 11 * MIN, 10_000),
    ];
    const r = run(evs, { rules: R, latenessMs: 0 });
    expect(r.stats.late).toBe(1);
    const alerts = r.of('brute_force');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.ts).toBe(at(11 * MIN + 90_000));
    expect(alerts[0]!.evidence).toMatchObject({ failures: 10, firstFailureAt: at(11 * MIN) });
  });

  it('lets a failure later than the lateness complete the burst it belongs to', () => {
    // Failures at 10 … 90 s; the one stamped 0 s arrives after them (and after the lateness):
    // ten failures within 90 s, judged with the trigger last in the event ids.
    const late = login('acc1', 0, HOME, false);
    const nine = failures('acc1', 9, 10_000, 10_000);
    const r = run([...nine, late], { rules: R, latenessMs: 0 });
    expect(r.stats.late).toBe(1);
    const a = r.of('brute_force');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ firedWindow: 'short', failures: 10, firstFailureAt: at(0) });
    expect(a[0]!.eventIds).toEqual([...nine.map((e) => e.eventId), late.eventId]);
    // A late failure from long before a burst judges nothing: the burst had its alert already.
    const ten = failures('acc2', 10, HOUR, 10_000);
    const old = run([...ten, login('acc2', 0, HOME, false)], { rules: R, latenessMs: 0 });
    expect(old.of('brute_force').map((x) => x.ts)).toEqual([at(HOUR + 90_000)]);
    // …even after the cooldown has passed.
    const afterCooldown = run([...ten, login('acc2', 0, HOME, false)], { rules: only(['brute_force'], { brute_force: { cooldown: '0s' } }), latenessMs: 0 });
    expect(afterCooldown.of('brute_force').map((x) => x.ts)).toEqual([at(HOUR + 90_000)]);
  });

  it('rejects out-of-range options', () => {
    expect(() => only(['brute_force'], { brute_force: { longThreshold: 1 } })).toThrow();
    expect(() => only(['brute_force'], { brute_force: { longWindow: '8d' } })).toThrow();
    expect(() => only(['brute_force'], { brute_force: { threshold: 1 } })).toThrow();
  });
});
