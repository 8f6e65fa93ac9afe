import type { PoolCity, PoolCoarse } from './ipPool.js';
import type { Rng } from './random.js';

function aton(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function ntoa(n: number): string {
  return `${Math.floor(n / 16777216) % 256}.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

/** A /24 reserved whole by AddressBook.v4Network. */
export interface V4Network {
  readonly place: PoolCity | PoolCoarse;
  /** The network's first address / 256. */
  readonly net: number;
  /** "a.b.c.0/24", exactly as credential_stuffing keys a network alert. */
  readonly cidr: string;
  readonly hosts: Set<string>;
}

/**
 * Hands out addresses from the pool's ranges, never the same one twice unless asked to share:
 * two accounts that happen to get one home address would look like a tiny NAT to the IP-keyed
 * detectors, an accident nobody labelled.
 */
export class AddressBook {
  private readonly used = new Set<string>();
  /** /24 networks handed out whole (as their first address / 256): v4() never draws from them. */
  private readonly reserved = new Set<number>();

  v4(rng: Rng, place: PoolCity | PoolCoarse): string {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const [first, last] = rng.pick(place.v4);
      const lo = aton(first);
      const hi = aton(last);
      const n = lo + rng.int(0, hi - lo);
      // .0 and .255 are legal host addresses in a large block, but look like mistakes in a log.
      if (n % 256 === 0 || n % 256 === 255) continue;
      if (this.reserved.has(Math.floor(n / 256))) continue;
      const ip = ntoa(n);
      if (this.used.has(ip)) continue;
      this.used.add(ip);
      return ip;
    }
    throw new Error(`AddressBook: ${place.id} is exhausted`);
  }

  /**
   * A whole /24 of the place that no address has come from yet, reserved from now on: the
   * network-level detectors see exactly the traffic the plan puts in it (an attack spread over
   * it, a campus), never a stranger's home address. Every pool range is /24-aligned, so all its
   * addresses name the place. Hand out its hosts with `host`. Reserve before home addresses are
   * handed out: a city with many accounts may have no untouched /24 left afterwards.
   */
  v4Network(rng: Rng, place: PoolCity | PoolCoarse): V4Network {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const [first, last] = rng.pick(place.v4);
      const net = Math.floor(aton(first) / 256) + rng.int(0, Math.floor(aton(last) / 256) - Math.floor(aton(first) / 256));
      if (this.reserved.has(net)) continue;
      let clean = true;
      for (let h = 0; h < 256 && clean; h++) clean = !this.used.has(ntoa(net * 256 + h));
      if (!clean) continue;
      this.reserved.add(net);
      const base = ntoa(net * 256);
      return { place, net, cidr: `${base}/24`, hosts: new Set() };
    }
    throw new Error(`AddressBook: ${place.id} has no free /24`);
  }

  /** A host (.1–.254) of a reserved network not handed out before. */
  host(rng: Rng, network: V4Network): string {
    if (network.hosts.size >= 254) throw new Error(`AddressBook: ${network.cidr} is exhausted`);
    for (;;) {
      const ip = ntoa(network.net * 256 + rng.int(1, 254));
      if (network.hosts.has(ip)) continue;
      network.hosts.add(ip);
      this.used.add(ip);
      return ip;
    }
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
