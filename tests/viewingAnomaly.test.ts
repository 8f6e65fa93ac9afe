import { describe, expect, it } from 'vitest';
import { viewingAnomaly } from '../src/detectors/viewingAnomaly.js';
import type { Finding } from '../src/detectors/types.js';
import { decodeValue } from '../src/events/decode.js';
import { byTime, DAY, HOUR, login, MIN, only, run, session, testLocator, type RawEvent } from './helpers.js';

const R = only(['viewing_anomaly']);
const HOME = '198.51.100.1';
const rulesWith = (o: Record<string, unknown>) => only(['viewing_anomaly'], { viewing_anomaly: o });

/** Offset of `hourUtc`:mm UTC on day `day` (day 0 = 2026-03-02; the helpers' origin is 08:00 UTC). */
function atUtc(day: number, hourUtc: number, minute = 0): number {
  return day * DAY + (hourUtc - 8) * HOUR + minute * MIN;
}

let sid = 0;
/** One session: start, a heartbeat every 5 minutes, stop. Viewing time = its duration. */
function watch(account: string, startMs: number, durationMs: number, device = 'tv', beatMs = 5 * MIN): RawEvent[] {
  return session(account, startMs, durationMs, HOME, device, `s${++sid}`, beatMs);
}

/** Habit: `hoursPerDay[i]` hours on day `firstDay + i`, starting at `hourUtc` UTC. */
function habit(account: string, firstDay: number, hoursPerDay: number[], hourUtc: number): RawEvent[] {
  return hoursPerDay.flatMap((h, i) => watch(account, atUtc(firstDay + i, hourUtc), h * HOUR));
}

/** Issue 7: 14 days of 1 h (09:00–10:00 UTC), then 9 h on day 14 (09:00–18:00 UTC). */
function lightViewerBinge(account = 'acc1') {
  const history = habit(account, 0, Array(14).fill(1), 9);
  const binge = watch(account, atUtc(14, 9), 9 * HOUR);
  return { history, binge, events: byTime([...history, ...binge]) };
}

function idAt(events: RawEvent[], offsetMs: number): string {
  const iso = new Date(Date.parse('2026-03-02T08:00:00.000Z') + offsetMs).toISOString();
  return String(events.find((e) => e.ts === iso && e.action !== 'stop')!.eventId);
}

describe('viewing_anomaly', () => {
  it('alerts once when viewing in 24 h passes the 16 h cap, on a new account too', () => {
    const binge = watch('acc1', 0, 17 * HOUR); // 08:00 to 01:00 the next day, a new account
    const alerts = run(binge, { rules: R }).of('viewing_anomaly');
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.severity).toBe('high');
    // The first heartbeat past 16 h: 16 h 05 m after the start.
    expect(a.ts).toBe('2026-03-03T00:05:00.000Z');
    expect(a.evidence).toEqual({
      reason: 'absolute_cap',
      hours: 16.1,
      window: '24h',
      windowStart: '2026-03-02T01:00:00.000Z',
      absoluteCapHours: 16,
      minHours: 6,
      historyDays: 0,
      minHistoryDays: 7,
      // No history: the prior alone, 2 h ± 3 h. z = (16 h 05 m − 2 h) / 3 h = 4.69.
      baseline: { medianHours: 2, madHours: 0, scaleHours: 3, z: 4.7, zThreshold: 5, highZThreshold: 8, ownMedianHours: 0, priorShare: 1 },
      openSessions: 1,
    });
    expect(a.summary).toBe('Account acc1 watched 16h5m in the last 24h (all screens counted once), above the 16h cap.');
    expect(a.eventIds).toEqual([binge[0]!.eventId, idAt(binge, 16 * HOUR + 5 * MIN)]);
  });

  it('alerts on 9 h in a day after 14 days of about 1 h a day (issue 7): medium, then high as it grows', () => {
    const { binge, events } = lightViewerBinge();
    const alerts = run(events, { rules: R }).of('viewing_anomaly');
    expect(alerts).toHaveLength(2);
    const a = alerts[0]!;
    // History: days 0..12 (day 13 overlaps the window), each day's peak window 1 h (09:00–10:00
    // UTC; yesterday's hour is just outside a window ending at 09:xx): median 1, MAD 0, scale =
    // minScale 1 h. Threshold max(6 h, 1 + 5 × 1 h) = 6 h, reached at 15:00 after 6 h of the
    // binge: z = (6 − 1) / 1 = 5, under highZThreshold 8: medium.
    expect(a.ts).toBe('2026-03-16T15:00:00.000Z');
    expect(a.severity).toBe('medium');
    expect(a.evidence).toEqual({
      reason: 'baseline',
      hours: 6,
      window: '24h',
      windowStart: '2026-03-15T16:00:00.000Z',
      absoluteCapHours: 16,
      minHours: 6,
      historyDays: 13,
      minHistoryDays: 7,
      baseline: { medianHours: 1, madHours: 0, scaleHours: 1, z: 5, zThreshold: 5, highZThreshold: 8 },
      openSessions: 1,
    });
    expect(a.summary).toBe(
      'Account acc1 watched 6h in the last 24h (all screens counted once) against a usual peak of 1h in any 24h on its 13 recent viewing days (robust z 5, threshold 5, high from 8).',
    );
    expect(a.eventIds).toEqual([binge[0]!.eventId, idAt(binge, atUtc(14, 15))]);
    // 1 + 8 × 1 h = 9 h: reached at the stop, 18:00, which rises to high (one more page).
    const b = alerts[1]!;
    expect([b.ts, b.severity, b.evidence.hours, (b.evidence.baseline as { z: number }).z]).toEqual(['2026-03-16T18:00:00.000Z', 'high', 9, 8]);
  });

  it('a binge that goes on is one episode: one page with the default rules', () => {
    const alerts = run(watch('acc1', 0, 41 * HOUR), { rules: R }).of('viewing_anomaly');
    expect(alerts.map((a) => [a.ts, a.evidence.reason])).toEqual([['2026-03-03T00:05:00.000Z', 'absolute_cap']]);
  });

  it('re-alerts a binge once a window later, not every cooldown (with a short episode gap)', () => {
    const short = only(['viewing_anomaly'], { viewing_anomaly: { cooldown: '30m' } });
    const alerts = run(watch('acc1', 0, 41 * HOUR), { rules: short }).of('viewing_anomaly');
    expect(alerts.map((a) => [a.ts, a.evidence.reason, a.evidence.hours])).toEqual([
      ['2026-03-03T00:05:00.000Z', 'absolute_cap', 16.1],
      // 24 h later the window (hours 01:00..00:59) is all viewing.
      ['2026-03-04T00:05:00.000Z', 'absolute_cap', 23.1],
    ]);
  });

  it('stays quiet on a heavy viewer who watches 7–8 h every day and then 9 h', () => {
    // 7, 8, 7.5 h repeating, every session ending at 22:00 UTC; then 9 h (13:00–22:00).
    const hours = Array.from({ length: 20 }, (_, i) => [7, 8, 7.5][i % 3]!);
    const events = byTime([...hours.flatMap((h, d) => watch('acc1', atUtc(d, 22) - h * HOUR, h * HOUR)), ...watch('acc1', atUtc(20, 13), 9 * HOUR)]);
    expect(run(events, { rules: R }).alerts).toHaveLength(0);
    // Control: the baseline is in use, and the 9 h day scores z 1.5. History days 0–18: median
    // 7.5, MAD 0.5 → scale 1 h. With z ≥ 1.5 the threshold is 9 h, reached only at the stop at
    // 22:00 (until then the window still holds part of the day before and less of this one).
    const alerts = run(events, { rules: rulesWith({ zThreshold: 1.5, priorWeight: 0, minScaleShare: 0 }) }).of('viewing_anomaly');
    expect(alerts.map((a) => a.ts)).toEqual(['2026-03-22T22:00:00.000Z']);
    // With the prior (the default), day 0 too is judged: 2 + 1.5 × 3 h = 6.5 h, at 21:30.
    expect(run(events, { rules: rulesWith({ zThreshold: 1.5, minScaleShare: 0 }) }).of('viewing_anomaly').map((a) => a.ts)).toEqual(['2026-03-02T21:30:00.000Z', '2026-03-22T22:00:00.000Z']);
    // With the spread floor at its default share (0.35 × 7.5 h = 2.6 h), 9 h is within 1.5 z:
    // 7.5 + 1.5 × 2.625 = 11.4 h.
    expect(run(events, { rules: rulesWith({ zThreshold: 1.5, priorWeight: 0 }) }).alerts).toHaveLength(0);
    expect(alerts[0]!.evidence).toMatchObject({ reason: 'baseline', hours: 9, historyDays: 19, baseline: { medianHours: 7.5, madHours: 0.5, z: 1.5 } });
  });

  it('stays quiet on a new account binge-watching 8 h, or 15 h: only the cap applies', () => {
    expect(run(watch('acc1', 0, 8 * HOUR), { rules: R }).alerts).toHaveLength(0);
    expect(run(watch('acc2', 0, 15 * HOUR), { rules: R }).alerts).toHaveLength(0);
  });

  it('stays quiet on a family watching 6 h on 3 screens: 6 h of viewing, not 18 h', () => {
    const screens = ['tv', 'tablet', 'phone'].map((device) => watch('acc1', atUtc(0, 16), 6 * HOUR, device));
    const family = byTime(screens.flat());
    expect(run(family, { rules: R }).alerts).toHaveLength(0);
    expect(run(family, { rules: rulesWith({ absoluteCap: '7h' }) }).alerts).toHaveLength(0);
    // Control: a 5 h cap is passed at the first heartbeat after 5 h, with 5 h 05 m counted once.
    const a = run(family, { rules: rulesWith({ absoluteCap: '5h' }) }).of('viewing_anomaly');
    expect(a.map((x) => [x.ts, x.evidence.hours, x.evidence.openSessions])).toEqual([['2026-03-02T21:05:00.000Z', 5.1, 3]]);
    // The three starts, then the trigger: the first screen's heartbeat at 21:05.
    expect(a[0]!.eventIds).toEqual([...screens.map((s) => s[0]!.eventId), idAt(screens[0]!, atUtc(0, 21, 5))]);
  });

  it('counts overlapping screens as the union of their time, to the minute', () => {
    // tv 0–4 h, tablet 2–6 h, phone 5:01–7:01 with heartbeats every 2 min: union 7 h 01 m, sum 10 h.
    const events = byTime([
      ...watch('acc1', 0, 4 * HOUR, 'tv'),
      ...watch('acc1', 2 * HOUR, 4 * HOUR, 'tablet'),
      ...watch('acc1', 5 * HOUR + MIN, 2 * HOUR, 'phone', 2 * MIN),
    ]);
    expect(run(events, { rules: rulesWith({ absoluteCap: '9h' }) }).alerts).toHaveLength(0);
    const a = run(events, { rules: rulesWith({ absoluteCap: '7h' }) }).of('viewing_anomaly');
    // Only the phone's stop at 7:01 takes the union past 7 h. That needs the minute 5:00–5:01,
    // which only the tablet covered, although the phone's first stretch was counted before it.
    expect(a.map((x) => x.ts)).toEqual(['2026-03-02T15:01:00.000Z']);
  });

  it('does not count gaps longer than the session timeout, and honours sessionTimeout', () => {
    const sparse = watch('acc1', 0, 17 * HOUR, 'tv', 20 * MIN); // a heartbeat every 20 minutes
    expect(run(sparse, { rules: R }).alerts).toHaveLength(0);
    const a = run(sparse, { rules: rulesWith({ sessionTimeout: '30m' }) }).of('viewing_anomaly');
    // Counted in 20-minute steps: 16 h 20 m at the first heartbeat past 16 h.
    expect(a.map((x) => [x.ts, x.evidence.hours])).toEqual([['2026-03-03T00:20:00.000Z', 16.3]]);
  });

  it('honours minViewing, zThreshold, minScale and minHistoryDays', () => {
    const { events } = lightViewerBinge();
    const first = (o: Record<string, unknown>) => run(events, { rules: rulesWith(o) }).of('viewing_anomaly').map((a) => [a.ts, a.evidence.hours]);
    // Each medium alert is followed by the rise to high at 9 h (1 + 8 × 1 h), at 18:00.
    expect(first({ minViewing: '8h' })).toEqual([['2026-03-16T17:00:00.000Z', 8], ['2026-03-16T18:00:00.000Z', 9]]);
    expect(first({ zThreshold: 7.5 })).toEqual([['2026-03-16T17:30:00.000Z', 8.5], ['2026-03-16T18:00:00.000Z', 9]]);
    expect(first({ highZThreshold: 9 })).toEqual([['2026-03-16T15:00:00.000Z', 6]]);
    // 1 + 5 × 2 h = 11 h: more than the 9 h binge.
    expect(first({ minScale: '2h' })).toEqual([]);
    expect(first({ minHistoryDays: 14, priorWeight: 0 })).toEqual([]);
    // 13 days < 14: shrunk toward the prior with weight 1: median (2 + 13 × 1) / 14 = 1.071 h,
    // scale (3 + 13 × 1) / 14 = 1.143 h, threshold 1.071 + 5 × 1.143 = 6.79 h: the heartbeat
    // at 15:50 (6 h 50 m); high would need 1.071 + 8 × 1.143 = 10.2 h.
    expect(first({ minHistoryDays: 14 })).toEqual([['2026-03-16T15:50:00.000Z', 6.8]]);
    // A heavier prior weight pulls harder: weight 13 gives median 1.5 h and scale 2 h, threshold 11.5 h.
    expect(first({ minHistoryDays: 14, priorWeight: 13 })).toEqual([]);
    expect(first({ minHistoryDays: 13 })).toEqual([['2026-03-16T15:00:00.000Z', 6], ['2026-03-16T18:00:00.000Z', 9]]);
  });

  it('honours baselineWindow: only the recent days are the habit', () => {
    // Days 0–6: 5 h a day; days 7–13: 1 h a day; day 14: 9 h.
    const events = byTime([...habit('acc1', 0, Array(7).fill(5), 9), ...habit('acc1', 7, Array(7).fill(1), 9), ...watch('acc1', atUtc(14, 9), 9 * HOUR)]);
    // 28 days: history days 0–12 = seven 5 h days and six 1 h days, median 5 h: 9 h is usual.
    expect(run(events, { rules: R }).alerts).toHaveLength(0);
    // 7 days: days 6–12 = one 5 h day and six 1 h days, median 1 h, MAD 0: threshold 6 h.
    const a = run(events, { rules: rulesWith({ baselineWindow: '7d' }) }).of('viewing_anomaly');
    expect(a.map((x) => [x.ts, x.evidence.historyDays, (x.evidence.baseline as { medianHours: number }).medianHours])).toEqual([
      ['2026-03-16T15:00:00.000Z', 7, 1],
      // The rise to high at 1 + 8 × 1 h = 9 h.
      ['2026-03-16T18:00:00.000Z', 7, 1],
    ]);
  });

  it('honours window: a 12 h window never holds more than 12 h', () => {
    const binge = watch('acc1', 0, 20 * HOUR);
    expect(run(binge, { rules: rulesWith({ absoluteCap: '12h' }) }).of('viewing_anomaly').map((a) => a.ts)).toEqual(['2026-03-02T20:05:00.000Z']);
    expect(run(binge, { rules: rulesWith({ absoluteCap: '12h', window: '12h' }) }).alerts).toHaveLength(0);
  });

  it('gives the same alerts when events arrive out of order within the lateness', () => {
    const { events } = lightViewerBinge();
    const inOrder = run(events, { rules: R, latenessMs: HOUR }).alerts;
    // Events arrive in runs of up to 30 minutes, each run backwards (stops before starts).
    const runs: RawEvent[][] = [];
    for (const e of events) {
      const current = runs.at(-1);
      if (current && Date.parse(String(e.ts)) - Date.parse(String(current[0]!.ts)) <= 30 * MIN) current.push(e);
      else runs.push([e]);
    }
    const shuffled = runs.flatMap((r) => r.reverse());
    expect(shuffled).not.toEqual(events);
    const r = run(shuffled, { rules: R, latenessMs: HOUR });
    expect(r.stats.late).toBe(0);
    expect(r.alerts).toEqual(inOrder);
    expect(inOrder.map((a) => a.severity)).toEqual(['medium', 'high']);
  });

  it('neither double counts nor loses time when a screen arrives later than the lateness', () => {
    // tv 0–4 h, tablet 2–6 h: union 6 h, sum 8 h. The tablet's first two hours arrive after the tv's stop.
    const tv = watch('acc1', 0, 4 * HOUR, 'tv');
    const tablet = watch('acc1', 2 * HOUR, 4 * HOUR, 'tablet');
    const early = tablet.filter((e) => Date.parse(String(e.ts)) < Date.parse('2026-03-02T12:00:00Z'));
    const rest = tablet.filter((e) => !early.includes(e));
    const arrival = [...tv, ...early, ...rest];
    const quiet = run(arrival, { rules: rulesWith({ absoluteCap: '6h' }), latenessMs: 0 });
    expect(quiet.stats.late).toBe(early.length);
    expect(quiet.alerts).toHaveLength(0);
    const a = run(arrival, { rules: rulesWith({ absoluteCap: '5h' }), latenessMs: 0 }).of('viewing_anomaly');
    expect(a.map((x) => [x.ts, x.evidence.hours])).toEqual([['2026-03-02T13:05:00.000Z', 5.1]]);
  });

  it('ignores a heartbeat that arrives after later ones of its session', () => {
    // 17.5 h with no events from 10 h to 11 h (paused): 16.5 h of viewing, past 16 h at 17:05.
    const events = watch('acc1', 0, 17.5 * HOUR).filter((e) => {
      const t = Date.parse(String(e.ts)) - Date.parse('2026-03-02T08:00:00.000Z');
      return t <= 10 * HOUR || t >= 11 * HOUR;
    });
    const expected = [['2026-03-03T01:05:00.000Z', 16.1]];
    expect(run(events, { rules: R, latenessMs: 0 }).of('viewing_anomaly').map((a) => [a.ts, a.evidence.hours])).toEqual(expected);
    // The 9:55 heartbeat arrives after the one at 11:05: it must not reopen 9:55–11:05.
    const at955 = events.findIndex((e) => e.ts === '2026-03-02T17:55:00.000Z');
    const at1105 = events.findIndex((e) => e.ts === '2026-03-02T19:05:00.000Z');
    const arrival = [...events.slice(0, at955), ...events.slice(at955 + 1, at1105 + 1), events[at955]!, ...events.slice(at1105 + 1)];
    const r = run(arrival, { rules: R, latenessMs: 0 });
    expect(r.stats.late).toBe(1);
    expect(r.of('viewing_anomaly').map((a) => [a.ts, a.evidence.hours])).toEqual(expected);
  });

  it('does not count twice the time of a screen whose events arrive hours late', () => {
    // tv 0–1 h and 2–9 h: 8 h. A tablet's 0:30–1:30 arrives at the end, hours late: at most
    // its 1:00–1:30 is new (8.5 h); counting its 0:30–1:00 again would make 9 h.
    const events = [...watch('acc1', 0, HOUR, 'tv'), ...watch('acc1', 2 * HOUR, 7 * HOUR, 'tv'), ...watch('acc1', 30 * MIN, HOUR, 'tablet')];
    const r = run(events, { rules: rulesWith({ absoluteCap: '8.5h' }), latenessMs: 0 });
    expect(r.stats.late).toBeGreaterThan(0);
    expect(r.alerts).toHaveLength(0);
  });

  it('does not count twice a screen whose events arrive late after the others stopped', () => {
    // tv 08:00–12:00; a phone's 11:50–12:00 arrives after the tv's stop: still 4 h.
    const tv = watch('acc1', 0, 4 * HOUR, 'tv');
    const phone = watch('acc1', 3 * HOUR + 50 * MIN, 10 * MIN, 'phone');
    const r = run([...tv, ...phone], { rules: rulesWith({ absoluteCap: '4h' }), latenessMs: 0 });
    expect(r.stats.late).toBe(2);
    expect(r.alerts).toHaveLength(0);
  });

  it('adds a late stretch to an hour and a day already closed', () => {
    const det = viewingAnomaly.create(viewingAnomaly.options.parse({ absoluteCap: '2h' }));
    const locator = testLocator();
    const found: Finding[] = [];
    let state: unknown;
    const feed = (raw: RawEvent) => {
      const d = decodeValue(raw);
      if (!d.ok) throw new Error(d.message);
      state = det.onEvent(d.event, state as never, { geo: null, locator, findings: [] }, (f) => found.push(f), d.event.accountId);
    };
    // tv 22:00–23:30; tablet 23:30–00:00 (a heartbeat every 10 minutes) whose stop arrives after
    // the phone's 00:00–00:05, which closed the hour and the day it belongs to.
    const tv = session('acc1', atUtc(0, 22), 90 * MIN, HOME, 'tv', 'tv-1', 10 * MIN);
    const tablet = session('acc1', atUtc(0, 23, 30), 30 * MIN, HOME, 'tablet', 'tab-1', 10 * MIN);
    const phone = session('acc1', atUtc(1, 0), 10 * MIN, HOME, 'phone', 'ph-1', 5 * MIN, false);
    for (const e of [...tv, ...tablet.slice(0, 3), ...phone, tablet[3]!]) feed(e);
    // 1 h 30 m + 30 m + 5 m: past the 2 h cap at the tablet's late stop.
    expect(found.map((f) => [f.eventIds.at(-1), f.evidence.hours])).toEqual([[tablet[3]!.eventId, 2.1]]);
    // Hours 22:00 and 23:00 closed at 60 minutes each (240 units of 15 s). Day 0 closed with its
    // peak window as measured on day 0 (tv 1 h 30 m + tablet to 23:50: 110 min, 18 units of
    // 6 min); the late 10 minutes raise the window measured on day 1: 2 h 05 m.
    const s = state as { hs: string; ds: string; hm: number; dm: number };
    expect([...s.hs].map((ch) => ch.charCodeAt(0))).toEqual([240, 240]);
    expect([...s.ds].map((ch) => ch.charCodeAt(0))).toEqual([18]);
    expect([s.hm, s.dm]).toEqual([5 * MIN, 125 * MIN]);
  });

  describe('like with like: the baseline is each day\'s peak 24 h window', () => {
    // Evenings of 4–6 h whose start wanders between 17:00 and 21:00 UTC: three weeks of them.
    const starts = [17, 21, 18, 20.5, 17.5, 21, 19];
    const lengths = [4.5, 5, 4, 5, 4.5, 6, 4.5];
    const evenings = (account: string, days: number) =>
      Array.from({ length: days }, (_, d) => watch(account, atUtc(d, starts[d % 7]!), lengths[d % 7]! * HOUR)).flat();
    // Then a late long evening (21:00–03:00) and an early one the next day (15:00–21:00).
    const twoEvenings = (account: string) => [...watch(account, atUtc(21, 21), 6 * HOUR), ...watch(account, atUtc(22, 15), 6 * HOUR)];

    /** Independent reference: viewing per UTC calendar day, and the largest sum of any 24 h window ending on the hour. */
    function reference(events: RawEvent[]) {
      const minutes = new Map<number, number>(); // minute index → 1 when watched
      const open = new Map<string, number>();
      for (const e of events) {
        const t = Math.floor(Date.parse(String(e.ts)) / MIN);
        const sidKey = String(e.sessionId);
        const last = open.get(sidKey);
        if (last !== undefined) for (let m = last; m < t; m++) minutes.set(m, 1);
        if (e.action === 'stop') open.delete(sidKey);
        else open.set(sidKey, t);
      }
      const daily = new Map<number, number>();
      for (const m of minutes.keys()) daily.set(Math.floor(m / 1440), (daily.get(Math.floor(m / 1440)) ?? 0) + 1 / 60);
      let maxWindow = 0;
      const all = [...minutes.keys()].sort((a, b) => a - b);
      for (const end of all) maxWindow = Math.max(maxWindow, all.filter((m) => m > end - 1440 && m <= end).length / 60);
      return { daily: [...daily.values()], maxWindow };
    }

    it('stays quiet on long evenings whose 24 h window spans two of them (the heavy-evening trap)', () => {
      const events = byTime([...evenings('acc1', 21), ...twoEvenings('acc1')]);
      expect(run(events, { rules: R }).alerts).toHaveLength(0);
      // Control, computed apart from the detector: against calendar days the two evenings are an
      // anomaly. The median day is about 4.5 h with a MAD well under an hour, so the spread is
      // the 1 h floor; the window holds 10 h or more: z ≥ 5.
      const { daily, maxWindow } = reference(events);
      const sorted = daily.slice(0, 21).sort((a, b) => a - b);
      const median = sorted[10]!;
      expect(median).toBeLessThan(5);
      expect(maxWindow).toBeGreaterThanOrEqual(10);
      expect(maxWindow - median).toBeGreaterThanOrEqual(5);
    });

    it('still alerts on an evening viewer when a day goes far past its usual peak window', () => {
      // 4 h evenings starting between 18:00 and 20:00 UTC for three weeks, then 14 h in a day.
      const steady = [18, 20, 19, 18.5, 20, 19.5, 18];
      const history = Array.from({ length: 21 }, (_, d) => watch('acc1', atUtc(d, steady[d % 7]!), 4 * HOUR)).flat();
      const events = byTime([...history, ...watch('acc1', atUtc(22, 6), 14 * HOUR)]);
      const alerts = run(events, { rules: R }).of('viewing_anomaly');
      expect(alerts.length).toBeGreaterThanOrEqual(1);
      expect(alerts[0]!.evidence).toMatchObject({ reason: 'baseline' });
      expect((alerts[0]!.evidence.hours as number)).toBeLessThan(14);
      // The baseline it is judged against is a peak window: more than a calendar day's 4 h
      // (a window ending late on one evening holds part of the evening before).
      const { maxWindow } = reference(history);
      const median = (alerts[0]!.evidence.baseline as { medianHours: number }).medianHours;
      expect(median).toBeGreaterThan(4);
      expect(median).toBeLessThanOrEqual(maxWindow);
    });
  });

  describe('young accounts: shrunk toward the population prior', () => {
    it('stays quiet on a young evening viewer whose first long weekend spans two evenings (minScaleShare)', () => {
      // Four evenings of 4.5 h (18:00–22:30 UTC), then 21:00–03:00 and 15:00–21:00: a 24 h window of 12 h.
      const events = byTime([...habit('acc1', 0, [4.5, 4.5, 4.5, 4.5], 18), ...watch('acc1', atUtc(4, 21), 6 * HOUR), ...watch('acc1', atUtc(5, 15), 6 * HOUR)]);
      // Own days [4.5 × 4]: MAD 0, spread floor max(1 h, 0.5 × 4.5 h) = 2.25 h (young: youngScaleShare);
      // prior share 1/5: median 0.2 × 2 + 0.8 × 4.5 = 4 h, scale 0.2 × 3 + 0.8 × 2.25 = 2.4 h: threshold 16 h.
      expect(run(events, { rules: R }).alerts).toHaveLength(0);
      // Control: without the share floors the scale is 0.2 × 3 + 0.8 × 1 = 1.4 h, threshold 11 h: medium.
      const control = run(events, { rules: rulesWith({ minScaleShare: 0, youngScaleShare: 0 }) }).of('viewing_anomaly');
      expect(control.map((a) => [a.ts.slice(0, 10), a.severity])).toEqual([['2026-03-07', 'medium']]);
    });

    it('stays quiet on five weekday evenings of about 3.3 h, then a weekend window of almost 12 h', () => {
      // As a generated heavy-evening trap did: five own days [3.3 × 5], then two evenings of
      // 6 h, 21:00–03:00 and 15:00–21:00 (a 24 h window of 12 h). Own: MAD 0, spread floor
      // max(1 h, 0.5 × 3.3 h) = 1.65 h; prior share 1/6: median 1/6 × 2 + 5/6 × 3.3 = 3.08 h, scale
      // 1/6 × 3 + 5/6 × 1.65 = 1.88 h: threshold 3.08 + 5 × 1.88 = 12.5 h, over the 12 h.
      const events = byTime([...habit('acc1', 0, [3.3, 3.3, 3.3, 3.3, 3.3], 18), ...watch('acc1', atUtc(5, 21), 6 * HOUR), ...watch('acc1', atUtc(6, 15), 6 * HOUR)]);
      expect(run(events, { rules: R }).alerts).toHaveLength(0);
      // Control: with the established accounts' share for young ones too (0.35: floor 1.16 h,
      // scale 1.46 h, threshold 10.4 h) the same weekend pages.
      expect(run(events, { rules: rulesWith({ youngScaleShare: 0.35 }) }).of('viewing_anomaly').map((a) => a.severity)).toEqual(['medium']);
    });

    it('alerts on a jump from 1 h a day to 9 h after three days', () => {
      const events = byTime([...habit('acc1', 0, [1, 1, 1, 1], 9), ...watch('acc1', atUtc(4, 9), 9 * HOUR)]);
      const alerts = run(events, { rules: R }).of('viewing_anomaly');
      // Day 3 overlaps the window, so the history is days 0–2: three own days of 1 h (peak
      // windows), prior 2 h ± 3 h worth one day: share 1/4, median
      // 0.25 × 2 + 0.75 × 1 = 1.25 h, scale 0.25 × 3 + 0.75 × 1 = 1.5 h; threshold 1.25 + 5 × 1.5
      // = 8.75 h, reached at the heartbeat at 17:45: z = (8.75 − 1.25) / 1.5 = 5, medium.
      expect(alerts.map((a) => [a.ts, a.severity, a.evidence.hours])).toEqual([['2026-03-06T17:45:00.000Z', 'medium', 8.8]]);
      expect(alerts[0]!.evidence.baseline).toEqual({ medianHours: 1.3, madHours: 0, scaleHours: 1.5, z: 5, zThreshold: 5, highZThreshold: 8, ownMedianHours: 1, priorShare: 0.25 });
      expect(alerts[0]!.summary).toContain("shrunk toward the population's 2h for a young account");
      // Without a prior (priorWeight 0) a young account is judged by the cap alone, as before.
      expect(run(events, { rules: rulesWith({ priorWeight: 0 }) }).alerts).toHaveLength(0);
    });

    it('stays quiet on a new account watching 8.5–9.5 h a day from its first day (the young heavy-viewer trap)', () => {
      const events = habit('acc1', 0, [9, 8.5, 9.5, 9, 8.5, 9.5], 9);
      expect(run(events, { rules: R }).alerts).toHaveLength(0);
      // Control: the prior is in use. With a lighter population spread (1 h) a first day of 9 h
      // is 7 h over the prior's 2 h: z 7 from the first day.
      const control = run(events, { rules: rulesWith({ priorSpread: '1h' }) }).of('viewing_anomaly');
      expect(control[0]!.ts.slice(0, 10)).toBe('2026-03-02');
    });
  });

  it('counts a duplicated event once', () => {
    const events = watch('acc1', 0, 17 * HOUR);
    const once = run(events, { rules: R }).alerts;
    const twice = run(events.flatMap((e) => [e, e]), { rules: R });
    expect(twice.stats.duplicates).toBe(events.length);
    expect(twice.alerts).toEqual(once);
    // 15 h delivered twice is still 15 h: under the cap.
    const fifteen = watch('acc2', 0, 15 * HOUR);
    expect(run(fifteen.flatMap((e) => [e, e]), { rules: R }).alerts).toHaveLength(0);
  });

  it('keeps state bounded and plain JSON, ignores logins, and drops it when there is nothing to keep', () => {
    const det = viewingAnomaly.create(viewingAnomaly.options.parse({ maxSessions: 4 }));
    const found: Finding[] = [];
    const locator = testLocator();
    let state: unknown;
    const feed = (raw: RawEvent) => {
      const d = decodeValue(raw);
      if (!d.ok) throw new Error(d.message);
      if (det.keyOf(d.event) === undefined) return;
      state = det.onEvent(d.event, state as never, { geo: null, locator, findings: [] }, (f) => found.push(f), d.event.accountId);
    };
    const signIn = decodeValue(login('acc1', 0, HOME));
    expect(signIn.ok && det.keyOf(signIn.event)).toBe(undefined);
    // A stop with nothing open keeps no state.
    feed(watch('acc1', 0, 10 * MIN).at(-1)!);
    expect(state).toBeUndefined();
    // Twenty screens at once, staggered by a minute: at most four sessions and eight counted pairs kept.
    type Shape = { s: unknown[] | null; c: number[] | null; hm: number; hs: string; dm: number; ds: string };
    const screens = byTime(Array.from({ length: 20 }, (_, i) => watch('acc1', i * MIN, 30 * MIN, `d${i}`, 3 * MIN)).flat());
    let maxOpen = 0;
    let maxPairs = 0;
    for (const e of screens) {
      feed(e);
      // Sessions are flat (sessionId, time, eventId) tuples.
      maxOpen = Math.max(maxOpen, ((state as Shape).s?.length ?? 0) / 3);
      maxPairs = Math.max(maxPairs, ((state as Shape).c?.length ?? 0) / 2);
    }
    expect(maxOpen).toBe(4);
    expect(maxPairs).toBeLessThanOrEqual(8);
    const end = state as Shape;
    expect(JSON.parse(JSON.stringify(end))).toEqual(end);
    // All stopped; 08:00–08:49 is still the hour and the day being counted.
    expect(end.s).toBeNull();
    expect([end.hs, end.ds]).toEqual(['', '']);
    // Screens beyond the cap are forgotten and restart counting, which can only undercount:
    // never more than the union, 08:00 to 08:49.
    expect(end.hm).toBe(end.dm);
    expect(end.hm).toBeGreaterThan(0);
    expect(end.hm).toBeLessThanOrEqual(49 * MIN);
    expect(found).toHaveLength(0);
  });

  it('rejects out-of-range options', () => {
    expect(() => rulesWith({ window: '2h' })).toThrow();
    expect(() => rulesWith({ absoluteCap: '100h' })).toThrow();
    expect(() => rulesWith({ zThreshold: 0 })).toThrow();
    expect(() => rulesWith({ minHistoryDays: 0 })).toThrow();
    expect(() => rulesWith({ sessionTimeout: '3h' })).toThrow();
  });
});
