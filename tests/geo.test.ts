import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import maxmind from 'maxmind';
import { describe, expect, it } from 'vitest';
import { isPreciseFix } from '../src/geo/distance.js';
import { CachedLocator, GeoipLiteLocator, GeoipLiteProvider, geoipLiteInfo, type GeoProvider } from '../src/geo/locator.js';
import { openMmdb, readMmdbMetadata } from '../src/geo/mmdb.js';
import { openLocator } from '../src/geo/setting.js';
import { cityRecord, writeMmdb, type MmdbNetwork } from './geoMmdbWriter.js';

const dir = mkdtempSync(join(tmpdir(), 'fw-geo-'));
function file(name: string, bytes: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/**
 * Four kinds of address, as geoip-lite 1.4.10 places them: city-level IPv4, country-level IPv4
 * (no city, 1000 km), city-level IPv6, and a private address no database places.
 */
const CITY_V4 = '81.2.69.160';
const COUNTRY_V4 = '8.8.8.8';
const CITY_V6 = '2a02:c7f::1';
const MISSING = '10.0.0.1';

/** An mmdb holding, for the same addresses, what geoip-lite's data says: the two must agree. */
const MIRROR: MmdbNetwork[] = [
  { cidr: '81.2.69.128/26', record: cityRecord({ country: 'GB', region: 'ENG', city: 'St Albans', lat: 51.753, lon: -0.3256, radius: 100 }) },
  { cidr: '8.8.8.0/24', record: cityRecord({ country: 'US', lat: 37.751, lon: -97.822, radius: 1000 }) },
  { cidr: '2a02:c7f::/32', record: cityRecord({ country: 'GB', region: 'ENG', city: 'Cranleigh', lat: 51.0955, lon: -0.5116, radius: 10 }) },
];

const geoipLite = new GeoipLiteLocator();

describe('the two providers', () => {
  it('geoip-lite: a city, a country-level address, IPv6, and an address it does not know', () => {
    expect(geoipLite.lookup(CITY_V4)).toEqual({ country: 'GB', region: 'ENG', city: 'St Albans', lat: 51.753, lon: -0.3256, accuracyKm: 100 });
    expect(geoipLite.lookup(COUNTRY_V4)).toEqual({ country: 'US', region: '', city: '', lat: 37.751, lon: -97.822, accuracyKm: 1000 });
    expect(geoipLite.lookup(CITY_V6)).toEqual({ country: 'GB', region: 'ENG', city: 'Cranleigh', lat: 51.0955, lon: -0.5116, accuracyKm: 10 });
    expect(geoipLite.lookup(MISSING)).toBeNull();
    expect(isPreciseFix(geoipLite.lookup(CITY_V4), 250)).toBe(true);
    expect(isPreciseFix(geoipLite.lookup(COUNTRY_V4), 250)).toBe(false);
  });

  it('mmdb: the same data gives the same points, field for field, through a real .mmdb read by maxmind', async () => {
    const mmdb = await openLocator({ provider: 'mmdb', path: file('mirror.mmdb', writeMmdb(MIRROR)) });
    for (const ip of [CITY_V4, COUNTRY_V4, CITY_V6, MISSING, '81.2.69.161', '::ffff:81.2.69.160']) {
      expect(mmdb.lookup(ip), ip).toEqual(geoipLite.lookup(ip));
    }
    expect(mmdb.lookup(MISSING)).toBeNull();
    expect(mmdb.info).toMatchObject({ provider: 'mmdb', databaseType: 'GeoLite2-City', build: '2026-01-01T00:00:00Z' });
  });

  it('mmdb: no city, or no accuracy radius, is a country-level point (never a position fix)', async () => {
    const p = await openMmdb(
      file(
        'coarse.mmdb',
        writeMmdb([
          { cidr: '192.0.2.0/25', record: cityRecord({ country: 'DE', lat: 51.2993, lon: 9.491 }) }, // no city, no radius
          { cidr: '192.0.2.128/25', record: cityRecord({ country: 'FR', region: 'IDF', city: 'Paris', lat: 48.8566, lon: 2.3522 }) }, // city, no radius
          { cidr: '198.51.100.0/24', record: { country: { iso_code: 'NL' } } }, // no location at all
          { cidr: '203.0.113.0/24', record: { registered_country: { iso_code: 'US' }, location: { latitude: 1, longitude: 2, accuracy_radius: 5 } } }, // no country
        ]),
      ),
    );
    const noCity = p.locate('192.0.2.1');
    const noRadius = p.locate('192.0.2.200');
    expect(noCity).toEqual({ country: 'DE', region: '', city: '', lat: 51.2993, lon: 9.491, accuracyKm: 1000 });
    expect(noRadius).toEqual({ country: 'FR', region: 'IDF', city: 'Paris', lat: 48.8566, lon: 2.3522, accuracyKm: 1000 });
    expect(isPreciseFix(noCity, 250)).toBe(false);
    expect(isPreciseFix(noRadius, 250)).toBe(false);
    expect(p.locate('198.51.100.7')).toBeNull();
    expect(p.locate('203.0.113.7')).toBeNull();
  });

  it('mmdb: the first subdivision is the region, the English name the city', async () => {
    const record = { ...cityRecord({ country: 'GB', city: 'x', lat: 51.5967, lon: -0.1593, radius: 20 }) };
    record.city = { names: { de: 'Ost-Finchley', en: 'East Finchley' } };
    record.subdivisions = [{ iso_code: 'ENG' }, { iso_code: 'BNE' }];
    const p = await openMmdb(file('names.mmdb', writeMmdb([{ cidr: '81.2.69.0/24', record }])));
    expect(p.locate('81.2.69.160')).toMatchObject({ region: 'ENG', city: 'East Finchley', accuracyKm: 20 });
  });

  it('caches per address and interns one point per place, for both providers', async () => {
    const mmdb = await openLocator({ provider: 'mmdb', path: file('mirror2.mmdb', writeMmdb(MIRROR)) });
    for (const loc of [mmdb, new CachedLocator(new GeoipLiteProvider())]) {
      const a = loc.lookup('81.2.69.160');
      expect(loc.lookup('81.2.69.160')).toBe(a);
      // Another address of the same block, the same place: the same object.
      expect(loc.lookup('81.2.69.161')).toBe(a);
      expect(Object.isFrozen(a)).toBe(true);
    }
  });

  it('an IPv4-only database answers an IPv6 address with null instead of throwing', async () => {
    const p = await openMmdb(file('v4.mmdb', writeMmdb(MIRROR.slice(0, 2), { ipVersion: 4, recordSize: 24 })));
    expect(p.locate(CITY_V4)).toMatchObject({ city: 'St Albans' });
    expect(p.locate(CITY_V6)).toBeNull();
  });

  it('geoip-lite reports the date of its data from its checksum file', () => {
    expect(geoipLiteInfo()).toEqual({ provider: 'geoip-lite', build: '2023-11-15', databaseType: 'GeoLite2-City' });
    expect(geoipLite.info).toBe(geoipLiteInfo());
  });
});

describe('the test writer makes files the real reader accepts', () => {
  it.each([24, 28, 32] as const)('record size %i', async (recordSize) => {
    const path = file(`rs${recordSize}.mmdb`, writeMmdb(MIRROR, { recordSize, buildEpoch: 1_790_000_000 }));
    const reader = await maxmind.open(path);
    expect(reader.metadata).toMatchObject({ recordSize, databaseType: 'GeoLite2-City', ipVersion: 6 });
    expect(reader.metadata.buildEpoch.getTime()).toBe(1_790_000_000_000);
    // The synchronous metadata reader used by rules validation agrees with maxmind.
    const meta = readMmdbMetadata(path);
    expect(meta).toMatchObject({ recordSize, databaseType: 'GeoLite2-City', ipVersion: 6, nodeCount: reader.metadata.nodeCount });
    expect(meta.buildEpoch).toEqual(reader.metadata.buildEpoch);
    expect((reader.get('81.2.69.160') as { city?: { names: { en: string } } }).city?.names.en).toBe('St Albans');
  });
});

describe('databases that cannot be used', () => {
  it('FW_GEO_DB for a missing, truncated, gzipped, non-City or foreign file', async () => {
    const good = writeMmdb(MIRROR);
    const cases: [string, Buffer | string, RegExp][] = [
      ['truncated.mmdb', good.subarray(0, good.length - 40), /no metadata section|truncated|Cannot parse/i],
      ['garbage.mmdb', 'this is not a database\n', /no metadata section|Cannot parse/i],
      ['gz.mmdb', gzipSync(good), /gzip/i],
      ['country.mmdb', writeMmdb(MIRROR, { databaseType: 'GeoLite2-Country' }), /not a City/],
    ];
    for (const [name, bytes, why] of cases) {
      const path = file(name, bytes);
      await expect(openMmdb(path), name).rejects.toMatchObject({ code: 'FW_GEO_DB', message: expect.stringMatching(why) });
    }
    await expect(openMmdb(join(dir, 'absent.mmdb'))).rejects.toMatchObject({ code: 'FW_GEO_DB', message: expect.stringContaining('ENOENT') });
  });
});


describe('the lookup cache', () => {
  /** A provider that places every address of 10.x in one city, nothing else, and counts its calls. */
  function counting(): GeoProvider & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      info: { provider: 'mmdb', build: 'test', databaseType: 'test' },
      locate(ip) {
        calls.push(ip);
        return ip.startsWith('10.') ? { country: 'GB', region: 'ENG', city: 'London', lat: 51.5, lon: -0.13, accuracyKm: 20 } : null;
      },
    };
  }

  it('asks the database once per address while it stays in use, unplaced addresses included', () => {
    const provider = counting();
    const loc = new CachedLocator(provider, 4);
    for (let round = 0; round < 5; round++) for (const ip of ['10.0.0.1', '192.0.2.9']) loc.lookup(ip);
    expect(provider.calls).toEqual(['10.0.0.1', '192.0.2.9']);
    expect(loc.lookup('192.0.2.9')).toBeNull();
    expect(loc.lookup('10.0.0.1')).toMatchObject({ city: 'London' });
  });

  it('keeps an address used in the last generation and forgets one unused for two', () => {
    const provider = counting();
    const loc = new CachedLocator(provider, 4); // generations of 2 addresses
    loc.lookup('10.0.0.1');
    loc.lookup('10.0.0.2');
    loc.lookup('10.0.0.3'); // a new generation: 1 and 2 are the older one
    loc.lookup('10.0.0.1'); // found in the older generation, brought forward
    loc.lookup('10.0.0.4'); // a new generation: 3 and 1 are the older one, 2 is gone
    loc.lookup('10.0.0.1');
    expect(provider.calls).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    loc.lookup('10.0.0.2');
    expect(provider.calls).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.2']);
  });

  it('answers from the new data after a swap', () => {
    const first = counting();
    const loc = new CachedLocator(first, 100);
    loc.lookup('10.0.0.1');
    const second = counting();
    loc.swap(second);
    loc.lookup('10.0.0.1');
    expect(second.calls).toEqual(['10.0.0.1']);
  });
});
