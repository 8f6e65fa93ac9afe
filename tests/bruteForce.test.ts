import { describe, expect, it } from 'vitest';
import { networkOf } from '../src/detectors/bruteForce.js';
import type { GeoPoint } from '../src/geo/locator.js';
import { at, DAY, HOUR, login, MIN, only, run, testLocator } from './helpers.js';

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

describe('brute_force: per source', () => {
  const ATTACKER = '192.0.2.99';
  const OFFICE = '198.51.100.7';
  const bot = { deviceId: 'bot-1', userAgent: 'python-requests/2.31.0' };
  const phone = { deviceId: 'phone-1' };
  const laptop = { deviceId: 'laptop-1' };
  const fail = (account: string, n: number, startMs: number, stepMs: number, ip: string, extra: Record<string, unknown>) =>
    Array.from({ length: n }, (_, i) => login(account, startMs + i * stepMs, ip, false, extra));

  it("keeps counting an attacker's burst through the owner's success elsewhere, and names the attacker's own success", () => {
    // 7 failures from the attacker (0 … 120 s), the owner signs in from the office at 130 s,
    // 8 more failures (140 … 280 s), then the attacker's success at 300 s: 15 failures in 4m40s.
    const owner = login('acc1', 130_000, OFFICE, true, phone);
    const evs = [...fail('acc1', 7, 0, 20_000, ATTACKER, bot), owner, ...fail('acc1', 8, 140_000, 20_000, ATTACKER, bot), login('acc1', 300_000, ATTACKER, true, bot)];
    const alerts = run(evs, { rules: R }).of('brute_force');
    expect(alerts.map((a) => [a.severity, a.ts])).toEqual([
      // The 10th failure: the 3rd after the owner's login, at 180 s.
      ['high', at(180_000)],
      ['critical', at(300_000)],
    ]);
    expect(alerts[1]!.evidence).toMatchObject({ failures: 15, sourceFailures: 15, successIp: ATTACKER, successDevice: 'bot-1', firstFailureAt: at(0) });
    expect(alerts[1]!.summary).toContain(`from ${ATTACKER} after 15 failed logins`);
    // The owner's success is no part of the burst's event ids.
    expect(alerts[1]!.eventIds).not.toContain(owner.eventId);
    // Control: with the owner's login from the attacker's address, it would reset the burst (7 + 8, never 10).
    const shared = evs.map((e) => (e === owner ? { ...owner, ip: ATTACKER } : e));
    expect(run(shared, { rules: R }).of('brute_force')).toHaveLength(0);
  });

  it("does not escalate the owner's own success in the middle of someone else's burst", () => {
    // 12 failures from the attacker, then the owner logs in from the office: high, never critical.
    const evs = [...fail('acc1', 12, 0, 20_000, ATTACKER, bot), login('acc1', 250_000, OFFICE, true, phone)];
    expect(run(evs, { rules: R }).of('brute_force').map((a) => a.severity)).toEqual(['high']);
    // Control: the same success from the attacker's device (another address) escalates.
    const fromBot = [...fail('acc2', 12, 0, 20_000, ATTACKER, bot), login('acc2', 250_000, OFFICE, true, bot)];
    expect(run(fromBot, { rules: R }).of('brute_force').map((a) => a.severity)).toEqual(['high', 'critical']);
  });

  it('stays quiet for an owner who mistypes on one device and gets in on another at the same address', () => {
    // 5 failures on the phone at home, a success on the laptop (same address), 5 more on the
    // phone and its success: 10 failures in 4 minutes, never 10 before a success of their source.
    const evs = [
      ...fail('acc1', 5, 0, 20_000, HOME, phone),
      login('acc1', 100_000, HOME, true, laptop),
      ...fail('acc1', 5, 120_000, 20_000, HOME, phone),
      login('acc1', 220_000, HOME, true, phone),
    ];
    expect(run(evs, { rules: R }).alerts).toHaveLength(0);
    // Control: without the laptop's success the ten failures are a burst, and the phone's success after them critical.
    expect(run(evs.filter((e) => !(e.success === true && e.deviceId === 'laptop-1')), { rules: R }).of('brute_force').map((a) => a.severity)).toEqual(['high', 'critical']);
  });

  it('stays quiet for an owner whose phone fails on mobile data and gets in at home on the same device', () => {
    const MOBILE = '203.0.113.50';
    const evs = [
      ...fail('acc1', 5, 0, 20_000, MOBILE, phone),
      login('acc1', 100_000, HOME, true, phone),
      ...fail('acc1', 5, 120_000, 20_000, HOME, laptop),
      login('acc1', 220_000, HOME, true, laptop),
    ];
    expect(run(evs, { rules: R }).alerts).toHaveLength(0);
    // Control: with the first success on another device and address, the mobile failures still
    // count: ten, then the laptop's success after its own five is critical.
    const other = evs.map((e) => (e.success === true && e.ts === at(100_000) ? { ...e, deviceId: 'tv-1', ip: '198.51.100.8' } : e));
    expect(run(other, { rules: R }).of('brute_force').map((a) => a.severity)).toEqual(['high', 'critical']);
  });
});

describe('brute_force: guessing spread over many sources', () => {
  /** `n` addresses: 10.<net>.<host>.1 style, spread over `nets` /24 networks, each in one of `countries`. */
  function spreadAttack(account: string, n: number, nets: number, countries: string[], stepMs: number) {
    const geo: Record<string, GeoPoint> = {};
    const evs: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const ip = `100.64.${i % nets}.${10 + Math.floor(i / nets)}`;
      const country = countries[i % countries.length]!;
      geo[ip] = { country, region: '', city: `City ${country}`, lat: 10, lon: 10, accuracyKm: 20 };
      evs.push(login(account, i * stepMs, ip, false, { userAgent: `bot/${i % 3}` }));
    }
    return { geo, evs };
  }

  it('catches 40 addresses that each fail once, and describes the spread', () => {
    const { geo, evs } = spreadAttack('acc1', 40, 8, ['BR', 'VN', 'IN', 'RU'], 10_000);
    const alerts = run(evs, { rules: R, locator: testLocator(geo) }).of('brute_force');
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    // The 10th failure (90 s): 10 addresses so far, in 8 /24s (i mod 8), 4 countries, 3 user agents.
    expect(a.ts).toBe(at(90_000));
    const sp = a.evidence.spread as { addresses: number; networks: number; countries: string[]; userAgents: number; topSources: { ip: string; failures: number }[]; sourcesForgotten: number };
    expect([sp.addresses, sp.networks, sp.countries, sp.userAgents, sp.sourcesForgotten]).toEqual([10, 8, ['BR', 'IN', 'RU', 'VN'], 3, 0]);
    // Top sources: one failure each, then by address.
    expect(sp.topSources.map((s) => [s.ip, s.failures])).toEqual([['100.64.0.10', 1], ['100.64.0.11', 1], ['100.64.1.10', 1], ['100.64.1.11', 1], ['100.64.2.10', 1]]);
    expect(a.summary).toBe('10 failed logins on account acc1 within 1m30s from 10 addresses in 8 networks and 4 countries (threshold 10 in 10m), latest from 100.64.1.11.');
  });

  it('describes a slow spread (the long window) too, bounded by maxSources', () => {
    // 35 addresses, one failure every 20 minutes: never 10 in 10 minutes; the 30th (at 9h40m) alerts.
    const { geo, evs } = spreadAttack('acc1', 35, 35, ['BR', 'VN'], 20 * MIN);
    const capped = only(['brute_force'], { brute_force: { maxSources: 16 } });
    const [a] = run(evs, { rules: capped, locator: testLocator(geo) }).of('brute_force');
    expect(a!.evidence).toMatchObject({ firedWindow: 'long', failures: 30 });
    const sp = a!.evidence.spread as { addresses: number; networks: number; sourcesForgotten: number; topSources: unknown[] };
    // 30 addresses failed, only the 16 latest are remembered: 14 forgotten, the counts lower bounds.
    expect([sp.addresses, sp.networks, sp.sourcesForgotten, sp.topSources.length]).toEqual([16, 16, 14, 5]);
    expect(a!.summary).toContain('from at least 16 addresses in 16 networks and 2 countries');
    // With the default cap (32) all 30 are there.
    const [b] = run(evs, { rules: R, locator: testLocator(geo) }).of('brute_force');
    expect((b!.evidence.spread as { addresses: number; sourcesForgotten: number }).addresses).toBe(30);
  });

  it('stays quiet on many addresses of a shared network each logging in after one typo', () => {
    // One account on twelve addresses of one network, each a typo followed by its own success.
    const evs: Record<string, unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      const ip = `100.64.9.${10 + i}`;
      evs.push(login('acc1', i * 20_000, ip, false, { deviceId: `dev-${i}` }), login('acc1', i * 20_000 + 5_000, ip, true, { deviceId: `dev-${i}` }));
    }
    expect(run(evs, { rules: R }).alerts).toHaveLength(0);
  });

  it('names networks by /24 and /48', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:1:2::5')).toBe('2001:db8:1::/48');
    expect(networkOf('2001:db8::1')).toBe('2001:db8::/48');
    expect(networkOf('::1')).toBe('::/48');
  });
});

describe('brute_force: per source, in any arrival order', () => {
  it('gives the same alerts when the interleaved burst arrives out of order within the lateness', () => {
    const bot = { deviceId: 'bot-1' };
    const evs = [
      ...Array.from({ length: 7 }, (_, i) => login('acc1', i * 20_000, '192.0.2.99', false, bot)),
      login('acc1', 130_000, '198.51.100.7', true, { deviceId: 'phone-1' }),
      ...Array.from({ length: 8 }, (_, i) => login('acc1', 140_000 + i * 20_000, '192.0.2.99', false, bot)),
      login('acc1', 300_000, '192.0.2.99', true, bot),
    ];
    const inOrder = run(evs, { rules: R, latenessMs: MIN }).of('brute_force');
    expect(inOrder.map((a) => a.severity)).toEqual(['high', 'critical']);
    // Runs of three events, each reversed: the owner's success arrives before failures older than it.
    const shuffled = [0, 3, 6, 9, 12, 15].flatMap((i) => evs.slice(i, i + 3).reverse());
    expect(shuffled).not.toEqual(evs);
    const r = run(shuffled, { rules: R, latenessMs: MIN });
    expect(r.stats.late).toBe(0);
    expect(r.of('brute_force')).toEqual(inOrder);
  });
});

describe('brute_force: state', () => {
  it('stays bounded and plain JSON under guessing from hundreds of addresses and many successes', async () => {
    const { bruteForce } = await import('../src/detectors/bruteForce.js');
    const { decodeValue } = await import('../src/events/decode.js');
    const det = bruteForce.create(bruteForce.options.parse({}));
    const locator = testLocator();
    let state: unknown;
    const feed = (raw: Record<string, unknown>) => {
      const d = decodeValue(raw);
      if (!d.ok) throw new Error(d.message);
      state = det.onEvent(d.event, state as never, { geo: null, locator, findings: [] }, () => {}, d.event.accountId);
    };
    // 504 addresses, one failure each, 10 s apart, and a success from a new address every 25th.
    for (let i = 0; i < 504; i++) {
      feed(login('acc1', i * 10_000, `100.${64 + (i >> 8)}.${i & 255}.9`, false, { deviceId: `d${i}` }));
      if (i % 25 === 0) feed(login('acc1', i * 10_000 + 1, `100.99.${i & 255}.1`, true, { deviceId: `s${i}` }));
    }
    const s = state as { ts: number[]; ids: string[]; ip: string[]; dev: string[]; ok?: unknown[]; src: unknown[]; gone: number };
    expect(s.ts.length).toBeLessThanOrEqual(20);
    expect([s.ids.length, s.ip.length, s.dev.length]).toEqual([s.ts.length, s.ts.length, s.ts.length]);
    expect((s.ok ?? []).length).toBeLessThanOrEqual(8 * 3);
    // At most 32 sources of 5 fields; the other 472 forgotten.
    expect(s.src.length).toBe(32 * 5);
    expect(s.gone).toBe(504 - 32);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});
