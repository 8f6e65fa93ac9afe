import { createRequire } from 'node:module';
import { LRUCache } from 'lru-cache';

/**
 * Where an address is, as far as the geolocation database knows. `accuracyKm` is the
 * database's accuracy radius (geoip-lite's `area`); a fix is `precise` only when it names a
 * city and its radius is within the configured bound, otherwise it is country-level context.
 */
export interface GeoPoint {
  readonly country: string;
  readonly region: string;
  readonly city: string;
  readonly lat: number;
  readonly lon: number;
  readonly accuracyKm: number;
}

export interface GeoLocator {
  /** Returns null for private, reserved or unknown addresses. */
  lookup(ip: string): GeoPoint | null;
}

interface GeoipLiteModule {
  lookup(ip: string): { country: string; region: string; city: string; ll: [number | null, number | null]; area?: number } | null;
}

const require = createRequire(import.meta.url);

/** Radius used when the database gives coordinates but no accuracy; treated as coarse. */
const UNKNOWN_ACCURACY_KM = 1000;

/** Cached for addresses the database does not place (LRU cannot hold null or undefined). */
const UNPLACED = Object.freeze({ unplaced: true });

/**
 * geoip-lite behind a bounded LRU cache. A lookup is a binary search costing a few
 * microseconds; the same addresses recur constantly in a login stream (homes, NATs), so the
 * cache removes most of that cost.
 *
 * Points are interned: the database knows far fewer places than a busy stream has addresses,
 * and detectors keep the points they are handed, so one object per place (not per address)
 * keeps both the cache and the detectors' state small.
 */
export class GeoipLiteLocator implements GeoLocator {
  private readonly geoip: GeoipLiteModule;
  private readonly cache: LRUCache<string, GeoPoint | typeof UNPLACED>;
  /** One point per distinct place; bounded by the database's own number of locations. */
  private readonly places = new Map<string, GeoPoint>();

  constructor(cacheSize = 100_000) {
    // geoip-lite loads ~150 MB of data synchronously on first require: keep it out of module
    // import so commands that never locate (validate, generate) start instantly.
    this.geoip = require('geoip-lite') as GeoipLiteModule;
    this.cache = new LRUCache({ max: cacheSize });
  }

  lookup(ip: string): GeoPoint | null {
    const hit = this.cache.get(ip);
    if (hit !== undefined) return hit === UNPLACED ? null : (hit as GeoPoint);
    const point = this.resolve(ip);
    this.cache.set(ip, point ?? UNPLACED);
    return point;
  }

  private resolve(ip: string): GeoPoint | null {
    const r = this.geoip.lookup(ip);
    if (!r || !r.country) return null;
    const [lat, lon] = r.ll;
    if (lat === null || lon === null) return null;
    const region = r.region ?? '';
    const city = r.city ?? '';
    const accuracyKm = typeof r.area === 'number' && r.area > 0 ? r.area : UNKNOWN_ACCURACY_KM;
    const place = `${r.country}|${region}|${city}|${lat}|${lon}|${accuracyKm}`;
    let point = this.places.get(place);
    if (point === undefined) {
      point = Object.freeze({ country: r.country, region, city, lat, lon, accuracyKm });
      this.places.set(place, point);
    }
    return point;
  }
}

/** A fixed table, for tests and for users who bring their own geolocation. */
export class StaticLocator implements GeoLocator {
  private readonly table: ReadonlyMap<string, GeoPoint>;
  constructor(entries: Record<string, GeoPoint>) {
    this.table = new Map(Object.entries(entries));
  }
  lookup(ip: string): GeoPoint | null {
    return this.table.get(ip) ?? null;
  }
}
