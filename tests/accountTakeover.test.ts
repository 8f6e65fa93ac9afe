import { describe, expect, it } from 'vitest';
import { DETECTOR_INDEX } from '../src/detectors/registry.js';
import { Pipeline } from '../src/engine/pipeline.js';
import { decodeValue } from '../src/events/decode.js';
import { byTime, DAY, HOUR, login, MIN, only, run, session, testLocator, update, type RawEvent } from './helpers.js';

const ID = 'account_takeover';
const SIGNAL_IDS = ['impossible_travel', 'geo_surge', 'brute_force', 'unfamiliar_location'];
/** Takeover with every signal detector it reads. */
const R = only([...SIGNAL_IDS, ID]);
const NO_COOLDOWN = only([...SIGNAL_IDS, ID], { [ID]: { cooldown: '0s' } });

const LONDON = '198.51.100.1';
const PARIS = '192.0.2.1';
const TOKYO = '192.0.2.3';
const US_COUNTRY = '192.0.2.100';

function takeover(events: RawEvent[], rules = R, latenessMs?: number) {
  return run(events, { rules, latenessMs }).of(ID);
}

/** The owner logs in at home; 30 minutes later an attacker logs in from Tokyo on their own phone. */
function stolenPassword(account = 'acc1') {
  const home = login(account, 0, LONDON, true, { deviceId: 'laptop' });
  const attacker = login(account, 30 * MIN, TOKYO, true, { deviceId: 'evil-phone' });
  return { home, attacker };
}

describe('account_takeover', () => {
  it('alerts (critical) on an email change from the device and address of an impossible-travel login', () => {
    const { home, attacker } = stolenPassword();
    const change = update('acc1', 40 * MIN, 'email', { ip: TOKYO, deviceId: 'evil-phone' });
    const alerts = takeover([home, attacker, change]);
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.severity).toBe('critical');
    expect(a.accountId).toBe('acc1');
    expect(a.eventIds).toEqual([attacker.eventId, change.eventId]);
    expect(a.evidence).toEqual({
      riskyLogin: { detectors: ['impossible_travel'], at: '2026-03-02T08:30:00.000Z', ip: TOKYO, deviceId: 'evil-phone' },
      update: { change: 'email', at: '2026-03-02T08:40:00.000Z', ip: TOKYO, deviceId: 'evil-phone' },
      matchedOn: ['device', 'ip'],
      minutesBetween: 10,
      window: '1h',
    });
    expect(a.summary).toBe(
      `Likely takeover of account acc1: email changed from the same device evil-phone 10m after a login from ${TOKYO} flagged by impossible_travel.`,
    );
  });

  it('matches on the device alone or on the address alone', () => {
    const { home, attacker } = stolenPassword();
    const byDevice = takeover([home, attacker, update('acc1', 40 * MIN, 'password', { ip: PARIS, deviceId: 'evil-phone' })]);
    expect(byDevice).toHaveLength(1);
    expect(byDevice[0]!.evidence).toMatchObject({ matchedOn: ['device'], update: { change: 'password', ip: PARIS } });
    const byIp = takeover([home, attacker, update('acc1', 40 * MIN, 'phone', { ip: TOKYO })]);
    expect(byIp).toHaveLength(1);
    expect(byIp[0]!.evidence).toMatchObject({ matchedOn: ['ip'], update: { change: 'phone', deviceId: null } });
    expect(byIp[0]!.summary).toContain(`from the same address ${TOKYO}`);
  });

  it('lists every detector that flagged the login, in registry order', () => {
    // Five home logins make Japan unfamiliar as well as impossibly far from London.
    const history = Array.from({ length: 5 }, (_, i) => login('acc1', i * DAY, LONDON, true, { deviceId: 'laptop' }));
    const attacker = login('acc1', 4 * DAY + 30 * MIN, TOKYO, true, { deviceId: 'evil-phone' });
    const alerts = takeover([...history, attacker, update('acc1', 4 * DAY + 45 * MIN, 'payment', { deviceId: 'evil-phone' })]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ riskyLogin: { detectors: ['impossible_travel', 'unfamiliar_location'] }, minutesBetween: 15 });
  });

  it('builds on a brute-force success (critical) but not on failures alone', () => {
    const rules = only(['brute_force', ID]);
    const failures = Array.from({ length: 10 }, (_, i) => login('acc1', i * 20_000, PARIS, false, { deviceId: 'bot' }));
    const success = login('acc1', 4 * MIN, PARIS, true, { deviceId: 'bot' });
    const change = update('acc1', 10 * MIN, 'password', { deviceId: 'bot', ip: PARIS });
    const alerts = takeover([...failures, success, change], rules);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ riskyLogin: { detectors: ['brute_force'] } });
    expect(takeover([...failures, change], rules)).toHaveLength(0);
  });

  it('builds on geo_surge and on unfamiliar_location alone', () => {
    const surge = [login('acc1', 0, LONDON), login('acc1', 10 * MIN, US_COUNTRY), login('acc1', 20 * MIN, PARIS, true, { deviceId: 'evil' })];
    const viaSurge = takeover([...surge, update('acc1', 25 * MIN, 'email', { deviceId: 'evil' })], only(['geo_surge', ID]));
    expect(viaSurge).toHaveLength(1);
    expect(viaSurge[0]!.evidence).toMatchObject({ riskyLogin: { detectors: ['geo_surge'] } });

    const history = Array.from({ length: 5 }, (_, i) => login('acc2', i * DAY, LONDON));
    const unfamiliar = [...history, login('acc2', 5 * DAY, PARIS, true, { deviceId: 'evil' }), update('acc2', 5 * DAY + MIN, 'email', { deviceId: 'evil' })];
    const viaUnfamiliar = takeover(unfamiliar, only(['unfamiliar_location', ID]));
    expect(viaUnfamiliar).toHaveLength(1);
    expect(viaUnfamiliar[0]!.evidence).toMatchObject({ riskyLogin: { detectors: ['unfamiliar_location'] } });
  });

  it('sees risky findings hidden by the signal detector’s cooldown or shadow mode', () => {
    // The second Tokyo login is within impossible_travel's cooldown: no alert of its own, still risky.
    const home = login('acc1', 0, LONDON);
    const first = login('acc1', 10 * MIN, TOKYO, true, { deviceId: 'evil-1' });
    const back = login('acc1', 20 * MIN, LONDON);
    const second = login('acc1', 25 * MIN, TOKYO, true, { deviceId: 'evil-2' });
    const change = update('acc1', 30 * MIN, 'email', { deviceId: 'evil-2' });
    const r = run([home, first, back, second, change], { rules: only(['impossible_travel', ID]) });
    expect(r.of('impossible_travel')).toHaveLength(1);
    expect(r.of(ID)).toHaveLength(1);
    expect(r.of(ID)[0]!.eventIds).toEqual([second.eventId, change.eventId]);

    const shadow = run([home, first, change, update('acc1', 31 * MIN, 'email', { deviceId: 'evil-1' })], {
      rules: only(['impossible_travel', ID], { impossible_travel: { mode: 'shadow' } }),
    });
    expect(shadow.of('impossible_travel')[0]!.shadow).toBe(true);
    expect(shadow.of(ID)).toHaveLength(1);
    expect(shadow.of(ID)[0]!.shadow).toBeUndefined();
  });

  it('stays quiet on an account update with no risky login before it', () => {
    const evs = [login('acc1', 0, LONDON, true, { deviceId: 'laptop' }), update('acc1', 5 * MIN, 'password', { ip: LONDON, deviceId: 'laptop' })];
    expect(takeover(evs)).toHaveLength(0);
  });

  it('stays quiet when the owner changes the password at home, from another device and address', () => {
    const { home, attacker } = stolenPassword();
    expect(takeover([home, attacker, update('acc1', 40 * MIN, 'password', { ip: LONDON, deviceId: 'laptop' })])).toHaveLength(0);
  });

  it("stays quiet on the owner's own stream flagged by impossible_travel's playback fixes (it is no login)", () => {
    const { home, attacker } = stolenPassword();
    // The owner keeps streaming at home after the attacker's login: each heartbeat is an
    // impossible_travel finding against Tokyo, but no risky login of the owner's.
    const evs = byTime([home, attacker, ...session('acc1', 31 * MIN, 30 * MIN, LONDON, 'laptop', 's1'), update('acc1', 50 * MIN, 'password', { ip: LONDON, deviceId: 'laptop' })]);
    const r = run(evs, { rules: only([...SIGNAL_IDS, ID], { impossible_travel: { cooldown: '0s', repeatAfter: '0s' }, [ID]: { cooldown: '0s' } }) });
    // The attacker's login, then the session start and 5 heartbeats (31..56 min).
    expect(r.of('impossible_travel')).toHaveLength(7);
    expect(r.of(ID)).toHaveLength(0);
  });

  it('stays quiet on an update two hours later, and honours window', () => {
    const { home, attacker } = stolenPassword();
    const late = [home, attacker, update('acc1', 2 * HOUR + 30 * MIN, 'email', { deviceId: 'evil-phone' })];
    expect(takeover(late)).toHaveLength(0);
    expect(takeover(late, only([...SIGNAL_IDS, ID], { [ID]: { window: '3h' } }))).toHaveLength(1);
    // The window is inclusive: exactly an hour after the login still counts.
    expect(takeover([home, attacker, update('acc1', 90 * MIN, 'email', { deviceId: 'evil-phone' })])).toHaveLength(1);
    expect(takeover([home, attacker, update('acc1', 91 * MIN, 'email', { deviceId: 'evil-phone' })])).toHaveLength(0);
  });

  it('stays quiet on a profile change, and honours changes', () => {
    const { home, attacker } = stolenPassword();
    const profile = [home, attacker, update('acc1', 40 * MIN, 'profile', { deviceId: 'evil-phone' })];
    expect(takeover(profile)).toHaveLength(0);
    expect(takeover(profile, only([...SIGNAL_IDS, ID], { [ID]: { changes: ['profile'] } }))).toHaveLength(1);
    const password = [home, attacker, update('acc1', 40 * MIN, 'password', { deviceId: 'evil-phone' })];
    expect(takeover(password, only([...SIGNAL_IDS, ID], { [ID]: { changes: ['email'] } }))).toHaveLength(0);
  });

  it('honours signals', () => {
    const { home, attacker } = stolenPassword();
    const evs = [home, attacker, update('acc1', 40 * MIN, 'email', { deviceId: 'evil-phone' })];
    expect(takeover(evs, only([...SIGNAL_IDS, ID], { [ID]: { signals: ['brute_force', 'geo_surge'] } }))).toHaveLength(0);
    expect(takeover(evs, only([...SIGNAL_IDS, ID], { [ID]: { signals: ['impossible_travel'] } }))).toHaveLength(1);
  });

  it('rejects out-of-range options', () => {
    expect(() => only([ID], { [ID]: { window: '30s' } })).toThrow();
    expect(() => only([ID], { [ID]: { changes: [] } })).toThrow();
    expect(() => only([ID], { [ID]: { changes: ['address'] } })).toThrow();
    expect(() => only([ID], { [ID]: { signals: ['concurrent_streams'] } })).toThrow();
  });

  it('counts a redelivered update once', () => {
    const { home, attacker } = stolenPassword();
    const change = update('acc1', 40 * MIN, 'email', { deviceId: 'evil-phone' });
    expect(takeover([home, attacker, change, { ...change }], NO_COOLDOWN)).toHaveLength(1);
  });

  it('gives the same alerts when events arrive out of order within the lateness', () => {
    const { home, attacker } = stolenPassword();
    const evs = [home, attacker, update('acc1', 40 * MIN, 'email', { deviceId: 'evil-phone' }), update('acc1', 45 * MIN, 'password', { ip: TOKYO })];
    const inOrder = takeover(evs, NO_COOLDOWN, 30_000);
    expect(inOrder.map((a) => a.evidence.matchedOn)).toEqual([['device'], ['ip']]);
    expect(takeover([...evs].reverse(), NO_COOLDOWN, HOUR)).toEqual(inOrder);
  });

  it('does not match an update that arrives, later than the lateness allows, before its risky login', () => {
    const { home, attacker } = stolenPassword();
    const change = update('acc1', 40 * MIN, 'email', { deviceId: 'evil-phone' });
    // The update (40 min) is scored before the late risky login (30 min): nothing to match yet.
    const r = run([home, change, attacker, update('acc1', 50 * MIN, 'email', { deviceId: 'evil-phone' })], { rules: NO_COOLDOWN, latenessMs: 0 });
    expect(r.of('impossible_travel')).toHaveLength(1);
    expect(r.of(ID).map((a) => a.evidence.minutesBetween)).toEqual([20]);
    // A change that happened before the risky login, delivered after it, is not its consequence.
    const before = run([home, attacker, update('acc1', 20 * MIN, 'email', { deviceId: 'evil-phone' })], { rules: NO_COOLDOWN, latenessMs: 0 });
    expect(before.of(ID)).toHaveLength(0);
  });
});

describe('account_takeover: state', () => {
  it('keeps nothing for an account without risky logins', () => {
    const evs = [login('acc1', 0, LONDON), update('acc1', MIN, 'email', { ip: LONDON })];
    expect(riskyAfter(evs)).toBeUndefined();
  });

  it('drops risky logins once the window has passed', () => {
    const { home, attacker } = stolenPassword();
    expect(riskyAfter([home, attacker])).toEqual([attacker.eventId]);
    expect(riskyAfter([home, attacker, update('acc1', 2 * HOUR, 'email', { ip: LONDON })])).toBeUndefined();
  });

  it('holds at most 16 risky logins', () => {
    // geo_surge alone: three countries, then every further new country is a risky login.
    const locator = testLocator(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`203.0.113.${100 + i}`, { country: `C${i}`, region: '', city: '', lat: 0, lon: 0, accuracyKm: 1000 }])));
    const evs = Array.from({ length: 20 }, (_, i) => login('acc1', i * MIN, `203.0.113.${100 + i}`));
    const risky = riskyAfter(evs, only(['geo_surge', ID]), locator)!;
    // Logins 3..20 (indexes 2..19) were risky; the 16 latest are kept.
    expect(risky).toEqual(evs.slice(4).map((e) => e.eventId));
  });
});

/** Event ids of the risky logins account_takeover holds for acc1 after the events. */
function riskyAfter(events: RawEvent[], rules = R, locator = testLocator()): string[] | undefined {
  const pipeline = new Pipeline({ rules, locator, onAlert: () => {} });
  for (const e of events) pipeline.offer(decodeValue(e), 0, undefined);
  pipeline.flush();
  const state = pipeline.core.store('account').get('acc1')?.states[DETECTOR_INDEX[ID]!] as { risky: { eventId: string }[] } | undefined;
  return state?.risky.map((r) => r.eventId);
}
