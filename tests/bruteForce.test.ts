import { describe, expect, it } from 'vitest';
import { login, MIN, only, run } from './helpers.js';

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
