import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface AllowlistConfig {
  readonly cidrs: readonly string[];
  readonly accounts: readonly string[];
}

/** Is `text` a CIDR range (or a bare address, taken as a single-host range)? */
export function isCidr(text: string): boolean {
  if (isIP(text) !== 0) return true;
  try {
    ipaddr.parseCIDR(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Trusted accounts and networks. Built once per rules load; node's BlockList does the CIDR
 * matching natively, so a check costs far less than scanning ranges in JS.
 */
export class Allowlist {
  private readonly blocks = new BlockList();
  private readonly accounts: ReadonlySet<string>;
  readonly empty: boolean;

  constructor(config: AllowlistConfig) {
    for (const c of config.cidrs) {
      if (isIP(c) !== 0) {
        this.blocks.addAddress(c, isIP(c) === 6 ? 'ipv6' : 'ipv4');
        continue;
      }
      const [addr, bits] = ipaddr.parseCIDR(c);
      this.blocks.addSubnet(addr.toString(), bits, addr.kind() === 'ipv6' ? 'ipv6' : 'ipv4');
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
    const addr = slash === -1 ? ipOrCidr : ipOrCidr.slice(0, slash);
    const family = isIP(addr);
    if (family === 0) return false;
    return this.blocks.check(addr, family === 6 ? 'ipv6' : 'ipv4');
  }
}
