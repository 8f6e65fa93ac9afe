import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/*
 * One spelling per address. Events carry addresses as state keys, geolocation lookups,
 * allowlist checks, network prefixes and alert evidence; two spellings of one address
 * (`::ffff:1.2.3.4` and `1.2.3.4`, `0:0:0:0:0:0:0:1` and `::1`) would split its state and
 * locate the IPv4-mapped form in the IPv6 database. Addresses are therefore canonicalised once,
 * where they enter: the decoder for events, the allowlist for rules.
 */

/**
 * The longest text form of an IPv6 address without a zone id: six groups of four hex digits and
 * a dotted quad, `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`. Anything longer is refused
 * before a regular expression looks at it.
 */
const MAX_ADDRESS_LENGTH = 45;

/**
 * A strict dotted-quad IPv4 address (four decimal octets 0–255, no leading zeros): the form
 * node's isIP accepts. Scanned by hand because isIP's regular expression cost about 2% of replay
 * time; anything this does not accept still goes to isIP, so the two can only agree. A dotted
 * quad is already canonical, so most events never go further.
 */
export function isDottedQuad(s: string): boolean {
  return dottedQuadValue(s) >= 0;
}

/**
 * The 32-bit value of a strict dotted quad (four decimal octets 0–255, no leading zeros), or -1
 * for any other text, which then takes the general paths (node's isIP here; ipaddr's parse in
 * networkPrefix, which would read leading zeros as octal).
 */
export function dottedQuadValue(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let octets = 0;
  let i = 0;
  for (;;) {
    const start = i;
    let octet = 0;
    while (i < n) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      octet = octet * 10 + d;
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || octet > 255 || (len > 1 && s.charCodeAt(start) === 48)) return -1;
    value = value * 256 + octet;
    octets++;
    if (i === n) return octets === 4 ? value : -1;
    if (s.charCodeAt(i) !== 46 || octets === 4) return -1;
    i++;
  }
}

/**
 * The canonical form of an IP address, or undefined when `s` is not one: IPv4 as a dotted quad;
 * IPv4-mapped IPv6 (`::ffff:1.2.3.4`, `::ffff:102:304`, any case) as the IPv4 address it maps;
 * other IPv6 in RFC 5952 form (lowercase, no leading zeros, the longest run of zero groups
 * compressed). Validity is node's isIP, as before canonical forms existed. A zone id
 * (`fe80::1%eth0`) is refused: it names an interface of the machine that saw the address, which
 * means nothing here, and it would make one address several keys.
 */
export function canonicalAddress(s: string): string | undefined {
  if (isDottedQuad(s)) return s;
  const known = ipv6Forms.get(s);
  if (known !== undefined) return known;
  const addr = parseIPv6(s);
  if (addr === undefined) return undefined;
  const canonical = addr.isIPv4MappedAddress() ? addr.toIPv4Address().toString() : addr.toRFC5952String();
  if (ipv6Forms.size >= MAX_IPV6_FORMS) ipv6Forms.clear();
  ipv6Forms.set(s, canonical);
  return canonical;
}

/*
 * IPv6 text → canonical form, for addresses seen before. Reading an IPv6 address (isIP, then
 * ipaddr.js) costs about 1.8 µs, more than decoding the rest of the event, and the same
 * addresses recur all the time in a login stream (homes, carrier gateways); a lookup costs a
 * tenth of that. Bounded: a full table starts over. Only valid addresses are kept, so junk
 * cannot fill it faster than real traffic would.
 */
const MAX_IPV6_FORMS = 1 << 16;
const ipv6Forms = new Map<string, string>();

function parseIPv6(s: string): ipaddr.IPv6 | undefined {
  if (s.length > MAX_ADDRESS_LENGTH || s.includes('%') || isIP(s) !== 6) return undefined;
  // ipaddr.js reads a dotted tail after a bare `::` (the deprecated IPv4-compatible `::1.2.3.4`)
  // as IPv4-mapped, yet the same address in hex (`::102:304`) as what it is; so the dotted
  // tail, a strict dotted quad by isIP, is turned into two hex groups first.
  let text = s;
  if (s.includes('.')) {
    const colon = s.lastIndexOf(':');
    const [a, b, c, d] = s.slice(colon + 1).split('.').map(Number) as [number, number, number, number];
    text = `${s.slice(0, colon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  try {
    return ipaddr.IPv6.parse(text);
  } catch {
    // Not reached for what isIP accepts (a test compares the two); refused rather than guessed.
    return undefined;
  }
}

/** A network in canonical form: the canonical address and a prefix length valid for its family. */
export interface CanonicalCidr {
  readonly address: string;
  readonly bits: number;
  readonly family: 'ipv4' | 'ipv6';
}

/**
 * A CIDR range (`10.0.0.0/8`, `2001:db8::/32`) or a bare address (a single-host range) in
 * canonical form, or undefined. Addresses are read as canonicalAddress reads them, so an
 * IPv4-mapped range of 96 bits or more (`::ffff:10.0.0.0/104`) becomes the IPv4 range it maps
 * (`10.0.0.0/8`); a shorter one covers more than mapped addresses and stays IPv6. Prefix lengths
 * are decimal without leading zeros. Stricter than ipaddr.js's parseCIDR, which also reads
 * `10/8` as 0.0.0.10/8 and `010.0.0.0/8` as octal, 8.0.0.0/8.
 */
export function canonicalCidr(text: string): CanonicalCidr | undefined {
  const slash = text.indexOf('/');
  const part = slash === -1 ? text : text.slice(0, slash);
  let bits: number | undefined;
  if (slash !== -1) {
    const digits = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(digits)) return undefined;
    bits = Number(digits);
  }
  if (isDottedQuad(part)) return bits === undefined || bits <= 32 ? { address: part, bits: bits ?? 32, family: 'ipv4' } : undefined;
  const addr = parseIPv6(part);
  if (addr === undefined || (bits !== undefined && bits > 128)) return undefined;
  if (addr.isIPv4MappedAddress() && (bits === undefined || bits >= 96)) {
    return { address: addr.toIPv4Address().toString(), bits: bits === undefined ? 32 : bits - 96, family: 'ipv4' };
  }
  return { address: addr.toRFC5952String(), bits: bits ?? 128, family: 'ipv6' };
}
