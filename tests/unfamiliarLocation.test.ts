import { describe, expect, it } from 'vitest';
import { DAY, HOUR, login, MIN, only, run, session, type RawEvent } from './helpers.js';

const ID = 'unfamiliar_location';
const R = only([ID]);
const NO_COOLDOWN = only([ID], { [ID]: { cooldown: '0s' } });

const LONDON = '198.51.100.1';
const MANCHESTER = '198.51.100.4';
const PARIS = '192.0.2.1';
const BERLIN = '192.0.2.2';
const TOKYO = '192.0.2.3';
const SAO_PAULO = '192.0.2.4';
const NEW_YORK = '203.0.113.1';
const US_COUNTRY = '192.0.2.100';

function unfamiliar(events: RawEvent[], rules = R, latenessMs?: number) {
  return run(events, { rules, latenessMs }).of(ID);
}

/** One successful login a day from `ip`, days `from` .. `from + n - 1`. */
function daily(account: string, n: number, ip: string, from = 0): RawEvent[] {
  return Array.from({ length: n }, (_, i) => login(account, (from + i) * DAY, ip));
}

describe('unfamiliar_location', () => {
  it('alerts (low) on a login from a new country once the account has 5 logins', () => {
    const paris = login('acc1', 5 * DAY, PARIS);
    const alerts = unfamiliar([...daily('acc1', 5, LONDON), paris]);
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.severity).toBe('low');
    expect(a.accountId).toBe('acc1');
    expect(a.eventIds).toEqual([paris.eventId]);
    expect(a.evidence).toEqual({
      country: 'FR',
      region: 'IDF',
      city: 'Paris',
      ip: PARIS,
      knownCountries: ['GB'],
      historyLogins: 5,
      historyDays: 5,
      firstLoginAt: '2026-03-02T08:00:00.000Z',
      minLogins: 5,
      minHistory: '7d',
    });
    expect(a.summary).toBe(`Successful login on account acc1 from Paris, FR (${PARIS}), a country not seen in its 5 logins over 5d (known: GB).`);
  });

  it('alerts on a country-level location too: the country is known', () => {
    const alerts = unfamiliar([...daily('acc1', 5, LONDON), login('acc1', 5 * DAY, US_COUNTRY)]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ country: 'US', city: '' });
    expect(alerts[0]!.summary).toContain(`from US (${US_COUNTRY})`);
  });

  it('learns the country after the alert: a second login from it does not alert again', () => {
    const evs = [...daily('acc1', 5, LONDON), login('acc1', 5 * DAY, PARIS), login('acc1', 5 * DAY + HOUR, PARIS), login('acc1', 6 * DAY, PARIS)];
    expect(unfamiliar(evs, NO_COOLDOWN)).toHaveLength(1);
  });

  it('has a learning history after 7 days even with few logins', () => {
    // Two logins a week apart, then Tokyo: 7.1 days of history.
    const alerts = unfamiliar([login('acc1', 0, LONDON), login('acc1', 7 * DAY, LONDON), login('acc1', 7 * DAY + 2 * HOUR + 24 * MIN, TOKYO)]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ country: 'JP', historyLogins: 2, historyDays: 7.1 });
    // Six and a half days and two logins is still learning.
    expect(unfamiliar([login('acc2', 0, LONDON), login('acc2', 6 * DAY, LONDON), login('acc2', 6 * DAY + 12 * HOUR, TOKYO)])).toHaveLength(0);
  });

  it("stays quiet on a new account's first logins from anywhere", () => {
    // Five countries in the first five logins: no history yet, every country is learned.
    const evs = [login('new', 0, LONDON), login('new', HOUR, NEW_YORK), login('new', 2 * HOUR, TOKYO), login('new', 3 * HOUR, PARIS), login('new', 4 * HOUR, SAO_PAULO)];
    expect(unfamiliar(evs, NO_COOLDOWN)).toHaveLength(0);
    // The sixth country, after five logins, is news.
    const sixth = unfamiliar([...evs, login('new', 5 * HOUR, BERLIN)], NO_COOLDOWN);
    expect(sixth).toHaveLength(1);
    expect(sixth[0]!.evidence).toMatchObject({ country: 'DE', knownCountries: ['GB', 'US', 'JP', 'FR', 'BR'], historyLogins: 5 });
  });

  it('stays quiet on logins from home, including other home cities, failed logins abroad and playback abroad', () => {
    const evs = [
      ...daily('acc1', 30, LONDON),
      login('acc1', 30 * DAY, MANCHESTER),
      login('acc1', 31 * DAY, TOKYO, false),
      ...session('acc1', 32 * DAY, HOUR, NEW_YORK, 'tv', 's1'),
    ];
    expect(unfamiliar(evs, NO_COOLDOWN)).toHaveLength(0);
  });

  it('honours minLogins and minHistory', () => {
    const evs = [login('acc1', 0, LONDON), login('acc1', HOUR, LONDON), login('acc1', 2 * HOUR, PARIS)];
    expect(unfamiliar(evs)).toHaveLength(0);
    expect(unfamiliar(evs, only([ID], { [ID]: { minLogins: 2 } }))).toHaveLength(1);
    expect(unfamiliar(evs, only([ID], { [ID]: { minHistory: '2h' } }))).toHaveLength(1);
    expect(unfamiliar(evs, only([ID], { [ID]: { minHistory: '3h' } }))).toHaveLength(0);
  });

  it('forgets a country not used within historyWindow (90 days)', () => {
    // FR learned on day 5 (alert), then only GB until day 100: FR was last seen 95 days ago.
    const evs = [...daily('acc1', 5, LONDON), login('acc1', 5 * DAY, PARIS), ...daily('acc1', 20, LONDON, 81), login('acc1', 100 * DAY + HOUR, PARIS)];
    expect(unfamiliar(evs, NO_COOLDOWN).map((a) => a.ts)).toEqual(['2026-03-07T08:00:00.000Z', '2026-06-10T09:00:00.000Z']);
    expect(unfamiliar(evs, only([ID], { [ID]: { cooldown: '0s', historyWindow: '120d' } }))).toHaveLength(1);
  });

  it('treats an account silent for longer than historyWindow as new', () => {
    const evs = [...daily('acc1', 5, LONDON), login('acc1', 100 * DAY, TOKYO)];
    expect(unfamiliar(evs)).toHaveLength(0);
    expect(unfamiliar(evs, only([ID], { [ID]: { historyWindow: '180d' } }))).toHaveLength(1);
  });

  it('remembers at most maxCountries, forgetting the least recently used', () => {
    // GB days 0-4, FR day 5 (alert), DE day 6 (alert): with room for two, GB (last day 4) goes.
    const evs = [...daily('acc1', 5, LONDON), login('acc1', 5 * DAY, PARIS), login('acc1', 6 * DAY, BERLIN), login('acc1', 7 * DAY, LONDON)];
    expect(unfamiliar(evs, NO_COOLDOWN).map((a) => a.evidence.country)).toEqual(['FR', 'DE']);
    const small = unfamiliar(evs, only([ID], { [ID]: { cooldown: '0s', maxCountries: 2 } }));
    expect(small.map((a) => a.evidence.country)).toEqual(['FR', 'DE', 'GB']);
    expect(small[2]!.evidence).toMatchObject({ knownCountries: ['FR', 'DE'] });
  });

  it('rejects out-of-range options', () => {
    expect(() => only([ID], { [ID]: { minLogins: 0 } })).toThrow();
    expect(() => only([ID], { [ID]: { minHistory: '10m' } })).toThrow();
    expect(() => only([ID], { [ID]: { historyWindow: '2y' } })).toThrow();
    expect(() => only([ID], { [ID]: { maxCountries: 65 } })).toThrow();
  });

  it('counts a redelivered login once', () => {
    // Four distinct logins (one delivered twice) are still a learning history.
    const first = login('acc1', 0, LONDON);
    const evs = [first, { ...first }, login('acc1', HOUR, LONDON), login('acc1', 2 * HOUR, LONDON), login('acc1', 3 * HOUR, LONDON), login('acc1', 4 * HOUR, PARIS)];
    expect(unfamiliar(evs)).toHaveLength(0);
  });

  it('gives the same alerts when events arrive out of order within the lateness', () => {
    const home = Array.from({ length: 5 }, (_, i) => login('acc1', i * 10 * MIN, LONDON));
    const evs = [...home, login('acc1', HOUR, PARIS), login('acc1', HOUR + MIN, TOKYO)];
    const inOrder = unfamiliar(evs, NO_COOLDOWN, 30_000);
    expect(inOrder.map((a) => a.evidence.country)).toEqual(['FR', 'JP']);
    expect(unfamiliar([...evs].reverse(), NO_COOLDOWN, 2 * HOUR)).toEqual(inOrder);
  });

  it('survives logins later than the lateness allows', () => {
    // The account's true first login arrives last: it extends the history backwards.
    const evs = [login('acc1', 7 * DAY, LONDON), login('acc1', 7 * DAY + HOUR, LONDON), login('acc1', 0, LONDON), login('acc1', 7 * DAY + 2 * HOUR, TOKYO)];
    const alerts = unfamiliar(evs, R, 0);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ country: 'JP', historyLogins: 3, firstLoginAt: '2026-03-02T08:00:00.000Z' });
  });
});
