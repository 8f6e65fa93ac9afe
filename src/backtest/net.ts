import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** An address (bits = 32 or 128) or a CIDR network, parsed once for matching. */
export interface Net {
  readonly addr: ipaddr.IPv4 | ipaddr.IPv6;
  readonly bits: number;
  /** True for a bare address (or a /32, /128: the same thing). */
  readonly host: boolean;
}

/**
 * Parses "203.0.113.7", "2001:db8::1" or "203.0.113.0/24". Only standard notation (node's
 * isIP), not ipaddr.js's lenient legacy forms like "10.1" that no event or alert carries.
 * IPv4-mapped IPv6 addresses are taken as the IPv4 address they map, as the engine sees them.
 */
export function parseNet(text: string): Net | undefined {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(addrText);
  if (family === 0) return undefined;
  const full = family === 4 ? 32 : 128;
  let bits = full;
  if (slash !== -1) {
    const bitsText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bitsText)) return undefined;
    bits = Number(bitsText);
    if (bits > full) return undefined;
  }
  let addr: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(addrText);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits === 128) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
    bits = 32;
  }
  return { addr, bits, host: bits === (addr.kind() === 'ipv4' ? 32 : 128) };
}

/** Is `inner` (an address or a network) entirely within `outer`? */
function within(inner: Net, outer: Net): boolean {
  if (inner.addr.kind() !== outer.addr.kind() || inner.bits < outer.bits) return false;
  return inner.addr.match(outer.addr as never, outer.bits);
}

/**
 * Does an alert's `ip` key match a label's `ip` key?
 *
 * - alert on an address: the label's address equals it, or the label's network contains it
 *   (one address of a labelled attack network is still that attack);
 * - alert on a network (credential_stuffing's prefix alerts): the label's address lies inside
 *   it, or the label's network is the same network (same prefix length; host bits ignored).
 *   A labelled network larger or smaller than the alert's is not the same finding.
 */
export function alertNetMatches(alert: Net, label: Net): boolean {
  if (alert.host) return within(alert, label);
  if (label.host) return within(label, alert);
  return label.bits === alert.bits && within(label, alert);
}
