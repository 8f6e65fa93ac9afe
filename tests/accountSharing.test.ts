import { describe, expect, it } from 'vitest';
import { accountSharing } from '../src/detectors/accountSharing.js';
import type { Finding } from '../src/detectors/types.js';
import { decodeValue } from '../src/events/decode.js';
import { networkPrefix } from '../src/geo/distance.js';
import type { GeoPoint } from '../src/geo/locator.js';
import { byTime, DAY, HOUR, login, MIN, only, run, session, testLocator, type RawEvent } from './helpers.js';

const R = only(['account_sharing']);

const LONDON = '198.51.100.1';
const LONDON_2 = '198.51.100.2';
const READING = '198.51.100.3';
const PARIS = '192.0.2.1';
const BERLIN = '192.0.2.2';
const MADRID = '192.0.2.5';
const NEW_YORK = '203.0.113.1';
const TOKYO = '192.0.2.3';

function coarse(country: string): GeoPoint {
  return { country, region: '', city: '', lat: 0, lon: 0, accuracyKm: 1000 };
}
// Extra places: coarse fixes (households by network prefix) and London from another /24.
const LOCATOR = testLocator({
  '203.0.113.50': coarse('US'),
  '203.0.113.51': coarse('US'),
  '2001:db8:2::1': coarse('US'),
  '203.0.113.60': { country: 'GB', region: 'ENG', city: 'London', lat: 51.5074, lon: -0.1278, accuracyKm: 20 },
});

/**
 * A 30-minute session on day `day` (day 0 = 2026-03-02) starting at `hourUtc`:00 UTC: start,
 * heartbeats at +10 and +20 minutes, stop at +30.
 */
function stream(account: string, day: number, ip: string, hourUtc: number, device = 'tv'): RawEvent[] {
  const start = day * DAY + (hourUtc - 8) * HOUR; // the helpers' origin is 08:00 UTC
  return session(account, start, 30 * MIN, ip, device, `${account}-${device}-${day}-${hourUtc}`, 10 * MIN);
}

/** Home streaming every evening over a range of days. */
function daily(account: string, fromDay: number, toDay: number, ip: string, hourUtc = 19, device = 'tv'): RawEvent[] {
  const out: RawEvent[] = [];
  for (let d = fromDay; d <= toDay; d++) out.push(...stream(account, d, ip, hourUtc, device));
  return out;
}

function on(account: string, days: number[], ip: string, device = 'phone'): RawEvent[] {
  return days.flatMap((d) => stream(account, d, ip, 21, device));
}

/** The last start/heartbeat of a session (stops are not used by the detector). */
function lastBeat(events: RawEvent[]): string {
  return String(events.filter((e) => e.action !== 'stop').at(-1)!.eventId);
}

/** Issue 7: home + two households, each streaming on scattered days over three weeks. */
function recurringScenario(account = 'acc1', lastDay = 21) {
  const homeSessions = Array.from({ length: lastDay + 1 }, (_, d) => stream(account, d, LONDON, 19));
  const parisSessions = [1, 6, 12, 19].map((d) => stream(account, d, PARIS, 21, 'phone'));
  const berlinSessions = [3, 9, 15, 20].map((d) => stream(account, d, BERLIN, 21, 'laptop'));
  const sessions = [...homeSessions, ...parisSessions, ...berlinSessions];
  return { homeSessions, parisSessions, berlinSessions, sessions, events: byTime(sessions.flat()) };
}

describe('account_sharing', () => {
  it('alerts on home + two households that each recur over weeks (issue 7), once', () => {
    const sc = recurringScenario();
    const alerts = run(sc.events, { rules: R, locator: LOCATOR }).of('account_sharing');
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.severity).toBe('medium');
    expect(a.accountId).toBe('acc1');
    // Berlin's third day (day 15) is the first time it spans a week (days 3, 9, 15); Paris did on day 12.
    expect(a.ts).toBe('2026-03-17T21:00:00.000Z');
    expect(a.evidence).toEqual({
      households: [
        { household: 'GB/ENG/London', kind: 'place', days: 16, firstDay: '2026-03-02', lastDay: '2026-03-17', lastSeenAt: '2026-03-17T19:20:00.000Z' },
        { household: 'FR/IDF/Paris', kind: 'place', days: 3, firstDay: '2026-03-03', lastDay: '2026-03-14', lastSeenAt: '2026-03-14T21:20:00.000Z' },
        { household: 'DE/BE/Berlin', kind: 'place', days: 3, firstDay: '2026-03-05', lastDay: '2026-03-17', lastSeenAt: '2026-03-17T21:00:00.000Z' },
      ],
      count: 3,
      otherHouseholds: 0,
      minHouseholds: 3,
      minDaysPerHousehold: 2,
      minSpanDays: 7,
      window: '30d',
    });
    expect(a.summary).toBe(
      'Account acc1 streamed from 3 households within 30d, each on 2+ days spread over 7+ days (threshold 3): GB/ENG/London (16 days), FR/IDF/Paris (3 days), DE/BE/Berlin (3 days).',
    );
    // One event per household, oldest first; the trigger (Berlin's day-15 start) last.
    const berlinDay15Start = String(sc.berlinSessions[2]![0]!.eventId);
    expect(a.eventIds).toEqual([lastBeat(sc.parisSessions[2]!), lastBeat(sc.homeSessions[15]!), berlinDay15Start]);
  });

  it("alerts on four households with two scattered days each (issue 2's wording), again when the fourth recurs", () => {
    const events = byTime([...daily('acc1', 0, 20, LONDON), ...on('acc1', [2, 12], PARIS), ...on('acc1', [4, 14], BERLIN), ...on('acc1', [6, 16], MADRID)]);
    const alerts = run(events, { rules: only(['account_sharing'], { account_sharing: { cooldown: '30m' } }) }).of('account_sharing');
    // Third recurring household on day 14 (Berlin 4→14), the fourth on day 16 (Madrid 6→16): the count grew.
    expect(alerts.map((a) => [a.ts, a.evidence.count])).toEqual([
      ['2026-03-16T21:00:00.000Z', 3],
      ['2026-03-18T21:00:00.000Z', 4],
    ]);
    expect(alerts.every((a) => a.severity === 'medium')).toBe(true);
  });

  it("issue 2's thresholds (minHouseholds 4, minSpanDays 0) count any two days", () => {
    const issue2 = only(['account_sharing'], { account_sharing: { minHouseholds: 4, minSpanDays: 0, cooldown: '30m' } });
    const scattered = byTime([...daily('acc1', 0, 20, LONDON), ...on('acc1', [2, 12], PARIS), ...on('acc1', [4, 14], BERLIN), ...on('acc1', [6, 16], MADRID)]);
    const a = run(scattered, { rules: issue2 }).of('account_sharing');
    expect(a.map((x) => [x.ts, x.evidence.count])).toEqual([['2026-03-18T21:00:00.000Z', 4]]);
    expect(a[0]!.summary).toContain('each on 2+ days (threshold 4)');

    // Two consecutive days per place: sharing under issue 2's rule, a trip under the default recurrence.
    const consecutive = byTime([...daily('acc2', 0, 20, LONDON), ...on('acc2', [2, 3], PARIS), ...on('acc2', [5, 6], BERLIN), ...on('acc2', [8, 9], MADRID)]);
    expect(run(consecutive, { rules: issue2 }).of('account_sharing')).toHaveLength(1);
    expect(run(consecutive, { rules: R }).of('account_sharing')).toHaveLength(0);
  });

  it('re-alerts a window after the last alert while the sharing goes on, not every cooldown', () => {
    const events = byTime([
      ...daily('acc1', 0, 46, LONDON),
      ...on('acc1', [1, 6, 12, 19, 26, 33, 40], PARIS),
      ...on('acc1', [3, 9, 15, 20, 27, 34, 41], BERLIN, 'laptop'),
    ]);
    const alerts = run(events, { rules: R }).of('account_sharing');
    // Day 15, then day 45 (30 days later), at London's evening session that day.
    expect(alerts.map((a) => [a.ts, a.evidence.count])).toEqual([
      ['2026-03-17T21:00:00.000Z', 3],
      ['2026-04-16T19:00:00.000Z', 3],
    ]);
  });

  it('stays quiet on home + one trip abroad of a week, even with minHouseholds 2', () => {
    const two = only(['account_sharing'], { account_sharing: { minHouseholds: 2 } });
    // New York on 7 consecutive days: 7 days, but only 6 between the first and the last.
    const events = byTime([...daily('acc1', 0, 9, LONDON), ...daily('acc1', 10, 16, NEW_YORK, 23), ...daily('acc1', 17, 29, LONDON)]);
    expect(run(events, { rules: R }).alerts).toHaveLength(0);
    expect(run(events, { rules: two }).alerts).toHaveLength(0);
  });

  it('stays quiet on a family streaming at home on three devices, even with minHouseholds 2', () => {
    const two = only(['account_sharing'], { account_sharing: { minHouseholds: 2 } });
    const events = byTime([
      ...daily('acc1', 0, 20, LONDON, 19, 'tv'),
      ...daily('acc1', 0, 20, LONDON_2, 19, 'phone'),
      ...daily('acc1', 0, 20, LONDON, 20, 'tablet'),
    ]);
    expect(run(events, { rules: two }).alerts).toHaveLength(0);
  });

  it('treats a home address that changes within one /24, or within one city, as one household', () => {
    const two = only(['account_sharing'], { account_sharing: { minHouseholds: 2 } });
    const sameNetwork = byTime([...daily('acc1', 0, 9, '203.0.113.50'), ...daily('acc1', 10, 20, '203.0.113.51')]);
    expect(run(sameNetwork, { rules: two, locator: LOCATOR }).alerts).toHaveLength(0);
    const sameCity = byTime([...daily('acc2', 0, 9, LONDON), ...daily('acc2', 10, 20, '203.0.113.60')]);
    expect(run(sameCity, { rules: two, locator: LOCATOR }).alerts).toHaveLength(0);

    // Control: a coarse home moving to another network is another household.
    const otherNetwork = byTime([...daily('acc3', 0, 9, '203.0.113.50'), ...daily('acc3', 10, 20, '2001:db8:2::1')]);
    const alerts = run(otherNetwork, { rules: two, locator: LOCATOR }).of('account_sharing');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence.households).toEqual([
      { household: '203.0.113.0/24', kind: 'network', days: 10, firstDay: '2026-03-02', lastDay: '2026-03-11', lastSeenAt: '2026-03-11T19:20:00.000Z' },
      { household: '2001:db8:2::/48', kind: 'network', days: 8, firstDay: '2026-03-12', lastDay: '2026-03-19', lastSeenAt: '2026-03-19T19:00:00.000Z' },
    ]);
  });

  it('names IPv4 networks of any prefix length as networkPrefix does', () => {
    // The state keeps an IPv4 network as a number and rebuilds its text for the alert.
    const events = byTime([...daily('acc1', 0, 9, '203.0.113.50'), ...daily('acc1', 10, 20, '198.51.100.200')]);
    for (const bits of [8, 20, 23, 31, 32]) {
      const rules = only(['account_sharing'], { account_sharing: { minHouseholds: 2, ipv4PrefixBits: bits } });
      const alerts = run(events, { rules, locator: LOCATOR }).of('account_sharing');
      expect(alerts, `/${bits}`).toHaveLength(1);
      expect((alerts[0]!.evidence.households as { household: string; kind: string }[]).map((h) => [h.household, h.kind])).toEqual([
        [networkPrefix('203.0.113.50', bits), 'network'],
        [networkPrefix('198.51.100.200', bits), 'network'],
      ]);
    }
    // An IPv4-mapped IPv6 address is the same network as its dotted form: one household.
    const dualStack = byTime([...daily('acc2', 0, 9, '203.0.113.50'), ...daily('acc2', 10, 20, '::ffff:203.0.113.51')]);
    expect(run(dualStack, { rules: only(['account_sharing'], { account_sharing: { minHouseholds: 2 } }), locator: LOCATOR }).alerts).toHaveLength(0);
    const other = byTime([...daily('acc3', 0, 9, '203.0.113.50'), ...daily('acc3', 10, 20, '::ffff:198.51.100.200')]);
    const alerts = run(other, { rules: only(['account_sharing'], { account_sharing: { minHouseholds: 2 } }), locator: LOCATOR }).of('account_sharing');
    expect((alerts[0]!.evidence.households as { household: string }[]).map((h) => h.household)).toEqual(['203.0.113.0/24', '198.51.100.0/24']);
  });

  it('stays quiet on home + two trips of 2–3 consecutive days in different cities (issue 7)', () => {
    const events = byTime([...daily('acc1', 0, 25, LONDON), ...daily('acc1', 5, 7, PARIS, 21), ...daily('acc1', 15, 16, TOKYO, 12)]);
    expect(run(events, { rules: R }).alerts).toHaveLength(0);
    // Control: without the recurrence rule the same trips are three households with 2+ days.
    const noSpan = only(['account_sharing'], { account_sharing: { minSpanDays: 0 } });
    expect(run(events, { rules: noSpan }).of('account_sharing')).toHaveLength(1);
  });

  it("stays quiet on home + a trip + the user's phone once in the neighbouring town (issue 7)", () => {
    const events = byTime([...daily('acc1', 0, 25, LONDON), ...daily('acc1', 8, 10, MADRID, 21), ...on('acc1', [14], READING)]);
    expect(run(events, { rules: R }).alerts).toHaveLength(0);
  });

  it('honours minHouseholds, minSpanDays, minDaysPerHousehold and window', () => {
    const { events } = recurringScenario('acc1', 21);
    const cfg = (o: Record<string, unknown>) => run(events, { rules: only(['account_sharing'], { account_sharing: o }) }).of('account_sharing');
    expect(cfg({ minHouseholds: 4 })).toHaveLength(0);
    // Paris spans 14+ days on day 19 (1→19), Berlin on day 20 (3→20).
    expect(cfg({ minSpanDays: 14 }).map((a) => a.ts)).toEqual(['2026-03-22T21:00:00.000Z']);
    // Paris's fourth day is day 19, Berlin's day 20.
    expect(cfg({ minDaysPerHousehold: 4 }).map((a) => a.ts)).toEqual(['2026-03-22T21:00:00.000Z']);
    // A 14-day window on day 20 holds days 7..20: Paris 12, 19 (7 apart), Berlin 9, 15, 20.
    const w = cfg({ window: '14d' });
    expect(w.map((a) => a.ts)).toEqual(['2026-03-22T21:00:00.000Z']);
    expect(w[0]!.evidence.households).toMatchObject([
      { household: 'GB/ENG/London', days: 14, firstDay: '2026-03-09' },
      { household: 'DE/BE/Berlin', days: 3, firstDay: '2026-03-11', lastDay: '2026-03-22' },
      { household: 'FR/IDF/Paris', days: 2, firstDay: '2026-03-14', lastDay: '2026-03-21' },
    ]);
  });

  it('honours maxAccuracyKm: coarser fixes fall back to the network prefix', () => {
    // London and Reading (both in 198.51.100.0/24, 20 km fixes) on alternate days.
    const events = byTime([...on('acc1', [0, 2, 4, 6, 8, 10, 12], LONDON, 'tv'), ...on('acc1', [1, 3, 5, 7, 9, 11, 13], READING, 'phone')]);
    const byCity = run(events, { rules: only(['account_sharing'], { account_sharing: { minHouseholds: 2 } }) }).of('account_sharing');
    expect(byCity).toHaveLength(1);
    expect(byCity[0]!.evidence.households).toMatchObject([{ household: 'GB/ENG/London' }, { household: 'GB/ENG/Reading' }]);
    const byNetwork = only(['account_sharing'], { account_sharing: { minHouseholds: 2, maxAccuracyKm: 10 } });
    expect(run(events, { rules: byNetwork }).alerts).toHaveLength(0);
  });

  it('gives the same alerts when events arrive out of order within the lateness', () => {
    const { sessions, events } = recurringScenario();
    const inOrder = run(events, { rules: R, latenessMs: HOUR }).alerts;
    // Every session arrives backwards (stop first, start last): up to 30 minutes out of order.
    const shuffled = [...sessions]
      .sort((a, b) => Date.parse(String(a[0]!.ts)) - Date.parse(String(b[0]!.ts)))
      .flatMap((s) => [...s].reverse());
    const r = run(shuffled, { rules: R, latenessMs: HOUR });
    expect(r.stats.late).toBe(0);
    expect(r.alerts).toEqual(inOrder);
    expect(inOrder).toHaveLength(1);
  });

  it('counts a day that arrives later than the lateness allows', () => {
    const home = daily('acc1', 0, 16, LONDON);
    const paris = on('acc1', [6, 13], PARIS);
    const berlinLate = on('acc1', [2], BERLIN);
    const berlin14 = on('acc1', [14], BERLIN);
    const inOrder = byTime([...home, ...paris, ...berlinLate, ...berlin14]);
    // Berlin's day-2 session arrives right after day 12's events, ten days late.
    const cut = inOrder.findIndex((e) => Date.parse(String(e.ts)) >= Date.parse('2026-03-15T00:00:00Z'));
    const withoutLate = inOrder.filter((e) => !berlinLate.includes(e));
    const lateOrder = [...withoutLate.slice(0, cut - berlinLate.length), ...berlinLate, ...withoutLate.slice(cut - berlinLate.length)];
    const r = run(lateOrder, { rules: R, latenessMs: 0 });
    expect(r.stats.late).toBe(berlinLate.length);
    const alerts = r.of('account_sharing');
    expect(alerts.map((a) => a.ts)).toEqual(['2026-03-16T21:00:00.000Z']);
    expect(alerts[0]!.evidence.households).toContainEqual({
      household: 'DE/BE/Berlin',
      kind: 'place',
      days: 2,
      firstDay: '2026-03-04',
      lastDay: '2026-03-16',
      lastSeenAt: '2026-03-16T21:00:00.000Z',
    });
    expect(alerts).toEqual(run(inOrder, { rules: R, latenessMs: 0 }).alerts);
  });

  it("adds a late day to a household already known, without moving its latest time back", () => {
    const home = daily('acc1', 0, 16, LONDON);
    const paris = on('acc1', [6, 13], PARIS);
    const berlin = on('acc1', [10, 14], BERLIN); // 4 days apart: not recurring yet
    const berlinLate = on('acc1', [3], BERLIN);
    // Berlin's day-3 session arrives eleven days late, right after its day-14 session.
    const r = run([...byTime([...home.filter((e) => Date.parse(String(e.ts)) < Date.parse('2026-03-17T00:00:00Z')), ...paris, ...berlin]), ...berlinLate], {
      rules: R,
      latenessMs: 0,
    });
    const alerts = r.of('account_sharing');
    expect(alerts).toHaveLength(1);
    // The late start completes the recurrence (days 3, 10, 14) and is the trigger.
    expect(alerts[0]!.eventIds.at(-1)).toBe(berlinLate[0]!.eventId);
    expect(alerts[0]!.evidence.households).toContainEqual({
      household: 'DE/BE/Berlin',
      kind: 'place',
      days: 3,
      firstDay: '2026-03-05',
      lastDay: '2026-03-16',
      lastSeenAt: '2026-03-16T21:20:00.000Z',
    });
  });

  it('counts a duplicated event once', () => {
    const { events } = recurringScenario();
    const once = run(events, { rules: R }).alerts;
    const twice = run(events.flatMap((e) => [e, e]), { rules: R });
    expect(twice.stats.duplicates).toBe(events.length);
    expect(twice.alerts).toEqual(once);

    // Paris and Berlin on one day each, every event delivered twice: still one day each, no recurrence.
    const dup = byTime([...daily('acc2', 0, 20, LONDON), ...on('acc2', [3], PARIS), ...on('acc2', [5], BERLIN)]);
    expect(run(dup.flatMap((e) => [e, e]), { rules: only(['account_sharing'], { account_sharing: { minHouseholds: 2 } }) }).alerts).toHaveLength(0);
  });

  it('keeps state bounded, plain JSON, and forgets households that left the window', () => {
    const det = accountSharing.create(accountSharing.options.parse({ maxHouseholds: 4 }));
    const found: Finding[] = [];
    const locator = testLocator();
    let state: unknown;
    const feed = (raw: RawEvent) => {
      const d = decodeValue(raw);
      if (!d.ok) throw new Error(d.message);
      const ev = d.event;
      if (det.keyOf(ev) === undefined) return;
      state = det.onEvent(ev, state as never, { geo: locator.lookup(ev.ip!), locator, findings: [] }, (f) => found.push(f), ev.accountId);
    };
    // Six places on day 0, then home alone from day 40: a VPN hopping through cities must not grow the state.
    [LONDON, PARIS, BERLIN, MADRID, NEW_YORK, TOKYO].forEach((ip, i) => stream('acc1', 0, ip, 10 + i).forEach(feed));
    // The state is flat: [alert day, alert count, (key, mask, time, eventId) per household].
    const households = () => (state as unknown[]).slice(2).filter((_, i) => i % 4 === 0);
    expect(households().sort()).toEqual(['DE/BE/Berlin', 'ES/MD/Madrid', 'JP/13/Tokyo', 'US/NY/New York']);
    for (const e of stream('acc1', 40, LONDON, 12)) feed(e);
    expect(households()).toEqual(['GB/ENG/London']);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    expect(found).toHaveLength(0);
    // Stops and logins are not scored: the key function says so before any work.
    const stop = decodeValue(stream('acc1', 0, LONDON, 12).at(-1)!);
    const signIn = decodeValue(login('acc1', 0, LONDON));
    expect(stop.ok && signIn.ok).toBe(true);
    if (stop.ok && signIn.ok) {
      expect(det.keyOf(stop.event)).toBeUndefined();
      expect(det.keyOf(signIn.event)).toBeUndefined();
    }
  });

  it('rejects out-of-range options', () => {
    expect(() => only(['account_sharing'], { account_sharing: { window: '60d' } })).toThrow();
    expect(() => only(['account_sharing'], { account_sharing: { minHouseholds: 1 } })).toThrow();
    expect(() => only(['account_sharing'], { account_sharing: { minSpanDays: 31 } })).toThrow();
    expect(() => only(['account_sharing'], { account_sharing: { maxAccuracyKm: 0 } })).toThrow();
  });
});
