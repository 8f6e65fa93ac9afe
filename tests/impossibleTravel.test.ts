import { describe, expect, it } from 'vitest';
import { DETECTOR_INDEX } from '../src/detectors/registry.js';
import { Pipeline } from '../src/engine/pipeline.js';
import { decodeValue } from '../src/events/decode.js';
import { byTime, DAY, HOUR, login, MIN, only, playback, run, session, testLocator, type RawEvent } from './helpers.js';

const ID = 'impossible_travel';
const R = only([ID]);
/** Every finding an alert: for counting findings rather than cooldown periods. */
const NO_COOLDOWN = only([ID], { [ID]: { cooldown: '0s', repeatAfter: '0s' } });
/** Cooldown off, but the detector's own one-alert-per-episode rule on (the default repeatAfter). */
const EPISODES = only([ID], { [ID]: { cooldown: '0s' } });

const LONDON = '198.51.100.1';
const LONDON_2 = '198.51.100.2';
const READING = '198.51.100.3'; // 59.2 km from London
const MANCHESTER = '198.51.100.4'; // 262.0 km from London
const NEW_YORK = '203.0.113.1'; // 5570.2 km from London
const PARIS = '192.0.2.1'; // 343.6 km from London
const TOKYO = '192.0.2.3'; // 9558.6 km from London
const SAO_PAULO = '192.0.2.4'; // 9497.4 km from London
const US_COUNTRY = '192.0.2.100';
const DE_COUNTRY = '192.0.2.101';
const RU_COUNTRY = '192.0.2.102';
const BR_COUNTRY = '192.0.2.103';

// Places beyond the shared table (documentation addresses only).
const BIRMINGHAM = '203.0.113.50'; // 162.5 km from London
const LONDON_WIDE = '203.0.113.51'; // London with a 100 km radius: a fix, but not an accurate one
const MADRID_WIDE = '203.0.113.52'; // Madrid with a 100 km radius, 1263.4 km from London
const SLOUGH_WIDE = '203.0.113.53'; // Slough with a 200 km radius, 32.3 km from London, 362.0 km from Paris
const LYON_COARSE = '203.0.113.54'; // names a city, but a 300 km radius is above maxAccuracyKm
const locator = testLocator({
  [BIRMINGHAM]: { country: 'GB', region: 'ENG', city: 'Birmingham', lat: 52.4862, lon: -1.8904, accuracyKm: 20 },
  [LONDON_WIDE]: { country: 'GB', region: 'ENG', city: 'London', lat: 51.5074, lon: -0.1278, accuracyKm: 100 },
  [MADRID_WIDE]: { country: 'ES', region: 'MD', city: 'Madrid', lat: 40.4168, lon: -3.7038, accuracyKm: 100 },
  [SLOUGH_WIDE]: { country: 'GB', region: 'ENG', city: 'Slough', lat: 51.5105, lon: -0.595, accuracyKm: 200 },
  [LYON_COARSE]: { country: 'FR', region: 'ARA', city: 'Lyon', lat: 45.764, lon: 4.8357, accuracyKm: 300 },
});

function travel(events: RawEvent[], rules = R, latenessMs?: number) {
  return run(events, { rules, locator, latenessMs }).of(ID);
}

describe('impossible_travel: logins (issue 2)', () => {
  it('alerts on London then Tokyo an hour later, with both locations and the arithmetic in the evidence', () => {
    const first = login('acc1', 0, LONDON, true, { deviceId: 'laptop' });
    const second = login('acc1', 60 * MIN, TOKYO, true, { deviceId: 'phone-x' });
    const alerts = travel([first, second]);
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.severity).toBe('high');
    expect(a.accountId).toBe('acc1');
    expect(a.eventIds).toEqual([first.eventId, second.eventId]);
    // 9558.6 km great-circle, less 20 km accuracy at each end, over exactly one hour.
    expect(a.evidence).toEqual({
      from: {
        at: '2026-03-02T08:00:00.000Z',
        event: 'login',
        ip: LONDON,
        deviceId: 'laptop',
        sessionId: null,
        country: 'GB',
        region: 'ENG',
        city: 'London',
        lat: 51.5074,
        lon: -0.1278,
        accuracyKm: 20,
      },
      to: {
        at: '2026-03-02T09:00:00.000Z',
        event: 'login',
        ip: TOKYO,
        deviceId: 'phone-x',
        sessionId: null,
        country: 'JP',
        region: '13',
        city: 'Tokyo',
        lat: 35.6762,
        lon: 139.6503,
        accuracyKm: 20,
      },
      distanceKm: 9558.6,
      effectiveDistanceKm: 9518.6,
      elapsedMinutes: 60,
      speedKmh: 9519,
      maxSpeedKmh: 900,
      minDistanceKm: 100,
      distanceFloor: 'precise',
    });
    expect(a.summary).toBe(
      `Account acc1: login from London, GB (${LONDON}) then login from Tokyo, JP (${TOKYO}) 1h later: ` +
        `9,519 km apart after allowing for both locations' accuracy, an implied 9,519 km/h against a limit of 900 km/h.`,
    );
  });

  it('applies the standard 500 km floor when a fix is not accurate, and reports it', () => {
    // 1263.4 km less 100 km at each end = 1063.4 km in 30 min = 2127 km/h.
    const alerts = travel([login('acc1', 0, LONDON_WIDE), login('acc1', 30 * MIN, MADRID_WIDE)]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ effectiveDistanceKm: 1063.4, speedKmh: 2127, minDistanceKm: 500, distanceFloor: 'standard' });
  });

  it('alerts on two distant cities at the same instant, with no speed to report', () => {
    const alerts = travel([login('acc1', 0, LONDON), login('acc1', 0, NEW_YORK)]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ elapsedMinutes: 0, speedKmh: null, effectiveDistanceKm: 5530.2 });
    expect(alerts[0]!.summary).toContain('at the same moment');
  });

  it('ignores failed logins: a failure abroad is not a position of the account holder', () => {
    expect(travel([login('acc1', 0, LONDON), login('acc1', 5 * MIN, TOKYO, false)])).toHaveLength(0);
  });

  it('stays quiet on country-level addresses jumping between countries', () => {
    const evs = [login('acc1', 0, US_COUNTRY), login('acc1', 5 * MIN, RU_COUNTRY), login('acc1', 10 * MIN, BR_COUNTRY), login('acc1', 15 * MIN, DE_COUNTRY)];
    expect(travel(evs)).toHaveLength(0);
    // A city with a radius above maxAccuracyKm is no fix either.
    expect(travel([login('acc2', 0, LONDON), login('acc2', 5 * MIN, LYON_COARSE)])).toHaveLength(0);
  });

  it('does not let a country-level location replace the last fix', () => {
    const london = login('acc1', 0, LONDON);
    const tokyo = login('acc1', 60 * MIN, TOKYO);
    const alerts = travel([london, login('acc1', 10 * MIN, RU_COUNTRY), login('acc1', 20 * MIN, LYON_COARSE), tokyo]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.eventIds).toEqual([london.eventId, tokyo.eventId]);
    expect(alerts[0]!.evidence).toMatchObject({ from: { city: 'London' }, elapsedMinutes: 60 });
  });

  it('stays quiet on a plausible flight: London, then New York 8 hours later (691 km/h)', () => {
    expect(travel([login('acc1', 0, LONDON), login('acc1', 8 * HOUR, NEW_YORK)])).toHaveLength(0);
  });

  it('stays quiet on same-city re-logins, including two addresses at the same instant', () => {
    const evs = [login('acc1', 0, LONDON), login('acc1', 0, LONDON_2), login('acc1', 1 * MIN, LONDON), login('acc1', 2 * MIN, LONDON_2), login('acc1', 2 * MIN, LONDON_WIDE)];
    expect(travel(evs)).toHaveLength(0);
  });

  it('honours maxSpeedKmh, minDistanceKm and maxAccuracyKm', () => {
    const parisHalfHour = [login('acc1', 0, LONDON), login('acc1', 30 * MIN, PARIS)]; // 303.6 km in 30 min = 607 km/h
    expect(travel(parisHalfHour)).toHaveLength(0);
    const slow = only([ID], { [ID]: { maxSpeedKmh: 300 } });
    const alerts = travel(parisHalfHour, slow);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ speedKmh: 607, maxSpeedKmh: 300 });

    const madrid = [login('acc2', 0, LONDON_WIDE), login('acc2', 30 * MIN, MADRID_WIDE)]; // 1063.4 km left
    expect(travel(madrid, only([ID], { [ID]: { minDistanceKm: 1100 } }))).toHaveLength(0);
    expect(travel(madrid, only([ID], { [ID]: { minDistanceKm: 1000 } }))).toHaveLength(1);

    // With a 10 km bound, the table's 20 km city fixes are all country-level.
    expect(travel([login('acc3', 0, LONDON), login('acc3', 60 * MIN, TOKYO)], only([ID], { [ID]: { maxAccuracyKm: 10 } }))).toHaveLength(0);
  });

  it('rejects out-of-range options', () => {
    expect(() => only([ID], { [ID]: { maxSpeedKmh: 10 } })).toThrow();
    expect(() => only([ID], { [ID]: { maxPlaces: 0 } })).toThrow();
    expect(() => only([ID], { [ID]: { preciseAccuracyKm: 0 } })).toThrow();
    expect(() => only([ID], { [ID]: { speed: 900 } })).toThrow();
  });

  it('gives the same alerts when events arrive out of order within the lateness', () => {
    const evs = [login('acc1', 0, LONDON), login('acc1', 10 * MIN, LONDON_2), login('acc1', 20 * MIN, TOKYO), login('acc1', 40 * MIN, LONDON), login('acc1', 20 * HOUR, NEW_YORK)];
    const inOrder = travel(evs, NO_COOLDOWN, 30_000);
    const shuffled = travel([evs[2]!, evs[4]!, evs[0]!, evs[3]!, evs[1]!], NO_COOLDOWN, DAY);
    // Tokyo 10 min after London, London 20 min after Tokyo; New York is plausible from both
    // (5530.2 km in 19h20m, 10,798 km in 19h40m).
    expect(inOrder.map((a) => [a.evidence.from, a.evidence.to].map((f) => (f as { city: string }).city))).toEqual([
      ['London', 'Tokyo'],
      ['Tokyo', 'London'],
    ]);
    expect(shuffled).toEqual(inOrder);
  });

  it('counts a redelivered event once', () => {
    const london = login('acc1', 0, LONDON);
    const tokyo = login('acc1', 60 * MIN, TOKYO);
    // Without de-duplication the London copy, compared with Tokyo, would be a second finding.
    expect(travel([london, tokyo, { ...tokyo }, { ...london }], NO_COOLDOWN)).toHaveLength(1);
  });

  it('judges a login later than the lateness allows in time order', () => {
    const london = login('acc1', 0, LONDON);
    const tokyo = login('acc1', 60 * MIN, TOKYO);
    const alerts = travel([tokyo, london], NO_COOLDOWN, 0);
    expect(alerts).toHaveLength(1);
    // The late London login is the trigger (last), but the evidence reads in time order.
    expect(alerts[0]!.eventIds).toEqual([tokyo.eventId, london.eventId]);
    expect(alerts[0]!.evidence).toMatchObject({ from: { city: 'London' }, to: { city: 'Tokyo' }, elapsedMinutes: 60 });
  });

  it('does not let a late fix overwrite a newer one from the same place', () => {
    const london30 = login('acc1', 30 * MIN, LONDON);
    const tokyo = login('acc1', 40 * MIN, TOKYO);
    const alerts = travel([london30, login('acc1', 0, LONDON_2), tokyo], NO_COOLDOWN, 0);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.eventIds).toEqual([london30.eventId, tokyo.eventId]);
    expect(alerts[0]!.evidence).toMatchObject({ elapsedMinutes: 10 });
  });
});

describe('impossible_travel: short hops (issue 7)', () => {
  it('alerts on London then Manchester 10 minutes later with 20 km accuracy each', () => {
    // 262.0 km less 40 km = 222.0 km in 10 min = 1332 km/h: under the 500 km floor, over the 100 km one.
    const alerts = travel([login('acc1', 0, LONDON), login('acc1', 10 * MIN, MANCHESTER)]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ distanceKm: 262, effectiveDistanceKm: 222, speedKmh: 1332, minDistanceKm: 100, distanceFloor: 'precise' });
  });

  it('is off when preciseMinDistanceKm equals minDistanceKm, and is capped by it', () => {
    const evs = [login('acc1', 0, LONDON), login('acc1', 10 * MIN, MANCHESTER)];
    expect(travel(evs, only([ID], { [ID]: { preciseMinDistanceKm: 500 } }))).toHaveLength(0);
    // A precise floor above the standard one would make accurate fixes harder to judge: it is capped.
    expect(travel(evs, only([ID], { [ID]: { minDistanceKm: 200, preciseMinDistanceKm: 1000 } }))).toHaveLength(1);
  });

  it('honours preciseAccuracyKm: 20 km fixes are not accurate under a 10 km bound', () => {
    expect(travel([login('acc1', 0, LONDON), login('acc1', 10 * MIN, MANCHESTER)], only([ID], { [ID]: { preciseAccuracyKm: 10 } }))).toHaveLength(0);
  });

  it('stays quiet on a commuter between London and Reading (59.2 km) within the hour', () => {
    const evs = [login('acc1', 0, LONDON), login('acc1', 5 * MIN, READING), login('acc1', 10 * MIN, LONDON), login('acc1', 40 * MIN, READING)];
    expect(travel(evs)).toHaveLength(0);
  });

  it('still applies the speed limit to accurate fixes: 162.5 km in 3 hours is quiet, in 5 minutes is not', () => {
    // 122.5 km left after accuracy: 41 km/h over 3 h, 1470 km/h over 5 min.
    expect(travel([login('acc1', 0, LONDON), login('acc1', 3 * HOUR, BIRMINGHAM)])).toHaveLength(0);
    const alerts = travel([login('acc2', 0, LONDON), login('acc2', 5 * MIN, BIRMINGHAM)]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ effectiveDistanceKm: 122.5, speedKmh: 1470 });
  });
});

describe('impossible_travel: playback fixes (issue 7)', () => {
  // The owner streams at home from 0 to 60 min; a stolen cookie streams from Sao Paulo from 12 to 52 min.
  const home = session('acc1', 0, 60 * MIN, LONDON, 'tv', 's-home');
  const abroad = session('acc1', 12 * MIN, 40 * MIN, SAO_PAULO, 'x-box', 's-evil');
  const hijack = byTime([...home, ...abroad]);

  it('catches a foreign stream while the owner streams at home, with both sessions in the evidence', () => {
    const alerts = travel(hijack, only([ID], { [ID]: { cooldown: '2h' } }));
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    // The home session's latest heartbeat (10 min) against the foreign start (12 min).
    const homeBeat = home.find((e) => e.ts === '2026-03-02T08:10:00.000Z')!;
    expect(a.eventIds).toEqual([homeBeat.eventId, abroad[0]!.eventId]);
    expect(a.evidence).toMatchObject({
      from: { event: 'playback_heartbeat', sessionId: 's-home', deviceId: 'tv', city: 'London', ip: LONDON },
      to: { event: 'playback_start', sessionId: 's-evil', deviceId: 'x-box', city: 'Sao Paulo', ip: SAO_PAULO },
      effectiveDistanceKm: 9457.4,
      elapsedMinutes: 2,
      speedKmh: 283722,
    });
    expect(a.summary).toContain('playback heartbeat from London, GB');
    expect(a.summary).toContain('then playback start from Sao Paulo, BR');
  });

  it('keeps both places, so every event of either interleaved stream is a finding (cooldown makes them one alert)', () => {
    // From 12 min on: home heartbeats at 15..55 (9) and foreign start and heartbeats at 12..47 (8).
    expect(travel(hijack, NO_COOLDOWN)).toHaveLength(17);
    // The same two places are one episode: one alert for the whole hijack (repeatAfter 24h),
    // with or without the cooldown.
    expect(travel(hijack).map((a) => a.ts)).toEqual(['2026-03-02T08:12:00.000Z']);
    expect(travel(hijack, EPISODES)).toHaveLength(1);
    // repeatAfter shorter than the hijack: the episode alerts again once it has passed: the
    // foreign heartbeat at 32 min (20 min after 12), then the home heartbeat at 55 min (23 min
    // after 32; the foreign stream's last fix, 47 min, is 8 min before it).
    expect(travel(hijack, only([ID], { [ID]: { cooldown: '0s', repeatAfter: '20m' } })).map((a) => a.ts)).toEqual([
      '2026-03-02T08:12:00.000Z',
      '2026-03-02T08:32:00.000Z',
      '2026-03-02T08:55:00.000Z',
    ]);
  });

  it('alerts at once for a third place during an episode', () => {
    const evs = [...hijack, playback('acc1', 20 * MIN, PARIS, 'y', 's9', 'start')];
    const cities = travel(evs, EPISODES).map((a) => [(a.evidence.from as { city: string }).city, (a.evidence.to as { city: string }).city]);
    expect(cities.length).toBe(2);
    expect(cities[1]).toContain('Paris');
  });

  it('is off with playbackFixes: false', () => {
    expect(travel(hijack, only([ID], { [ID]: { playbackFixes: false } }))).toHaveLength(0);
  });

  it('compares a foreign stream with an older place when a less accurate nearby fix came since (maxPlaces)', () => {
    // London (20 km), then Slough (200 km radius), then Paris 10 min after London. Against Slough,
    // 362.0 km less 220 km is under the standard floor; against London, 303.6 km in 10 min is 1821 km/h.
    const london = login('acc1', 0, LONDON);
    const evs = [london, playback('acc1', 5 * MIN, SLOUGH_WIDE, 'tv', 's1', 'start'), playback('acc1', 10 * MIN, PARIS, 'x', 's2', 'start')];
    const alerts = travel(evs);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.eventIds[0]).toBe(london.eventId);
    expect(alerts[0]!.evidence).toMatchObject({ from: { city: 'London' }, speedKmh: 1821 });
    expect(travel(evs, only([ID], { [ID]: { maxPlaces: 1 } }))).toHaveLength(0);
  });

  it('stays quiet on a family streaming on several devices from one home', () => {
    const evs = [
      login('fam', 0, LONDON),
      ...session('fam', 1 * MIN, 3 * HOUR, LONDON, 'tv', 's1'),
      ...session('fam', 20 * MIN, 2 * HOUR, LONDON_2, 'tablet', 's2', 2 * MIN),
      ...session('fam', 30 * MIN, 90 * MIN, LONDON, 'phone', 's3', 1 * MIN),
      ...session('fam', 2 * HOUR, 1 * HOUR, READING, 'laptop', 's4'), // a phone network geolocating to the next town
    ];
    expect(travel(evs, NO_COOLDOWN)).toHaveLength(0);
  });

  it("does not compare a session with itself, even when its address is re-geolocated mid-stream", () => {
    const evs = [
      playback('acc1', 0, LONDON, 'phone', 's1', 'start'),
      playback('acc1', 5 * MIN, NEW_YORK, 'phone', 's1', 'heartbeat'), // VPN switched on
      playback('acc1', 10 * MIN, LONDON, 'phone', 's1', 'heartbeat'),
      playback('acc1', 15 * MIN, NEW_YORK, 'phone', 's1', 'heartbeat'),
    ];
    expect(travel(evs, NO_COOLDOWN)).toHaveLength(0);
  });

  it('stays quiet on a traveller streaming from a hotel 2 days after leaving home', () => {
    const evs = [
      login('acc1', 0, LONDON),
      ...session('acc1', 10 * MIN, 2 * HOUR, LONDON, 'tablet', 's1'),
      login('acc1', 2 * DAY, TOKYO, true, { deviceId: 'tablet' }),
      ...session('acc1', 2 * DAY + 5 * MIN, 2 * HOUR, TOKYO, 'tablet', 's2'),
    ];
    expect(travel(evs, NO_COOLDOWN)).toHaveLength(0);
  });

  it('gives the same alerts when the two streams arrive out of order within the lateness', () => {
    const inOrder = travel(hijack, NO_COOLDOWN, 30_000);
    const reversed = travel([...hijack].reverse(), NO_COOLDOWN, 2 * HOUR);
    expect(inOrder).toHaveLength(17);
    expect(reversed).toEqual(inOrder);
  });
});

describe('impossible_travel: state', () => {
  it('drops fixes too old to be part of an impossible pair (20016 km at 900 km/h: 22.24 h)', () => {
    const evs = [login('acc1', 0, LONDON), login('acc1', 22 * HOUR, TOKYO)];
    expect(fixesAfter(evs).map((f) => f.city)).toEqual(['London', 'Tokyo']);
    expect(fixesAfter([evs[0]!, login('acc1', 23 * HOUR, TOKYO)]).map((f) => f.city)).toEqual(['Tokyo']);
  });

  it('keeps one fix per city, at most maxPlaces, forgetting the oldest', () => {
    const cities = [LONDON, READING, MANCHESTER, PARIS, BIRMINGHAM, LONDON_2];
    const evs = cities.map((ip, i) => login('acc1', i * 5 * HOUR, ip));
    // London (0 h) is forgotten for Birmingham (20 h), then London comes back (25 h) in Reading's place.
    expect(fixesAfter(evs).map((f) => f.city)).toEqual(['Manchester', 'Paris', 'Birmingham', 'London']);
    expect(fixesAfter(evs, only([ID], { [ID]: { maxPlaces: 2 } })).map((f) => f.city)).toEqual(['Birmingham', 'London']);
  });

  it('keeps no state for an account without a position fix', () => {
    expect(fixesAfter([login('acc1', 0, US_COUNTRY), login('acc1', HOUR, LONDON, false)])).toEqual([]);
  });
});

/** The account's remembered fixes after the events (the engine's own state record). */
function fixesAfter(events: RawEvent[], rules = R): { city: string }[] {
  const pipeline = new Pipeline({ rules, locator, onAlert: () => {} });
  for (const e of events) pipeline.offer(decodeValue(e), 0, undefined);
  pipeline.flush();
  const fixes = pipeline.core.store('account').get('acc1')?.states[DETECTOR_INDEX[ID]!] as { geo: { city: string } }[] | undefined;
  return (fixes ?? []).map((f) => ({ city: f.geo.city }));
}
