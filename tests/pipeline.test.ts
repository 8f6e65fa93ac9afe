import { describe, expect, it } from 'vitest';
import { login, MIN, only, run, type RawEvent } from './helpers.js';

const HOME = '198.51.100.1';
const R = only(['brute_force']);

function attack(account: string, startMs: number, n = 10, ip = HOME): RawEvent[] {
  return Array.from({ length: n }, (_, i) => login(account, startMs + i * 15_000, ip, false));
}

/** A seeded shuffle that moves each event by at most `maxShiftMs` of event time. */
function jitter(events: RawEvent[], maxShiftMs: number, seed: number): RawEvent[] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return events
    .map((e) => ({ e, key: Date.parse(String(e.ts)) + rand() * maxShiftMs }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.e);
}

describe('pipeline: order, duplicates, suppression', () => {
  const events = [...attack('a1', 0), ...attack('a2', 2 * MIN), login('a1', 4 * MIN, HOME, true), ...attack('a3', 60 * MIN, 12)].sort(
    (a, b) => Date.parse(String(a.ts)) - Date.parse(String(b.ts)),
  );

  it('gives the same alerts, byte for byte, for any arrival order within the lateness', () => {
    const expected = JSON.stringify(run(events, { rules: R }).alerts);
    expect(JSON.parse(expected)).toHaveLength(4); // a1 high + critical, a2 high, a3 high
    for (const seed of [1, 2, 3, 4, 5]) {
      const shuffled = jitter(events, 25_000, seed);
      expect(shuffled).not.toEqual(events);
      const r = run(shuffled, { rules: R });
      expect(JSON.stringify(r.alerts)).toBe(expected);
      expect(r.stats.late).toBe(0);
    }
  });

  it('scores an event later than the lateness anyway, and counts it as late', () => {
    const late = login('a9', 0, HOME, false);
    const evs = [...attack('a9', 10 * 1000, 9).map((e) => e), login('zz', 5 * MIN, HOME, true), late];
    const r = run(evs, { rules: R, latenessMs: 30_000 });
    expect(r.stats.late).toBe(1);
    expect(r.stats.processed).toBe(11);
    expect(r.of('brute_force')).toHaveLength(1);
  });

  it('processes a repeated eventId once', () => {
    const evs = attack('a1', 0, 9);
    const withDupes = [...evs, ...evs.slice(0, 5)];
    const r = run(withDupes, { rules: R });
    expect(r.stats.duplicates).toBe(5);
    expect(r.alerts).toHaveLength(0); // 9 distinct failures: below the threshold of 10
  });

  describe('alert episodes', () => {
    const R30 = only(['brute_force'], { brute_force: { cooldown: '30m', longWindowEnabled: false } });
    const t = (offsetMs: number) => new Date(Date.parse('2026-03-02T08:00:00Z') + offsetMs).toISOString();

    it('findings less than the cooldown apart are one episode, paged once however long it lasts', () => {
      // A fresh burst every 20 minutes for 100 minutes: each fires, none is 30 minutes from the last.
      const evs = [0, 20, 40, 60, 80, 100].flatMap((m) => attack('a1', m * MIN, 10));
      const r = run(evs, { rules: R30 });
      expect(r.of('brute_force').map((a) => a.ts)).toEqual([t(9 * 15_000)]);
      expect(r.of('brute_force')[0]!.episode).toBeUndefined();
      expect(r.stats.suppressedCooldown.brute_force).toBeGreaterThanOrEqual(5);
    });

    it('a cooldown without findings closes the episode: the next finding opens a new one', () => {
      const evs = [...attack('a1', 0, 10), ...attack('a1', 45 * MIN, 10)];
      const alerts = run(evs, { rules: R30 }).of('brute_force');
      expect(alerts.map((a) => a.ts)).toEqual([t(9 * 15_000), t(45 * MIN + 9 * 15_000)]);
      expect(alerts.map((a) => a.episode)).toEqual([undefined, undefined]);
    });

    it('a higher severity pages again, naming the episode it belongs to', () => {
      const evs = [...attack('a1', 0, 12), login('a1', 4 * MIN, HOME, true)];
      const alerts = run(evs, { rules: R30 }).of('brute_force');
      expect(alerts.map((a) => a.severity)).toEqual(['high', 'critical']);
      expect(alerts[1]!.episode).toEqual({ id: alerts[0]!.alertId, start: alerts[0]!.ts, findings: 4 });
    });

    it('an episode older than episodeMax closes, so an endless incident pages again', () => {
      const evs = Array.from({ length: 10 }, (_, i) => attack('a1', i * 20 * MIN, 10)).flat();
      const rules = only(['brute_force'], { brute_force: { cooldown: '30m', longWindowEnabled: false } }, { episodeMax: '1h' });
      // Bursts at 0, 20, ... 180 minutes: episodes open at 0 and at the first finding an hour or more later.
      expect(run(evs, { rules }).of('brute_force').map((a) => a.ts)).toEqual([t(9 * 15_000), t(60 * MIN + 9 * 15_000), t(120 * MIN + 9 * 15_000), t(180 * MIN + 9 * 15_000)]);
    });

    it('this test can fail: with a cooldown of 0 every finding pages', () => {
      const evs = [0, 20, 40].flatMap((m) => attack('a1', m * MIN, 10));
      const r = run(evs, { rules: only(['brute_force'], { brute_force: { cooldown: '0s', longWindowEnabled: false } }) });
      expect(r.of('brute_force').length).toBeGreaterThanOrEqual(3);
    });
  });

  it('drops findings for allowlisted accounts and networks (global and per detector)', () => {
    const evs = [...attack('a1', 0), ...attack('a2', 0, 10, '203.0.113.9'), ...attack('a3', 0)];
    const r = run(evs, { rules: only(['brute_force'], { brute_force: { allowlist: { cidrs: ['203.0.113.0/24'] } } }, { allowlist: { accounts: ['a1'] } }) });
    expect(r.alerts.map((a) => a.accountId)).toEqual(['a3']);
    expect(r.stats.suppressedAllowlist.brute_force).toBe(2);
  });

  it('marks shadow-mode alerts and counts them apart', () => {
    const r = run(attack('a1', 0), { rules: only(['brute_force'], { brute_force: { mode: 'shadow' } }) });
    expect(r.alerts).toHaveLength(1);
    expect(r.alerts[0]!.shadow).toBe(true);
    expect(r.stats.shadowAlerts.brute_force).toBe(1);
    expect(r.stats.alerts.brute_force).toBeUndefined();
  });

  it('alert ids depend on the rules version, not on the run', () => {
    const evs = attack('a1', 0);
    const a = run(evs, { rules: R }).alerts[0]!;
    const b = run(evs, { rules: R }).alerts[0]!;
    const c = run(evs, { rules: only(['brute_force'], { brute_force: { threshold: 9 } }) }).alerts[0]!;
    expect(a.alertId).toMatch(/^[0-9a-f]{32}$/);
    expect(b.alertId).toBe(a.alertId);
    expect(c.rulesVersion).not.toBe(a.rulesVersion);
    expect(c.alertId).not.toBe(a.alertId);
  });

  it('counts invalid records by reason and keeps going', () => {
    const evs: RawEvent[] = [{ eventId: 'x', type: 'logout', ts: 1, accountId: 'a' }, { nope: true }, ...attack('a1', 0)];
    const r = run(evs, { rules: R });
    expect(r.stats.invalid).toEqual({ unknown_type: 1, missing_field: 1 });
    expect(r.alerts).toHaveLength(1);
  });
});
