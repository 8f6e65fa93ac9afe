import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { networkPrefix } from '../src/geo/distance.js';

/** The prefix as ipaddr.js computes it: its own CIDR arithmetic, independent of networkPrefix's. */
function reference(ip: string, bits: number): string {
  const [net] = ipaddr.IPv4.networkAddressFromCIDR(`${ip}/${bits}`).toString().split('/');
  return `${net}/${bits}`;
}

/** xorshift32, seeded: the same addresses on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

describe('networkPrefix', () => {
  it('gives the network of a dotted quad as ipaddr does, for every prefix length', () => {
    const next = rng(17);
    const addresses = ['0.0.0.0', '255.255.255.255', '10.0.0.1', '198.51.100.200', '128.0.0.0', '1.2.3.4'];
    for (let i = 0; i < 500; i++) {
      const v = next();
      addresses.push(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`);
    }
    for (const ip of addresses) for (let bits = 0; bits <= 32; bits++) expect(networkPrefix(ip, bits)).toBe(reference(ip, bits));
  });

  it('leaves other spellings to ipaddr: IPv6, and IPv4-mapped IPv6 as the IPv4 network', () => {
    expect(networkPrefix('2001:db8:1:2::5')).toBe('2001:db8:1::/48');
    expect(networkPrefix('::ffff:198.51.100.7')).toBe('198.51.100.0/24');
  });

  it('reads text that is not a strict dotted quad as ipaddr does (a leading zero is octal)', () => {
    expect(networkPrefix('010.1.1.1')).toBe('8.1.1.0/24');
  });
});
