import { describe, expect, it } from 'vitest';
import { loginRisk, userAgentFamily } from '../src/detectors/loginRisk.js';
import type { Finding } from '../src/detectors/types.js';
import { decodeValue } from '../src/events/decode.js';
import type { FraudEvent } from '../src/events/types.js';
import { DAY, HOUR, login, MIN, only, run, testLocator, update, type RawEvent } from './helpers.js';

const ID = 'login_risk';
const R = only([ID], { [ID]: { cooldown: '0s' } });

const LONDON = '198.51.100.1';
const MANCHESTER = '198.51.100.4';
/** Manchester on another network than the London addresses (the test table's GB addresses share one /24). */
const MANCHESTER_ELSEWHERE = '100.64.7.9';
const LOCATOR = testLocator({ [MANCHESTER_ELSEWHERE]: { country: 'GB', region: 'ENG', city: 'Manchester', lat: 53.4808, lon: -2.2426, accuracyKm: 20 } });
const NEW_YORK = '203.0.113.1';
const IPHONE = 'Streamly/8.3 (iPhone; iOS 17.2)';
const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0';
const PIXEL = 'Streamly/8.4 (Android 14; Pixel 9)';

/**
 * A habit: two logins a day for `days` days from London on the owner's phone, at 08:00 plus a
 * seeded offset of up to 10 h (London is UTC+0, so these are local hours 8 to 18).
 */
function habit(account: string, days: number, seed = 7): RawEvent[] {
  let x = seed;
  const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const out: RawEvent[] = [];
  for (let d = 0; d < days; d++) {
    for (let k = 0; k < 2; k++) out.push(login(account, d * DAY + Math.floor(rand() * 10 * HOUR), LONDON, true, { deviceId: `phone-${account}`, userAgent: IPHONE }));
  }
  return out;
}

/** The decayed count of logins at `t` (ms offsets), computed here from the definition: Σ 2^(−age / halfLife). */
function decayed(offsets: number[], t: number, halfLifeMs = 30 * DAY): number {
  return offsets.reduce((n, o) => n + Math.pow(2, -(t - o) / halfLifeMs), 0);
}

const offsetOf = (e: RawEvent) => Date.parse(String(e.ts)) - Date.parse('2026-03-02T08:00:00Z');

describe('login_risk', () => {
  it('alerts high on a quiet takeover: same country, new device, user agent family and network, at 03:00', () => {
    const owner = habit('acc1', 20);
    const t = 20 * DAY + 19 * HOUR; // 03:00 London the next night
    const attacker = login('acc1', t, MANCHESTER_ELSEWHERE, true, { deviceId: 'laptop-x', userAgent: CHROME_WINDOWS });
    const alerts = run([...owner, attacker], { rules: R, locator: LOCATOR }).of(ID);
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.severity).toBe('high');
    expect(a.eventIds).toEqual([attacker.eventId]);
    const ev = a.evidence as { score: number; historyLogins: number; localHour: number; features: { feature: string; value: string; new: boolean; contribution: number }[] };
    expect(ev.localHour).toBe(3);
    const n = decayed(owner.map(offsetOf), t);
    expect(Math.abs(ev.historyLogins - n)).toBeLessThan(0.1);
    const byName = Object.fromEntries(ev.features.map((f) => [f.feature, f]));
    expect(Object.keys(byName)).toEqual(['network', 'country', 'city', 'userAgent', 'device', 'hour']);
    expect(byName.network).toMatchObject({ value: '100.64.7.0/24', new: true });
    expect(byName.country).toMatchObject({ value: 'GB', new: false });
    expect(byName.city).toMatchObject({ value: 'Manchester, ENG, GB', new: true });
    expect(byName.userAgent).toMatchObject({ value: 'chrome/windows', new: true });
    expect(byName.device).toMatchObject({ value: 'laptop-x', new: true });
    expect(byName.hour).toMatchObject({ value: '3', new: true });
    // A value new to the account adds log2((N + α) / α), α = 1, whatever its prior.
    for (const f of ['network', 'city', 'userAgent', 'device']) expect(byName[f]!.contribution).toBeCloseTo(Math.log2(n + 1), 1);
    // A familiar country always seen: log2(q (N + α) / (N + α q)), q = 0.2.
    expect(byName.country!.contribution).toBeCloseTo(Math.log2((0.2 * (n + 1)) / (n + 0.2)), 1);
    const sum = ev.features.reduce((s, f) => s + f.contribution, 0);
    expect(ev.score).toBeCloseTo(sum, 0);
  });

  it('stays quiet on a new phone of another make at home at the usual hours (a phone upgrade)', () => {
    const owner = habit('acc1', 20);
    const upgrade = [0, 1, 2].map((d) => login('acc1', (20 + d) * DAY + 4 * HOUR, LONDON, true, { deviceId: 'pixel-new', userAgent: PIXEL }));
    expect(run([...owner, ...upgrade], { rules: R }).of(ID)).toEqual([]);
  });

  it('stays below high on a trip abroad with the own phone, at hours that are odd at home', () => {
    const owner = habit('acc1', 20);
    // New York evenings are London's small hours.
    const trip = [0, 1, 2].map((d) => login('acc1', (20 + d) * DAY + 17 * HOUR, NEW_YORK, true, { deviceId: 'phone-acc1', userAgent: IPHONE }));
    const alerts = run([...owner, ...trip], { rules: R }).of(ID);
    expect(alerts.filter((a) => a.severity === 'high')).toEqual([]);
  });

  it('stays quiet on a move to a new network in another city on the same devices', () => {
    const owner = habit('acc1', 20);
    const moved = [0, 1, 2, 3].map((d) => login('acc1', (20 + d) * DAY + 2 * HOUR, MANCHESTER, true, { deviceId: 'phone-acc1', userAgent: IPHONE }));
    expect(run([...owner, ...moved], { rules: R }).of(ID)).toEqual([]);
  });

  it('judges nothing before the minimum history', () => {
    const owner = habit('acc1', 3); // 6 logins < minLogins 7… 8
    const attacker = login('acc1', 3 * DAY + 19 * HOUR, MANCHESTER, true, { deviceId: 'laptop-x', userAgent: CHROME_WINDOWS });
    expect(run([...owner, attacker], { rules: R, locator: LOCATOR }).of(ID)).toEqual([]);
    // The same login after enough history alerts: the trap is not quiet by accident.
    const later = login('acc1', 20 * DAY + 19 * HOUR, MANCHESTER, true, { deviceId: 'laptop-x', userAgent: CHROME_WINDOWS });
    expect(run([...habit('acc1', 20), later], { rules: R }).of(ID)).toHaveLength(1);
  });

  it('gives the same alerts in any arrival order within the lateness', () => {
    const events = [...habit('acc1', 20), login('acc1', 20 * DAY + 19 * HOUR, MANCHESTER, true, { deviceId: 'x', userAgent: CHROME_WINDOWS }), ...habit('acc2', 20, 3)];
    const sorted = run(events, { rules: R }).alerts;
    // Swap neighbours a few seconds apart at most: within the default 30 s lateness.
    const shuffled = events.slice().sort((a, b) => offsetOf(a) - offsetOf(b));
    for (let i = 1; i < shuffled.length; i += 2) if (offsetOf(shuffled[i]!) - offsetOf(shuffled[i - 1]!) < 20_000) [shuffled[i - 1], shuffled[i]] = [shuffled[i]!, shuffled[i - 1]!];
    expect(run(shuffled.reverse().reverse(), { rules: R }).alerts).toEqual(sorted);
    expect(sorted.length).toBeGreaterThan(0);
  });

  it('keeps plain JSON state: a snapshot restored mid-stream scores exactly as the original', () => {
    const det = loginRisk.create(loginRisk.options.parse({}));
    const events = [...habit('acc1', 20), login('acc1', 20 * DAY + 19 * HOUR, MANCHESTER, true, { deviceId: 'x', userAgent: CHROME_WINDOWS })].map((e) => {
      const r = decodeValue(e);
      if (!r.ok) throw new Error('bad event');
      return r.event as FraudEvent;
    });
    const locator = testLocator();
    const score = (from: number, start: unknown) => {
      let s = start as number[] | undefined;
      const found: Finding[] = [];
      for (const ev of events.slice(from)) s = det.onEvent(ev, s as never, { geo: locator.lookup(ev.ip!), locator, findings: [] }, (f) => found.push(f), 'acc1') as number[] | undefined;
      return { s, found };
    };
    const half = 17;
    let s: unknown;
    for (const ev of events.slice(0, half)) s = det.onEvent(ev, s as never, { geo: locator.lookup(ev.ip!), locator, findings: [] }, () => {}, 'acc1');
    const restored = JSON.parse(JSON.stringify(s)) as unknown;
    const a = score(half, s);
    const b = score(half, restored);
    expect(b.found).toEqual(a.found);
    expect(b.s).toEqual(a.s);
    expect(a.found).toHaveLength(1);
    expect(Array.isArray(s) && (s as unknown[]).every((x) => typeof x === 'number')).toBe(true);
  });

  it('keeps the history bounded: a new device every login never grows the state past the caps', () => {
    const det = loginRisk.create(loginRisk.options.parse({}));
    const locator = testLocator();
    let s: number[] | undefined;
    for (let i = 0; i < 200; i++) {
      const r = decodeValue(login('acc1', i * HOUR, LONDON, true, { deviceId: `d${i}`, userAgent: `App${i}/1.0` }));
      if (!r.ok) throw new Error('bad event');
      s = det.onEvent(r.event, s, { geo: locator.lookup(LONDON), locator, findings: [] }, () => {}, 'acc1') as number[];
    }
    // Header (2) + network, country, city (1 each) + user agents and devices (6 each) + at most 24 hours.
    expect(s!.length).toBeLessThanOrEqual(2 + 3 + 12 + 24);
  });

  it('is a risk signal of account_takeover at high: a takeover login then an email change from its device', () => {
    const owner = habit('acc1', 20);
    const t = 20 * DAY + 19 * HOUR;
    const attacker = login('acc1', t, MANCHESTER_ELSEWHERE, true, { deviceId: 'laptop-x', userAgent: CHROME_WINDOWS });
    const change = update('acc1', t + 10 * MIN, 'email', { deviceId: 'laptop-x', ip: MANCHESTER_ELSEWHERE });
    const rules = only([ID, 'account_takeover']);
    const ato = run([...owner, attacker, change], { rules, locator: LOCATOR }).of('account_takeover');
    expect(ato).toHaveLength(1);
    expect((ato[0]!.evidence as { riskyLogin: { detectors: string[] } }).riskyLogin.detectors).toEqual([ID]);
    // The owner's own change after an ordinary login is no takeover.
    const own = update('acc1', 19 * DAY + 5 * HOUR + 10 * MIN, 'email', { deviceId: 'phone-acc1', ip: LONDON });
    expect(run([...owner, own], { rules }).of('account_takeover')).toEqual([]);
  });
});

describe('userAgentFamily', () => {
  it('names the client and the OS without versions', () => {
    expect(userAgentFamily(IPHONE)).toBe('streamly/ios');
    expect(userAgentFamily('Streamly/8.4 (iPhone; iOS 18.1)')).toBe('streamly/ios');
    expect(userAgentFamily(PIXEL)).toBe('streamly/android');
    expect(userAgentFamily('Streamly/4.1 (Android TV 12)')).toBe('streamly/androidtv');
    expect(userAgentFamily(CHROME_WINDOWS)).toBe('chrome/windows');
    expect(userAgentFamily('Mozilla/5.0 (Macintosh; Mac OS X 14_2) Safari/17.2')).toBe('safari/macos');
    expect(userAgentFamily('Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/120.0')).toBe('edge/windows');
    expect(userAgentFamily('curl/8.4.0')).toBe('curl/other');
  });
});
