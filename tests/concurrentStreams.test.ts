import { describe, expect, it } from 'vitest';
import { DETECTOR_INDEX } from '../src/detectors/registry.js';
import { Pipeline } from '../src/engine/pipeline.js';
import { decodeValue } from '../src/events/decode.js';
import { at, byTime, DAY, HOUR, MIN, only, playback, run, session, testLocator, type RawEvent } from './helpers.js';

const R = only(['concurrent_streams']);

/** `n` devices d1…dn, each starting a 2 h session one minute after the previous, from 198.51.100.k. */
function screens(account: string, n: number, startMs = 0, durationMs = 2 * HOUR): RawEvent[] {
  const evs: RawEvent[] = [];
  for (let k = 1; k <= n; k++) evs.push(...session(account, startMs + (k - 1) * MIN, durationMs, `198.51.100.${k}`, `d${k}`, `s${k}`));
  return byTime(evs);
}

function startOf(evs: RawEvent[], sessionId: string): RawEvent {
  return evs.find((e) => e.sessionId === sessionId && e.action === 'start')!;
}

describe('concurrent_streams', () => {
  it('alerts when a fifth device starts streaming while four are active', () => {
    const evs = screens('acc1', 5);
    const alerts = run(evs, { rules: R }).of('concurrent_streams');
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.severity).toBe('high');
    expect(a.accountId).toBe('acc1');
    expect(a.ts).toBe(at(4 * MIN));
    expect(a.evidence).toEqual({
      count: 5,
      maxStreams: 4,
      devices: ['d1', 'd2', 'd3', 'd4', 'd5'],
      sessions: ['s1', 's2', 's3', 's4', 's5'],
      ips: ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5'],
      sessionTimeout: '15m',
    });
    expect(a.eventIds).toEqual(['s1', 's2', 's3', 's4', 's5'].map((s) => startOf(evs, s).eventId));
    expect(a.summary).toContain('5 devices');
  });

  it('stays quiet on a family on 3 screens all evening, and on exactly 4', () => {
    expect(run(screens('fam', 3, 0, 4 * HOUR), { rules: R }).alerts).toHaveLength(0);
    expect(run(screens('fam', 4, 0, 4 * HOUR), { rules: R }).alerts).toHaveLength(0);
  });

  it('counts devices, not sessions: one device restarting its stream 6 times is one screen', () => {
    // Three family screens, and a fourth device that restarts 6 times (no stop) within 12 min:
    // 9 open sessions on 4 devices.
    const evs = [...screens('fam', 3)];
    for (let i = 0; i < 6; i++) evs.push(...session('fam', 10 * MIN + i * 2 * MIN, 2 * HOUR, '198.51.100.4', 'tv', `tv-${i}`, 5 * MIN, false));
    expect(run(byTime(evs), { rules: R }).alerts).toHaveLength(0);
  });

  it('stays quiet when sessions stopped before new ones start', () => {
    // Four screens 0–1 h (stopped), four others from 1 h 1 min: eight devices, never five at once.
    const first = screens('acc1', 4, 0, HOUR - 3 * MIN); // the 4th stops at 1 h exactly
    const second: RawEvent[] = [];
    for (let k = 5; k <= 8; k++) second.push(...session('acc1', HOUR + MIN, HOUR, `198.51.100.${k - 4}`, `d${k}`, `s${k}`));
    expect(run(byTime([...first, ...second]), { rules: R }).alerts).toHaveLength(0);
  });

  it('stays quiet when sessions timed out (no heartbeat for 15 min) before a new one starts', () => {
    // Four screens without a stop: starts at 0–3 min, heartbeats every 5 min while < 30 min from
    // their start, so the last heartbeat of d1 is at 25 min and of d4 at 28 min. A fifth device
    // starting at 43 min finds them all silent for 15 min or more.
    const silent: RawEvent[] = [];
    for (let k = 1; k <= 4; k++) silent.push(...session('acc1', (k - 1) * MIN, 30 * MIN, `198.51.100.${k}`, `d${k}`, `s${k}`, 5 * MIN, false));
    const fifth = (startMs: number) => session('acc1', startMs, HOUR, '198.51.100.5', 'd5', 's5');
    expect(run(byTime([...silent, ...fifth(43 * MIN)]), { rules: R }).alerts).toHaveLength(0);
    // At 42 min d4 (last heard at 28 min) has been silent 14 min: still active, but only d4 is.
    expect(run(byTime([...silent, ...fifth(42 * MIN)]), { rules: R }).alerts).toHaveLength(0);
    // At 40 min d1 has been silent exactly 15 min: over. Three remain active, with d5 four.
    expect(run(byTime([...silent, ...fifth(40 * MIN)]), { rules: R }).alerts).toHaveLength(0);
    // At 39 min d1 has been silent 14 min: all four are active, the fifth makes five.
    const a = run(byTime([...silent, ...fifth(39 * MIN)]), { rules: R }).of('concurrent_streams');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ count: 5, devices: ['d1', 'd2', 'd3', 'd4', 'd5'] });
  });

  it('counts a session whose start is older than its state once, from its heartbeats', () => {
    // Four screens start on day 0; the account's state expires over two silent days; their
    // heartbeats resume on day 2 without a new start. Four screens: quiet.
    const evs: RawEvent[] = [];
    for (let k = 1; k <= 4; k++) {
      evs.push(playback('acc1', (k - 1) * MIN, `198.51.100.${k}`, `d${k}`, `s${k}`, 'start'));
      for (let t = 2 * DAY; t < 2 * DAY + HOUR; t += 5 * MIN) evs.push(playback('acc1', t + k * 1_000, `198.51.100.${k}`, `d${k}`, `s${k}`, 'heartbeat'));
    }
    expect(run(byTime(evs), { rules: R }).alerts).toHaveLength(0);
    // A fifth device then starts: five devices, each session listed once despite its 12 heartbeats.
    const withFifth = byTime([...evs, ...session('acc1', 2 * DAY + 30 * MIN, HOUR, '198.51.100.5', 'd5', 's5')]);
    const a = run(withFifth, { rules: R }).of('concurrent_streams');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ count: 5, sessions: ['s1', 's2', 's3', 's4', 's5'] });
  });

  it('honours configured maxStreams and sessionTimeout', () => {
    const two = only(['concurrent_streams'], { concurrent_streams: { maxStreams: 2 } });
    expect(run(screens('acc1', 2), { rules: two }).alerts).toHaveLength(0);
    const a = run(screens('acc1', 3), { rules: two }).of('concurrent_streams');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ count: 3, maxStreams: 2 });
    // A shorter timeout: four screens go silent (last heartbeats at 25–28 min, no stop) and a
    // fifth device starts at 34 min. After 6–9 min of silence they are active with the default
    // 15 min timeout, over with a 5 min one.
    const silent: RawEvent[] = [];
    for (let k = 1; k <= 4; k++) silent.push(...session('acc1', (k - 1) * MIN, 30 * MIN, `198.51.100.${k}`, `d${k}`, `s${k}`, 5 * MIN, false));
    const evs = byTime([...silent, ...session('acc1', 34 * MIN, HOUR, '198.51.100.5', 'd5', 's5')]);
    expect(run(evs, { rules: R }).alerts).toHaveLength(1);
    const short = only(['concurrent_streams'], { concurrent_streams: { sessionTimeout: '5m' } });
    expect(run(evs, { rules: short }).alerts).toHaveLength(0);
  });

  it('gives the same alert when events arrive out of order within the lateness', () => {
    const evs = screens('acc1', 6);
    const swapped = [...evs];
    for (let i = 0; i + 1 < swapped.length; i += 2) [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
    const inOrder = run(evs, { rules: R, latenessMs: 10 * MIN }).alerts;
    expect(inOrder).toHaveLength(1);
    expect(run(swapped, { rules: R, latenessMs: 10 * MIN }).alerts).toEqual(inOrder);
    expect(run([...evs].reverse(), { rules: R, latenessMs: 3 * HOUR }).alerts).toEqual(inOrder);
  });

  it('treats redelivered events (same eventId) as one', () => {
    const four = screens('acc1', 4);
    expect(run(byTime([...four, ...four]), { rules: R }).alerts).toHaveLength(0);
    const five = screens('acc1', 5);
    const a = run(byTime([...five, ...five]), { rules: R }).of('concurrent_streams');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ count: 5, sessions: ['s1', 's2', 's3', 's4', 's5'] });
    expect(a[0]!.eventIds).toHaveLength(5);
  });

  it('does not let a heartbeat arriving after its session stopped reopen the session', () => {
    // d1 stops at 30 min; its heartbeat stamped 25 min arrives only afterwards (later than the
    // lateness), and another heartbeat stamped 32 min (client noise after the stop). A fifth device
    // at 31 min makes four active screens, not five.
    const evs = [
      ...screens('acc1', 4, 0, HOUR).filter((e) => !(e.sessionId === 's1' && Date.parse(String(e.ts)) >= Date.parse(at(25 * MIN)))),
      playback('acc1', 30 * MIN, '198.51.100.1', 'd1', 's1', 'stop'),
    ];
    const late = playback('acc1', 25 * MIN, '198.51.100.1', 'd1', 's1', 'heartbeat');
    const noise = playback('acc1', 32 * MIN, '198.51.100.1', 'd1', 's1', 'heartbeat');
    const ordered = byTime(evs).filter((e) => Date.parse(String(e.ts)) <= Date.parse(at(30 * MIN)));
    const rest = byTime([...evs.filter((e) => Date.parse(String(e.ts)) > Date.parse(at(30 * MIN))), noise, ...session('acc1', 31 * MIN, HOUR, '198.51.100.5', 'd5', 's5')]);
    const r = run([...ordered, late, ...rest], { rules: R, latenessMs: 0 });
    expect(r.stats.late).toBe(1);
    expect(r.alerts).toHaveLength(0);
  });

  it('keeps at most 32 sessions, and lets go of the state once no session is open', () => {
    const pipeline = new Pipeline({ rules: R, locator: testLocator(), latenessMs: 0, onAlert: () => undefined });
    const push = (e: RawEvent) => pipeline.offer(decodeValue(e), 0, undefined);
    const slot = DETECTOR_INDEX.concurrent_streams!;
    const stateOf = () => pipeline.core.store('account').get('resold')?.states[slot] as unknown[] | undefined;
    for (let k = 0; k < 40; k++) push(playback('resold', k * 1_000, '203.0.113.1', `dev-${k}`, `sess-${k}`, 'start'));
    expect(stateOf()).toHaveLength(32);
    expect(JSON.parse(JSON.stringify(stateOf()))).toEqual(stateOf());
    // Stopped sessions stay (as tombstones) while others are open…
    for (let k = 0; k < 39; k++) push(playback('resold', 2 * MIN + k * 1_000, '203.0.113.1', `dev-${k}`, `sess-${k}`, 'stop'));
    expect(stateOf()).toHaveLength(32);
    // …and everything goes with the last open one.
    push(playback('resold', 2 * MIN + 39_000, '203.0.113.1', 'dev-39', 'sess-39', 'stop'));
    expect(stateOf()).toBeUndefined();
    // A session that timed out is gone at the account's next playback event.
    push(playback('resold', HOUR, '203.0.113.1', 'dev-1', 'sess-a', 'start'));
    push(playback('resold', HOUR + 15 * MIN, '203.0.113.1', 'dev-2', 'sess-b', 'start'));
    expect(stateOf()).toHaveLength(1);
  });

  it('rejects out-of-range options', () => {
    expect(() => only(['concurrent_streams'], { concurrent_streams: { maxStreams: 0 } })).toThrow();
    expect(() => only(['concurrent_streams'], { concurrent_streams: { sessionTimeout: '30s' } })).toThrow();
    expect(() => only(['concurrent_streams'], { concurrent_streams: { maxStreams: 2.5 } })).toThrow();
  });
});
