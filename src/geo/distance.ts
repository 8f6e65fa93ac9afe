import ipaddr from 'ipaddr.js';
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

/** A household-style place name: city-level when known, else null. */
export function cityKey(point: GeoPoint): string | null {
  return point.city ? `${point.country}/${point.region}/${point.city}` : null;
}

/**
 * The network an address belongs to, as CIDR text: IPv4 /v4Bits, IPv6 /v6Bits.
 * Used where geolocation is coarse (households) and for prefix-level aggregation.
 */
export function networkPrefix(ip: string, v4Bits = 24, v6Bits = 48): string {
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
