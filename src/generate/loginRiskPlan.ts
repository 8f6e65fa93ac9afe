import { userAgentFamily } from '../detectors/loginRisk.js';
import type { Account } from './accounts.js';
import type { AddressBook } from './addresses.js';
import { CITIES, type PoolCity } from './ipPool.js';
import type { DetectorId, IncidentClass, LabelKey } from './labels.js';
import { DAY, type Device, type Emitter, HOUR, type LatLon, MINUTE, distanceKm, plausibleTravelHours } from './model.js';
import { Rng } from './random.js';

/*
 * What login_risk is about: quiet takeovers, which stay in the owner's country and
 * under every rate, and the owners' own changes that look like them: a new phone, a move, a
 * trip. All labelled. The planner calls in here with the few of its tools these need.
 */

/** The planner's tools these plans use (plan.ts's Planner has them all). */
export interface Planning {
  readonly em: Emitter;
  readonly book: AddressBook;
  readonly end: number;
  readonly o: { readonly start: number; readonly days: number };
  at(acc: Account, day: number, hour: number): number;
  foreignDevice(rng: Rng, kind: Device['kind'] | 'bot'): Device;
  incident(cls: IncidentClass, key: LabelKey, start: number, end: number, description: string, mayAlsoFire?: DetectorId[]): void;
  trap(cls: string, key: LabelKey, start: number, end: number, quiet: DetectorId[], description: string, mayAlsoFire?: DetectorId[]): void;
  blackout(acc: Account, from: number, to: number): void;
  gapHours(acc: Account, far: LatLon): number;
}

/** Clients an attacker's browser or phone may show; the one chosen is of a family the owner never used. */
const ATTACKER_AGENTS: readonly string[] = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0',
  'Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0',
  'Mozilla/5.0 (Macintosh; Mac OS X 14_2) Safari/17.2',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/120.0',
  'Streamly/8.2 (Android 13; SM-S911B)',
  'Streamly/8.3 (iPhone; iOS 17.2)',
];

/** Phones of one make and the other: an upgrade that switches makes is a new user agent family too. */
const NEW_PHONES: readonly string[] = ['Streamly/8.4 (Android 14; Pixel 9)', 'Streamly/8.4 (iPhone; iOS 18.1)'];

const net24 = (ip: string) => (ip.includes(':') ? ip.split(':').slice(0, 3).join(':') : ip.slice(0, ip.lastIndexOf('.')));

function ownFamilies(acc: Account): Set<string> {
  return new Set(acc.devices.map((d) => userAgentFamily(d.ua)));
}

function localHourAt(acc: { home: PoolCity }, t: number): number {
  return ((((t + acc.home.utcOffset * HOUR) % DAY) + DAY) % DAY) / HOUR;
}

/**
 * A quiet takeover: someone with the password signs in from the owner's own country (another
 * city when the pool has one, else another network of the home city), on a device and user
 * agent family the owner never used, at a local hour the owner never logs in at (between 1 and
 * 5; owners log in from 7 to 23:30), and comes back once or twice within the next hours. Half
 * change the email or payment details from that device. No rate, country or speed rule sees it.
 */
export function quietTakeover(p: Planning, acc: Account, rng: Rng, day: number): void {
  const home = acc.home;
  const others = CITIES.filter((c) => c.country === home.country && c.id !== home.id);
  const city = others.length > 0 ? rng.pick(others) : home;
  const homeNets = new Set(acc.homeIps.map(net24));
  let ip = p.book.v4(rng, city);
  for (let i = 0; i < 20 && homeNets.has(net24(ip)); i++) ip = p.book.v4(rng, city);
  const families = ownFamilies(acc);
  const agents = ATTACKER_AGENTS.filter((ua) => !families.has(userAgentFamily(ua)));
  const dev: Device = { ...p.foreignDevice(rng, 'laptop'), ua: rng.pick(agents) };
  const t0 = p.at(acc, day, rng.real(1, 5));
  const visits = rng.int(1, 3);
  let t = t0;
  for (let i = 0; i < visits; i++) {
    if (i > 0) t += rng.int(20, 90) * MINUTE;
    p.em.login(t, acc.id, ip, dev, true);
  }
  let end = t;
  const change = rng.chance(0.5) ? rng.pick(['email', 'payment'] as const) : undefined;
  if (change !== undefined) {
    end = t + rng.int(3, 15) * MINUTE;
    p.em.update(end, acc.id, change, dev, ip);
  }
  // The owner's next login must not make the attacker's city impossible travel.
  const gap = Math.max(2, p.gapHours(acc, city)) * HOUR;
  p.blackout(acc, t0 - gap, end + gap);
  p.incident('quiet_takeover', { accountId: acc.id }, t0, end,
    `${visits} login(s) from ${city.city} (${city.country}, the owner's country; home ${home.city}) ${ip} at local ${localHourAt(acc, t0).toFixed(1)}h on new ${dev.id} (${dev.ua})` +
      (change !== undefined ? `, then a ${change} change from it` : '') + '; no rate, country or speed rule applies',
    change !== undefined ? ['account_takeover'] : []);
}

/** Logins of an ordinary day, at the account's usual hours (7 to 23:30 local), on `device(i)` from `ip(i)`. */
function ordinaryLogins(p: Planning, acc: Account, rng: Rng, fromDay: number, toDay: number, ip: (i: number) => string, device: (i: number) => Device): number {
  let first = Infinity;
  for (let d = fromDay; d < toDay; d++) {
    const n = rng.int(1, 3);
    for (let i = 0; i < n; i++) {
      const t = p.at(acc, d, rng.real(7, 23.5));
      if (t < p.o.start || t >= p.end) continue;
      first = Math.min(first, t);
      p.em.login(t, acc.id, ip(i), device(i), true);
    }
  }
  return first;
}

/**
 * A new phone: from `day` on, the owner logs in at home at the usual hours, mostly on a phone of
 * the other make (a new device and a new user agent family), sometimes on the other devices.
 * Background activity stops at the switch so the old phone does not carry on beside it.
 */
export function phoneUpgrade(p: Planning, acc: Account, rng: Rng, day: number): void {
  const families = ownFamilies(acc);
  const fresh = NEW_PHONES.filter((ua) => !families.has(userAgentFamily(ua)));
  const phone: Device = { id: `${acc.id.replace('acct-', 'dev-')}-p2`, kind: 'phone', ua: rng.pick(fresh.length > 0 ? fresh : NEW_PHONES) };
  const from = p.at(acc, day, 0);
  p.blackout(acc, from, p.end + DAY);
  const rest = acc.devices.filter((d) => d.kind !== 'phone');
  const v6 = acc.homeIps[1];
  const first = ordinaryLogins(p, acc, rng, day, p.o.days + 1,
    () => (v6 !== undefined && rng.chance(0.7) ? v6 : acc.homeIps[0]!),
    () => (rest.length === 0 || rng.chance(0.7) ? phone : rng.pick(rest)));
  if (first === Infinity) return;
  p.trap('phone_upgrade', { accountId: acc.id }, first, p.end,
    ['account_takeover', 'unfamiliar_location', 'impossible_travel'],
    `new phone ${phone.id} (${phone.ua}) from ${new Date(first).toISOString()}: home ${acc.home.city} ${acc.homeIps.join(', ')}, usual hours; login_risk stays below high`,
    ['login_risk']);
}

/**
 * A move: from `day` on, the owner logs in from a new home network, in another city of the same
 * country when there is one, on the same devices at the usual hours.
 */
export function homeMove(p: Planning, acc: Account, rng: Rng, day: number): void {
  const others = CITIES.filter((c) => c.country === acc.home.country && c.id !== acc.home.id && distanceKm(acc.home, c) < 1500);
  const city = others.length > 0 ? rng.pick(others) : acc.home;
  const ip = p.book.v4(rng, city);
  // The move itself takes a day: no login while the removal van is on the road.
  const from = p.at(acc, day, 0);
  p.blackout(acc, from - DAY, p.end + DAY);
  const first = ordinaryLogins(p, acc, rng, day, p.o.days + 1, () => ip, () => rng.pick(acc.devices));
  if (first === Infinity) return;
  p.trap('home_move', { accountId: acc.id }, first, p.end,
    ['account_takeover', 'unfamiliar_location', 'impossible_travel'],
    `moves from ${acc.home.city} ${acc.homeIps[0]} to ${city.city} (${city.country}) ${ip}, ${Math.round(distanceKm(acc.home, city))} km, same ${acc.devices.length} device(s); login_risk stays below high`,
    ['login_risk']);
}

/**
 * A trip five or more time zones away with the owner's own phone or laptop: logins at the
 * hotel at the hotel's usual hours, which are odd hours at home, from a new network, city and
 * country. Flights are plausible both ways.
 */
export function travelLogins(p: Planning, acc: Account, rng: Rng, day: number): void {
  const home = acc.home;
  const far = CITIES.filter((c) => c.country !== home.country && Math.abs(c.utcOffset - home.utcOffset) >= 5);
  const dest = rng.pick(far.length > 0 ? far : CITIES.filter((c) => c.country !== home.country));
  const dev = acc.devices.find((d) => d.kind === 'phone') ?? acc.devices.find((d) => d.kind === 'laptop') ?? acc.devices[0]!;
  const hotel = p.book.v4(rng, dest);
  const flight = plausibleTravelHours(home, dest) * HOUR;
  const t0 = p.at(acc, day, rng.real(6, 9));
  const tArr = t0 + flight + rng.real(0.5, 2) * HOUR;
  const stay = rng.int(2, 4);
  const tLeave = tArr + stay * DAY;
  const tBack = tLeave + flight + rng.real(0.5, 2) * HOUR;
  if (tBack + HOUR >= p.end) return;
  p.em.login(t0, acc.id, acc.homeIps[0]!, dev, true);
  p.em.login(tArr, acc.id, hotel, dev, true);
  const guest = { home: dest };
  for (let d = 0; d < stay; d++) {
    const n = rng.int(1, 2);
    for (let i = 0; i < n; i++) {
      // Hotel-local 8:00–22:00, counted from the arrival's local day.
      const t = tArr - (localHourAt(guest, tArr) * HOUR) + (d + 1) * DAY + rng.real(8, 22) * HOUR;
      if (t > tArr && t < tLeave) p.em.login(t, acc.id, hotel, dev, true);
    }
  }
  p.em.login(tLeave, acc.id, hotel, dev, true);
  p.em.login(tBack, acc.id, acc.homeIps[0]!, dev, true);
  // The whole trip is the planner's: no background login from home while abroad.
  p.blackout(acc, t0 + 1, tBack - 1);
  p.trap('travel_logins', { accountId: acc.id }, tArr, tBack,
    ['account_takeover', 'impossible_travel', 'geo_surge'],
    `${stay} days in ${dest.city} (${dest.country}), ${Math.round(distanceKm(home, dest))} km and ${Math.abs(dest.utcOffset - home.utcOffset)} h from home ${home.city}, logging in at the hotel ${hotel} on ${dev.id} at hotel-local hours; login_risk stays below high`,
    ['login_risk', 'unfamiliar_location']);
}

/**
 * The three benign look-alikes, each on about 1 % of accounts (at least one), once the log is a
 * week or longer: there must be a habit before the change for login_risk to judge it against.
 */
export function planLoginRiskTraps(p: Planning, take: (role: string) => Account | undefined, seed: number, accounts: number, later: (() => void)[]): void {
  const days = p.o.days;
  if (days < 7) return;
  const n = Math.max(1, Math.round(accounts * 0.01));
  const lo = Math.min(7, days - 3);
  const kinds = [
    { role: 'phone_upgrade', last: days - 2, plan: phoneUpgrade },
    { role: 'home_move', last: days - 2, plan: homeMove },
    { role: 'travel_logins', last: days - 6, plan: travelLogins },
  ];
  for (const { role, last, plan } of kinds) {
    if (last < lo) continue;
    for (let i = 0; i < n; i++) {
      const acc = take(`trap:${role}`);
      if (!acc) return;
      const r = Rng.derive(seed, role, i);
      // Settings changes after a trap's first login would read as takeovers to a composite rule.
      acc.sensitiveUpdates = false;
      later.push(() => plan(p, acc, r, r.int(lo, last)));
    }
  }
}

/**
 * Incident classes whose attacker signs in from a new device, network or place: login_risk
 * rightly scores those logins high, so their labels say it may also fire.
 */
const ATTACKER_LOGIN_CLASSES: ReadonlySet<string> = new Set(['impossible_travel_login', 'short_hop', 'geo_surge', 'brute_force_burst', 'brute_force_interleaved', 'unfamiliar_location', 'account_takeover']);

export function markLoginRiskMayFire(incidents: readonly { class: IncidentClass; mayAlsoFire: string[] }[]): void {
  for (const inc of incidents) if (ATTACKER_LOGIN_CLASSES.has(inc.class) && !inc.mayAlsoFire.includes('login_risk')) inc.mayAlsoFire.push('login_risk');
}
