import { BlockList } from 'node:net';
import { FraudwatchError } from '../errors.js';
import { canonicalAddress, canonicalCidr } from '../events/address.js';

export interface AllowlistConfig {
  readonly cidrs: readonly string[];
  readonly accounts: readonly string[];
}

/**
 * Is `text` a CIDR range (or a bare address, taken as a single-host range)? Read as event
 * addresses are read (see canonicalCidr), so an entry is valid exactly when it can match an event.
 */
export function isCidr(text: string): boolean {
  return canonicalCidr(text) !== undefined;
}

/**
 * Trusted accounts and networks. Built once per rules load; node's BlockList does the CIDR
 * matching natively, so a check costs far less than scanning ranges in JS. Entries are
 * canonicalised like event addresses, so `::ffff:1.2.3.4` lists the address events carry as
 * 1.2.3.4.
 */
export class Allowlist {
  private readonly blocks = new BlockList();
  private readonly accounts: ReadonlySet<string>;
  readonly empty: boolean;

  constructor(config: AllowlistConfig) {
    for (const c of config.cidrs) {
      const cidr = canonicalCidr(c);
      // The rules schema has checked every entry: reaching this is a bug.
      if (cidr === undefined) throw new FraudwatchError('FW_INTERNAL', `allowlist entry "${c}" is not an IP address or CIDR range`);
      this.blocks.addSubnet(cidr.address, cidr.bits, cidr.family);
    }
    this.accounts = new Set(config.accounts);
    this.empty = config.cidrs.length === 0 && config.accounts.length === 0;
  }

  hasAccount(accountId: string | undefined): boolean {
    return accountId !== undefined && this.accounts.has(accountId);
  }

  /** Accepts an address or a CIDR key (the network address of the range is checked). */
  hasAddress(ipOrCidr: string | undefined): boolean {
    if (ipOrCidr === undefined) return false;
    const slash = ipOrCidr.indexOf('/');
    const addr = canonicalAddress(slash === -1 ? ipOrCidr : ipOrCidr.slice(0, slash));
    if (addr === undefined) return false;
    return this.blocks.check(addr, addr.includes(':') ? 'ipv6' : 'ipv4');
  }
}
