import type { PoolCity, PoolCoarse } from './ipPool.js';
import type { Rng } from './random.js';

function aton(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function ntoa(n: number): string {
  return `${Math.floor(n / 16777216) % 256}.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

/**
 * Hands out addresses from the pool's ranges, never the same one twice unless asked to share:
 * two accounts that happen to get one home address would look like a tiny NAT to the IP-keyed
 * detectors, an accident nobody labelled.
 */
export class AddressBook {
  private readonly used = new Set<string>();

  v4(rng: Rng, place: PoolCity | PoolCoarse): string {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const [first, last] = rng.pick(place.v4);
      const lo = aton(first);
      const hi = aton(last);
      const n = lo + rng.int(0, hi - lo);
      // .0 and .255 are legal host addresses in a large block, but look like mistakes in a log.
      if (n % 256 === 0 || n % 256 === 255) continue;
      const ip = ntoa(n);
      if (this.used.has(ip)) continue;
      this.used.add(ip);
      return ip;
    }
    throw new Error(`AddressBook: ${place.id} is exhausted`);
  }

  /** A random host in one of the city's /48s (subnet and interface id both random). */
  v6(rng: Rng, city: PoolCity): string {
    if (city.v6.length === 0) throw new Error(`AddressBook: ${city.id} has no IPv6 block`);
    for (let attempt = 0; attempt < 1000; attempt++) {
      const prefix = rng.pick(city.v6).replace(/::\/48$/, '');
      const groups: string[] = [];
      for (let i = 0; i < 5; i++) groups.push(rng.int(i === 1 ? 1 : 0, 0xffff).toString(16));
      const ip = `${prefix}:${groups.join(':')}`;
      if (this.used.has(ip)) continue;
      this.used.add(ip);
      return ip;
    }
    throw new Error(`AddressBook: ${city.id} IPv6 is exhausted`);
  }
}
