import ipaddr from 'ipaddr.js';
import { dottedQuadValue } from '../events/address.js';
import type { GeoPoint } from './locator.js';

const EARTH_RADIUS_KM = 6371.0088;
const RAD = Math.PI / 180;

/** Great-circle distance in km (haversine; error well under the databases' accuracy radii). */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLon = (lon2 - lon1) * RAD;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** True when the point names a city and its accuracy radius is within `maxAccuracyKm`. */
export function isPreciseFix(point: GeoPoint | null, maxAccuracyKm: number): point is GeoPoint {
  return point !== null && point.city !== '' && point.accuracyKm <= maxAccuracyKm;
}

/*
 * City keys are interned: every account in a city holds the same string, and the key of a place
 * seen before costs one map lookup (by city name, then a short scan of the places of that
 * name) instead of a new string per event. Nothing depends on it but memory and speed (keys
 * compare by value, and a state restored from a snapshot holds its own copies). Bounded: a full
 * table starts over.
 */
const MAX_CITY_KEYS = 1 << 16;
/** City name → [country, region, key, country, region, key, …]: one place, rarely a few. */
let cityKeys = new Map<string, string[]>();
let cityKeyCount = 0;

/** A household-style place name, "country/region/city": city-level when known, else null. */
export function cityKey(point: GeoPoint): string | null {
  const city = point.city;
  if (!city) return null;
  let places = cityKeys.get(city);
  if (places !== undefined) {
    for (let i = 0; i < places.length; i += 3) if (places[i] === point.country && places[i + 1] === point.region) return places[i + 2]!;
  }
  if (cityKeyCount >= MAX_CITY_KEYS) {
    cityKeys = new Map();
    cityKeyCount = 0;
    places = undefined;
  }
  const key = `${point.country}/${point.region}/${city}`;
  cityKeys.set(city, places === undefined ? [point.country, point.region, key] : places.concat(point.country, point.region, key));
  cityKeyCount++;
  return key;
}

/**
 * The network an address belongs to, as CIDR text: IPv4 /v4Bits, IPv6 /v6Bits.
 * Used where geolocation is coarse (households) and for prefix-level aggregation.
 */
export function networkPrefix(ip: string, v4Bits = 24, v6Bits = 48): string {
  const v4 = v4Bits >= 0 && v4Bits <= 32 ? dottedQuadValue(ip) : -1;
  if (v4 >= 0) {
    // Events carry IPv4 as a strict dotted quad (the decoder canonicalises): integer masking
    // gives ipaddr's text without its parse and byte arrays (login_risk runs this per login,
    // where the parse was about 3% of replay).
    const net = v4Bits === 0 ? 0 : (v4 & (-1 << (32 - v4Bits))) >>> 0;
    return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${v4Bits}`;
  }
  const addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return networkPrefix((addr as ipaddr.IPv6).toIPv4Address().toString(), v4Bits, v6Bits);
  }
  const bits = addr.kind() === 'ipv4' ? v4Bits : v6Bits;
  const bytes = addr.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${ipaddr.fromByteArray(bytes).toString()}/${bits}`;
}
