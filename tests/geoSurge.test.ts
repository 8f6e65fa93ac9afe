import { describe, expect, it } from 'vitest';
import { DETECTOR_INDEX } from '../src/detectors/registry.js';
import { Pipeline } from '../src/engine/pipeline.js';
import { decodeValue } from '../src/events/decode.js';
import { HOUR, login, MIN, only, run, session, testLocator, type RawEvent } from './helpers.js';

const ID = 'geo_surge';
const R = only([ID]);
const NO_COOLDOWN = only([ID], { [ID]: { cooldown: '0s' } });

const LONDON = '198.51.100.1';
const PARIS = '192.0.2.1';
const BERLIN = '192.0.2.2';
const TOKYO = '192.0.2.3';
const MADRID = '192.0.2.5';
const US_COUNTRY = '192.0.2.100';
const DE_COUNTRY = '192.0.2.101';
const RU_COUNTRY = '192.0.2.102';
const BR_COUNTRY = '192.0.2.103';

function surge(events: RawEvent[], rules = R, latenessMs?: number) {
  return run(events, { rules, latenessMs }).of(ID);
}

describe('geo_surge', () => {
  it('alerts on logins from 3 countries within 40 minutes, listing each country with its first time and address', () => {
    const gb = login('acc1', 0, LONDON);
    const us = login('acc1', 20 * MIN, US_COUNTRY);
    const jp = login('acc1', 40 * MIN, TOKYO);
    const alerts = surge([gb, us, jp]);
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.severity).toBe('high');
    expect(a.accountId).toBe('acc1');
    expect(a.ts).toBe('2026-03-02T08:40:00.000Z');
    expect(a.eventIds).toEqual([gb.eventId, us.eventId, jp.eventId]);
    expect(a.evidence).toEqual({
      countries: [
        { country: 'GB', firstAt: '2026-03-02T08:00:00.000Z', ip: LONDON },
        { country: 'US', firstAt: '2026-03-02T08:20:00.000Z', ip: US_COUNTRY },
        { country: 'JP', firstAt: '2026-03-02T08:40:00.000Z', ip: TOKYO },
      ],
      distinctCountries: 3,
      spanMinutes: 40,
      minCountries: 3,
      window: '1h',
    });
    expect(a.summary).toBe(
      `Successful logins on account acc1 from 3 countries within 40m (threshold 3 in 1h): ` +
        `GB at 08:00 UTC from ${LONDON}, US at 08:20 UTC from ${US_COUNTRY}, JP at 08:40 UTC from ${TOKYO}.`,
    );
  });

  it('counts country-level locations: the country is known', () => {
    const alerts = surge([login('acc1', 0, DE_COUNTRY), login('acc1', 10 * MIN, RU_COUNTRY), login('acc1', 20 * MIN, BR_COUNTRY)]);
    expect(alerts).toHaveLength(1);
    expect((alerts[0]!.evidence.countries as { country: string }[]).map((c) => c.country)).toEqual(['DE', 'RU', 'BR']);
  });

  it('reports the first login of each country within the window, not one that slid out of it', () => {
    // GB at 0, 30 and 70 min; then FR at 80 and JP at 90: the window is 30..90, so GB from 30.
    const evs = [login('acc1', 0, LONDON), login('acc1', 30 * MIN, LONDON), login('acc1', 70 * MIN, LONDON), login('acc1', 80 * MIN, PARIS), login('acc1', 90 * MIN, TOKYO)];
    const alerts = surge(evs);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({
      countries: [
        { country: 'GB', firstAt: '2026-03-02T08:30:00.000Z' },
        { country: 'FR', firstAt: '2026-03-02T09:20:00.000Z' },
        { country: 'JP', firstAt: '2026-03-02T09:30:00.000Z' },
      ],
      spanMinutes: 60,
    });
    expect(alerts[0]!.eventIds).toEqual([evs[1]!.eventId, evs[3]!.eventId, evs[4]!.eventId]);
  });

  it('stays quiet on a border commuter: two countries many times a day', () => {
    const evs: RawEvent[] = [];
    for (let i = 0; i < 12; i++) evs.push(login('acc1', i * 40 * MIN, i % 2 === 0 ? LONDON : PARIS));
    expect(surge(evs, NO_COOLDOWN)).toHaveLength(0);
  });

  it('stays quiet on three countries spread over a day, and on three countries 61 minutes apart', () => {
    expect(surge([login('acc1', 0, LONDON), login('acc1', 6 * HOUR, PARIS), login('acc1', 12 * HOUR, BERLIN)])).toHaveLength(0);
    expect(surge([login('acc2', 0, LONDON), login('acc2', 30 * MIN, PARIS), login('acc2', 61 * MIN, BERLIN)])).toHaveLength(0);
    // The window is inclusive: exactly 60 minutes is within it.
    expect(surge([login('acc3', 0, LONDON), login('acc3', 30 * MIN, PARIS), login('acc3', 60 * MIN, BERLIN)])).toHaveLength(1);
  });

  it('ignores failed logins and playback', () => {
    const evs = [login('acc1', 0, LONDON), login('acc1', 10 * MIN, PARIS, false), login('acc1', 20 * MIN, TOKYO, false), ...session('acc1', 0, 30 * MIN, MADRID, 'tv', 's1')];
    expect(surge(evs)).toHaveLength(0);
  });

  it('raises a finding only when a country joins the window, not on every later login', () => {
    const evs = [login('acc1', 0, LONDON), login('acc1', 10 * MIN, PARIS), login('acc1', 20 * MIN, TOKYO), login('acc1', 25 * MIN, LONDON), login('acc1', 30 * MIN, TOKYO), login('acc1', 35 * MIN, MADRID)];
    expect(surge(evs, NO_COOLDOWN).map((a) => a.evidence.distinctCountries)).toEqual([3, 4]);
  });

  it('honours minCountries and window', () => {
    const commute = [login('acc1', 0, LONDON), login('acc1', 30 * MIN, PARIS)];
    expect(surge(commute)).toHaveLength(0);
    const two = only([ID], { [ID]: { minCountries: 2 } });
    expect(surge(commute, two)).toHaveLength(1);
    expect(surge(commute, two)[0]!.evidence).toMatchObject({ distinctCountries: 2, minCountries: 2 });

    const slow = [login('acc2', 0, LONDON), login('acc2', 50 * MIN, PARIS), login('acc2', 100 * MIN, BERLIN)];
    expect(surge(slow)).toHaveLength(0);
    const wide = surge(slow, only([ID], { [ID]: { window: '2h' } }));
    expect(wide).toHaveLength(1);
    expect(wide[0]!.evidence).toMatchObject({ spanMinutes: 100, window: '2h' });
  });

  it('rejects out-of-range options', () => {
    expect(() => only([ID], { [ID]: { minCountries: 1 } })).toThrow();
    expect(() => only([ID], { [ID]: { minCountries: 17 } })).toThrow();
    expect(() => only([ID], { [ID]: { window: '30s' } })).toThrow();
    expect(() => only([ID], { [ID]: { window: '2d' } })).toThrow();
  });

  it('gives the same alerts when events arrive out of order within the lateness', () => {
    const evs = [login('acc1', 0, LONDON), login('acc1', 10 * MIN, PARIS), login('acc1', 20 * MIN, TOKYO), login('acc1', 30 * MIN, MADRID), login('acc1', 3 * HOUR, LONDON)];
    const inOrder = surge(evs, NO_COOLDOWN, 30_000);
    expect(inOrder.map((a) => a.evidence.distinctCountries)).toEqual([3, 4]);
    expect(surge([evs[3]!, evs[1]!, evs[4]!, evs[0]!, evs[2]!], NO_COOLDOWN, 4 * HOUR)).toEqual(inOrder);
  });

  it('counts a redelivered login once', () => {
    const gb = login('acc1', 0, LONDON);
    const fr = login('acc1', 10 * MIN, PARIS);
    const jp = login('acc1', 20 * MIN, TOKYO);
    const alerts = surge([gb, fr, { ...fr }, jp, { ...jp }], NO_COOLDOWN);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.eventIds).toEqual([gb.eventId, fr.eventId, jp.eventId]);
  });

  it('judges logins later than the lateness allows against the window around them', () => {
    const gb = login('acc1', 0, LONDON);
    const us = login('acc1', 20 * MIN, US_COUNTRY);
    const jp = login('acc1', 40 * MIN, TOKYO);
    const alerts = surge([jp, gb, us], NO_COOLDOWN, 0);
    expect(alerts).toHaveLength(1);
    // The late US login completes the surge: it is the trigger, the countries read in time order.
    expect(alerts[0]!.eventIds).toEqual([gb.eventId, jp.eventId, us.eventId]);
    expect((alerts[0]!.evidence.countries as { country: string }[]).map((c) => c.country)).toEqual(['GB', 'US', 'JP']);
    // A login older than the window before the newest one changes nothing.
    expect(surge([login('acc2', 2 * HOUR, LONDON), login('acc2', 2 * HOUR + 10 * MIN, PARIS), login('acc2', 0, TOKYO)], NO_COOLDOWN, 0)).toHaveLength(0);
  });
});

describe('geo_surge: state', () => {
  it('forgets countries that left the window', () => {
    const evs = [login('acc1', 0, LONDON), login('acc1', 10 * MIN, PARIS), login('acc1', 3 * HOUR, TOKYO)];
    expect(countriesAfter(evs)).toEqual(['JP']);
  });

  it('holds at most 16 countries', () => {
    const locator = testLocator(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`203.0.113.${100 + i}`, { country: `C${i}`, region: '', city: '', lat: 0, lon: 0, accuracyKm: 1000 }])));
    const evs = Array.from({ length: 20 }, (_, i) => login('acc1', i * MIN, `203.0.113.${100 + i}`));
    expect(countriesAfter(evs, locator)).toEqual(Array.from({ length: 16 }, (_, i) => `C${i + 4}`));
  });

  it('keeps no state for failed logins', () => {
    expect(countriesAfter([login('acc1', 0, LONDON, false)])).toBeUndefined();
  });
});

/** The countries geo_surge holds for acc1 after the events (the engine's own state record). */
function countriesAfter(events: RawEvent[], locator = testLocator()): string[] | undefined {
  const pipeline = new Pipeline({ rules: R, locator, onAlert: () => {} });
  for (const e of events) pipeline.offer(decodeValue(e), 0, undefined);
  pipeline.flush();
  const countries = pipeline.core.store('account').get('acc1')?.states[DETECTOR_INDEX[ID]!] as { country: string }[] | undefined;
  return countries?.map((c) => c.country);
}
