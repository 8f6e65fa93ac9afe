import { AddressBook } from './addresses.js';
import { CITIES, type PoolCity } from './ipPool.js';
import { DAY, HOUR, type Device, type DeviceKind, userAgent } from './model.js';
import { Rng } from './random.js';

/**
 * How an account watches when nothing special happens. `hour` is the local hour its sessions
 * usually start; keeping it fixed per account keeps any 24-hour window from catching two days'
 * worth of viewing, which would look like an anomaly that nobody injected.
 */
export type ViewProfile =
  | { kind: 'none' }
  /** Evening sessions of 1–3 h on some days, at most `capMin` minutes a day. */
  | { kind: 'normal'; pDay: number; hour: number; capMin: number }
  /** 45–75 minutes every single day: a stable baseline for the viewing-anomaly incident. */
  | { kind: 'light'; hour: number }
  /** 7–8 hours every single day (or `minutes` [lo, hi] a day). */
  | { kind: 'heavy'; hour: number; minutes?: readonly [number, number] }
  /** Three screens at once in the evening. */
  | { kind: 'family'; pDay: number; hour: number }
  /**
   * Long evenings every day whose start wanders by up to `spread` hours either side of `hour`
   *: a trailing 24 hours then often holds most of two evenings. Friday and Saturday
   * evenings last `weekend` times as long (1: no different).
   */
  | { kind: 'evening'; hour: number; spread: number; minutes: readonly [number, number]; weekend: number };

/** A stretch of time the account spends somewhere other than home (a trip). */
export interface Stay {
  readonly from: number;
  readonly to: number;
  readonly ip: string;
  readonly device: Device;
}

export interface Account {
  readonly idx: number;
  readonly id: string;
  home: PoolCity;
  /** Home addresses: [IPv4] or [IPv4, IPv6] — both in the home city. */
  homeIps: string[];
  wantsV6: boolean;
  devices: Device[];
  /** No background activity before this instant (new accounts, country-level seeding). */
  activeFrom: number;
  loginsPerDay: [number, number];
  /** Chance that a login is preceded by a mistyped password. */
  typo: number;
  view: ViewProfile;
  /** Chance per day of an account_update. */
  updateRate: number;
  /** Whether background updates may touch email/password/payment/phone (risky after a risky login). */
  sensitiveUpdates: boolean;
  /** Intervals with no background activity at all: incidents and flights own that time. */
  blackouts: [number, number][];
  stays: Stay[];
  commute?: { work: PoolCity; ip: string };
  /** Country-level user: alternates between two coarse addresses every `periodMs`. */
  coarse?: { ips: [string, string]; periodMs: number; phase: number };
  /** What the planner made of this account; for descriptions and debugging only. */
  role: string;
}

/** Bigger markets get more accounts, so the log is not a uniform spread over 70 cities. */
const MARKET_WEIGHT: Record<string, number> = { US: 3, GB: 2, DE: 2, FR: 2, BR: 2, IN: 2, JP: 2, CA: 1.5, ES: 1.5, IT: 1.5, AU: 1.5, MX: 1.5 };
const HOME_WEIGHTS: readonly (readonly [PoolCity, number])[] = CITIES.map((c) => [c, MARKET_WEIGHT[c.country] ?? 1]);

export function accountId(idx: number, width: number): string {
  return `acct-${idx.toString().padStart(width, '0')}`;
}

export function makeDevice(rng: Rng, id: string, kind: DeviceKind): Device {
  return { id, kind, ua: userAgent(rng, kind) };
}

export function homeDevices(rng: Rng, accId: string, n: number): Device[] {
  const first: DeviceKind = rng.chance(0.65) ? 'tv' : 'laptop';
  const rest: DeviceKind[] = rng.shuffle(['phone', 'tablet', 'laptop', 'tv'].filter((k) => k !== first) as DeviceKind[]);
  const kinds = [first, 'phone' as DeviceKind, ...rest.filter((k) => k !== 'phone')].slice(0, n);
  return kinds.map((k, i) => makeDevice(rng, `${accId.replace('acct-', 'dev-')}-${i + 1}`, k));
}

export function baseAccount(seed: number, idx: number, width: number, start: number): Account {
  const rng = Rng.derive(seed, 'account', idx);
  const id = accountId(idx, width);
  const home = rng.weighted(HOME_WEIGHTS);
  const nDevices = rng.weighted<number>([[1, 30], [2, 35], [3, 25], [4, 10]]);
  const loginsPerDay = rng.weighted<[number, number]>([[[0, 1], 25], [[0, 2], 35], [[1, 3], 30], [[2, 4], 10]]);
  const view: ViewProfile = rng.chance(0.2)
    ? { kind: 'none' }
    : { kind: 'normal', pDay: rng.real(0.35, 0.8), hour: rng.real(18.5, 21.5), capMin: 210 };
  return {
    idx,
    id,
    home,
    homeIps: [],
    wantsV6: rng.chance(0.3),
    devices: homeDevices(rng, id, nDevices),
    activeFrom: start,
    loginsPerDay,
    typo: 0.01,
    view,
    updateRate: 1 / 40,
    sensitiveUpdates: true,
    blackouts: [],
    stays: [],
    role: 'plain',
  };
}

/** Home addresses are handed out only once every role has settled each account's home city. */
export function assignHomeAddresses(seed: number, accounts: readonly Account[], book: AddressBook): void {
  for (const acc of accounts) {
    if (acc.coarse) continue;
    const rng = Rng.derive(seed, 'home-ip', acc.idx);
    acc.homeIps = [book.v4(rng, acc.home)];
    if (acc.wantsV6 && acc.home.v6.length > 0) acc.homeIps.push(book.v6(rng, acc.home));
  }
}

export function localTime(acc: { home: PoolCity }, start: number, day: number, hour: number): number {
  return start + day * DAY + (hour - acc.home.utcOffset) * HOUR;
}

export function inBlackout(acc: Account, from: number, to: number): boolean {
  for (const [a, b] of acc.blackouts) if (from < b && to > a) return true;
  return false;
}

export function stayAt(acc: Account, t: number): Stay | undefined {
  for (const s of acc.stays) if (t >= s.from && t <= s.to) return s;
  return undefined;
}
