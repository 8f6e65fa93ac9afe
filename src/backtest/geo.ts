import { haversineKm } from '../geo/distance.js';
import type { GeoDataInfo, GeoLocator, GeoPoint } from '../geo/locator.js';

/** Points further apart than this are "in another place" for the comparison (a city's own size). */
export const FAR_KM = 50;

/** One address the two databases place differently, for the examples. */
export interface GeoDifference {
  readonly ip: string;
  readonly a: GeoPoint | null;
  readonly b: GeoPoint | null;
  /** Distance between the two points; null when either side does not place the address. */
  readonly km: number | null;
}

/**
 * How two geolocation databases place the distinct addresses of one log: the first thing to
 * read when a backtest compares providers, since every geo detector's change follows from it.
 */
export interface GeoComparison {
  readonly a: GeoDataInfo | undefined;
  readonly b: GeoDataInfo | undefined;
  /** Distinct addresses the log's events carry. */
  readonly addresses: number;
  readonly placedA: number;
  readonly placedB: number;
  /** Placed by one database only. */
  readonly onlyA: number;
  readonly onlyB: number;
  /** Placed by both, in different countries. */
  readonly country: number;
  /** Placed by both, not the same city (a city on one side only, or another city or region). */
  readonly city: number;
  /** Placed by both, more than FAR_KM apart. */
  readonly far: number;
  /** Placed by both, city-level on one side and country-level (no city) on the other. */
  readonly cityLevelChanged: number;
  /** The most distant differences first, then addresses placed by one side only. */
  readonly examples: readonly GeoDifference[];
}

/** Wraps a locator to collect the distinct addresses looked up (the log's addresses, as the engine sees them). */
export function recordingLocator(locator: GeoLocator, seen: Set<string>): GeoLocator {
  return {
    info: locator.info,
    lookup(ip: string) {
      seen.add(ip);
      return locator.lookup(ip);
    },
  };
}

const cityOf = (p: GeoPoint) => (p.city === '' ? '' : `${p.country}/${p.region}/${p.city}`);

export function compareGeo(addresses: Iterable<string>, a: GeoLocator, b: GeoLocator, examples = 10): GeoComparison {
  let n = 0;
  let placedA = 0;
  let placedB = 0;
  let onlyA = 0;
  let onlyB = 0;
  let country = 0;
  let city = 0;
  let far = 0;
  let cityLevelChanged = 0;
  const diffs: GeoDifference[] = [];
  // Sorted: the examples, and ties between them, do not depend on the log's order.
  for (const ip of [...addresses].sort()) {
    n++;
    const pa = a.lookup(ip);
    const pb = b.lookup(ip);
    if (pa !== null) placedA++;
    if (pb !== null) placedB++;
    if (pa === null || pb === null) {
      if (pa !== null) onlyA++;
      if (pb !== null) onlyB++;
      if (pa !== pb) diffs.push({ ip, a: pa, b: pb, km: null });
      continue;
    }
    const km = haversineKm(pa.lat, pa.lon, pb.lat, pb.lon);
    if (pa.country !== pb.country) country++;
    if (cityOf(pa) !== cityOf(pb)) city++;
    if ((pa.city === '') !== (pb.city === '')) cityLevelChanged++;
    if (km > FAR_KM) far++;
    if (km > FAR_KM || pa.country !== pb.country || cityOf(pa) !== cityOf(pb)) diffs.push({ ip, a: pa, b: pb, km });
  }
  diffs.sort((x, y) => (y.km ?? -1) - (x.km ?? -1));
  return { a: a.info, b: b.info, addresses: n, placedA, placedB, onlyA, onlyB, country, city, far, cityLevelChanged, examples: diffs.slice(0, examples) };
}
