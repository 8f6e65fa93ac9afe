import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/**
 * Where an address is, as far as the geolocation database knows. `accuracyKm` is the
 * database's accuracy radius (geoip-lite's `area`, an mmdb's `location.accuracy_radius`); a fix
 * is `precise` only when it names a city and its radius is within the configured bound,
 * otherwise it is country-level context.
 */
export interface GeoPoint {
  readonly country: string;
  readonly region: string;
  readonly city: string;
  readonly lat: number;
  readonly lon: number;
  readonly accuracyKm: number;
}

/**
 * Which data answers the lookups: shown by `validate`, in /metrics (`fraudwatch_geo_info`) and
 * in backtest reports, and hashed into rulesVersion when the rules choose their geolocation.
 */
export interface GeoDataInfo {
  readonly provider: 'geoip-lite' | 'mmdb';
  /** When the data was built: an mmdb's metadata `build_epoch` (UTC, to the second); geoip-lite's data date. */
  readonly build: string;
  /** The database's own name: `GeoLite2-City`, `GeoIP2-City`, … */
  readonly databaseType: string;
  /** The file, for an mmdb. */
  readonly path?: string;
}

export interface GeoLocator {
  /** Returns null for private, reserved or unknown addresses. */
  lookup(ip: string): GeoPoint | null;
  /** The data in use; absent for fixed tables (tests, users' own lookups). */
  readonly info?: GeoDataInfo;
}

/**
 * One geolocation database, opened: what differs between geoip-lite and a MaxMind `.mmdb`.
 * `locate` is uncached and may build a new object per call; CachedLocator caches and interns.
 */
export interface GeoProvider {
  readonly info: GeoDataInfo;
  locate(ip: string): GeoPoint | null;
}

const require = createRequire(import.meta.url);

/** Radius used when the database gives coordinates but no accuracy; treated as coarse. */
export const UNKNOWN_ACCURACY_KM = 1000;

/**
 * A provider behind a bounded cache. A lookup is a tree or binary search costing a few
 * microseconds; the same addresses recur constantly in a login stream (homes, NATs), so the
 * cache removes most of that cost.
 *
 * The cache is two generations of plain Maps, each up to half the size: an address found in the
 * older one moves to the newer, and when the newer is full the older is dropped whole. It keeps
 * what was used within about the last half of the size, as an LRU does, at the cost of one Map
 * lookup per hit: lru-cache's get (an options object per call, staleness and diagnostics
 * checks), run for every event, was about a tenth of the engine's time. Nothing but speed
 * depends on what it holds: a lookup is a function of the address and the data.
 *
 * Points are interned: the database knows far fewer places than a busy stream has addresses,
 * and detectors keep the points they are handed, so one object per place (not per address)
 * keeps both the cache and the detectors' state small.
 *
 * `swap` replaces the database in place (an mmdb's weekly update): the engine keeps the same
 * locator object, so nothing downstream needs telling, and every answer after the swap comes
 * from the new data.
 */
export class CachedLocator implements GeoLocator {
  private provider: GeoProvider;
  /** Addresses looked up in the current generation (null: the database does not place it). */
  private recent = new Map<string, GeoPoint | null>();
  private older = new Map<string, GeoPoint | null>();
  private readonly generationSize: number;
  /** One point per distinct place; bounded by the database's own number of locations. */
  private places = new Map<string, GeoPoint>();
  private readonly listeners = new Set<(info: GeoDataInfo, previous: GeoDataInfo) => void>();

  constructor(provider: GeoProvider, cacheSize = 100_000) {
    this.provider = provider;
    this.generationSize = Math.max(1, Math.floor(cacheSize / 2));
  }

  get info(): GeoDataInfo {
    return this.provider.info;
  }

  lookup(ip: string): GeoPoint | null {
    const hit = this.recent.get(ip);
    if (hit !== undefined) return hit;
    let point = this.older.get(ip);
    if (point === undefined) point = this.intern(this.provider.locate(ip));
    if (this.recent.size >= this.generationSize) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(ip, point);
    return point;
  }

  /**
   * Answers from `provider` from now on. The cache and the interned places answered for the old
   * data and are dropped (points already held by detectors stay valid: they are plain data).
   */
  swap(provider: GeoProvider): void {
    const previous = this.provider.info;
    this.provider = provider;
    this.recent = new Map();
    this.older = new Map();
    this.places = new Map();
    for (const listener of this.listeners) listener(provider.info, previous);
  }

  /** Called after every swap with the new and the previous data; returns the unsubscribe. */
  onSwap(listener: (info: GeoDataInfo, previous: GeoDataInfo) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private intern(p: GeoPoint | null): GeoPoint | null {
    if (p === null) return null;
    const place = `${p.country}|${p.region}|${p.city}|${p.lat}|${p.lon}|${p.accuracyKm}`;
    let point = this.places.get(place);
    if (point === undefined) {
      point = Object.freeze({ country: p.country, region: p.region, city: p.city, lat: p.lat, lon: p.lon, accuracyKm: p.accuracyKm });
      this.places.set(place, point);
    }
    return point;
  }
}

interface GeoipLiteModule {
  lookup(ip: string): { country: string; region: string; city: string; ll: [number | null, number | null]; area?: number } | null;
}

/** geoip-lite: GeoLite2 City data bundled with the package (2023-11-15 in 1.4.10). The default. */
export class GeoipLiteProvider implements GeoProvider {
  private readonly geoip: GeoipLiteModule;
  readonly info: GeoDataInfo = geoipLiteInfo();

  constructor() {
    // geoip-lite loads ~150 MB of data synchronously on first require: keep it out of module
    // import so commands that never locate (validate, generate) start instantly.
    this.geoip = require('geoip-lite') as GeoipLiteModule;
  }

  locate(ip: string): GeoPoint | null {
    const r = this.geoip.lookup(ip);
    if (!r || !r.country) return null;
    const [lat, lon] = r.ll;
    if (lat === null || lon === null) return null;
    const accuracyKm = typeof r.area === 'number' && r.area > 0 ? r.area : UNKNOWN_ACCURACY_KM;
    return { country: r.country, region: r.region ?? '', city: r.city ?? '', lat, lon, accuracyKm };
  }
}

/** geoip-lite behind the cache: what every command used before mmdb support, and still the default. */
export class GeoipLiteLocator extends CachedLocator {
  constructor(cacheSize = 100_000) {
    super(new GeoipLiteProvider(), cacheSize);
  }
}

let geoipLiteData: GeoDataInfo | undefined;

/**
 * The date of geoip-lite's data without loading it (validate must stay instant): its
 * `data/city.checksum` names the MaxMind archive it was built from,
 * `GeoLite2-City-CSV_20231115.zip`. The data directory is found as geoip-lite finds it.
 */
export function geoipLiteInfo(): GeoDataInfo {
  if (geoipLiteData !== undefined) return geoipLiteData;
  let build = 'unknown';
  try {
    const dataDir = resolve(dirname(require.resolve('geoip-lite')), process.env.GEODATADIR || '../data/');
    const m = /GeoLite2-City-CSV_(\d{4})(\d{2})(\d{2})/.exec(readFileSync(join(dataDir, 'city.checksum'), 'utf8'));
    if (m) build = `${m[1]}-${m[2]}-${m[3]}`;
  } catch {
    // An unusual install (a data directory of its own without the checksum): the date is unknown.
  }
  geoipLiteData = Object.freeze({ provider: 'geoip-lite', build, databaseType: 'GeoLite2-City' });
  return geoipLiteData;
}

/** One line for people: `mmdb (GeoLite2-City built 2026-09-18T04:49:38Z, /data/GeoLite2-City.mmdb)`. */
export function describeGeo(info: GeoDataInfo): string {
  return info.provider === 'mmdb' ? `mmdb (${info.databaseType} built ${info.build}, ${info.path})` : `geoip-lite (${info.databaseType} of ${info.build}, bundled)`;
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
