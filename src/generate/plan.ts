import type { AccountChange } from '../events/types.js';
import {
  type Account,
  assignHomeAddresses,
  baseAccount,
  homeDevices,
  localTime,
  makeDevice,
} from './accounts.js';
import { AddressBook, type V4Network } from './addresses.js';
import { CITIES, COARSE, COMMUTER_PAIRS, type PoolCity, type PoolCoarse, SHORT_HOP_PAIRS, SURGE_CLUSTERS, cityById, coarseFor } from './ipPool.js';
import { type DetectorId, INCIDENT_CLASSES, type Incident, type IncidentClass, type LabelKey, type Trap } from './labels.js';
import {
  DAY,
  type Device,
  Emitter,
  type Ev,
  HOUR,
  type LatLon,
  MINUTE,
  SECOND,
  distanceKm,
  iso,
  plausibleTravelHours,
  titleId,
  userAgent,
} from './model.js';
import { markLoginRiskMayFire, planLoginRiskTraps, quietTakeover } from './loginRiskPlan.js';
import { Rng } from './random.js';

export interface PlanOptions {
  readonly seed: number;
  readonly accounts: number;
  readonly days: number;
  readonly start: number;
  readonly incidents: boolean;
}

export interface Plan {
  readonly accounts: Account[];
  /** Events that are not background: incidents and trap behaviour, unsorted. */
  readonly special: Ev[];
  readonly incidents: Incident[];
  readonly traps: Trap[];
  /** Emitter used for the special events; background events continue its sequence. */
  readonly em: Emitter;
}

const km = (n: number) => `${Math.round(n)} km`;

/**
 * Cities abroad within [minKm, maxKm] of `from`. Some homes (Lagos, say) have nothing abroad
 * in the band; they get the nearest few beyond minKm instead, so every home can take part.
 */
function foreignCities(from: LatLon, country: string, minKm: number, maxKm = Infinity): PoolCity[] {
  const abroad = CITIES.filter((c) => c.country !== country && distanceKm(from, c) >= minKm);
  const inBand = abroad.filter((c) => distanceKm(from, c) <= maxKm);
  if (inBand.length > 0) return inBand;
  return abroad.sort((a, b) => distanceKm(from, a) - distanceKm(from, b)).slice(0, 3);
}

class Planner {
  readonly em = new Emitter();
  readonly book = new AddressBook();
  readonly incidents: Incident[] = [];
  readonly traps: Trap[] = [];
  readonly end: number;
  private deviceSeq = 0;

  constructor(readonly o: PlanOptions) {
    this.end = o.start + o.days * DAY;
  }

  at(acc: Account, day: number, hour: number): number {
    return localTime(acc, this.o.start, day, hour);
  }

  /** A device that has never been seen on any account: an attacker's or a stranger's. */
  foreignDevice(rng: Rng, kind: Device['kind'] | 'bot'): Device {
    const id = `dev-x${(this.deviceSeq++).toString(36).padStart(3, '0')}${rng.int(0, 0xffff).toString(16).padStart(4, '0')}`;
    return kind === 'bot' ? { id, kind: 'laptop', ua: userAgent(rng, 'bot') } : makeDevice(rng, id, kind);
  }

  /** Labels an incident of class `cls`; its detector is the class's (INCIDENT_CLASSES), never chosen apart from it. */
  incident(cls: IncidentClass, key: LabelKey, start: number, end: number, description: string, mayAlsoFire: DetectorId[] = []): void {
    const id = `inc-${(this.incidents.length + 1).toString().padStart(3, '0')}`;
    // Events are stamped in whole milliseconds; widen to whole ms so the range always covers them.
    this.incidents.push({ id, class: cls, detector: INCIDENT_CLASSES[cls], key, start: iso(Math.floor(start)), end: iso(Math.ceil(end)), description, mayAlsoFire });
  }

  trap(cls: string, key: LabelKey, start: number, end: number, quiet: DetectorId[], description: string, mayAlsoFire: DetectorId[] = []): void {
    const id = `trap-${(this.traps.length + 1).toString().padStart(3, '0')}`;
    this.traps.push({ id, class: cls, key, start: iso(Math.max(Math.floor(start), this.o.start)), end: iso(Math.min(Math.ceil(end), this.end - 1)), quietDetectors: quiet, description, mayAlsoFire });
  }

  session(rng: Rng, acc: Account, device: Device, ip: string, s: number, e: number, sid: string): void {
    this.em.session(rng, acc.id, device, ip, s, e, sid, titleId(rng), true);
  }

  /** Keeps an account's own background activity away from an incident's or trip's events. */
  blackout(acc: Account, from: number, to: number): void {
    acc.blackouts.push([from, to]);
  }

  /** Hours of silence needed so a home login on either side of a far one is not impossible travel. */
  gapHours(acc: Account, far: LatLon): number {
    return distanceKm(acc.home, far) / 700 + 3;
  }

  // ---------------------------------------------------------------- incidents

  impossibleTravel(acc: Account, rng: Rng, day: number): void {
    const home = acc.home;
    const far = rng.pick(foreignCities(home, home.country, 4000));
    const dev = acc.devices[0]!;
    const t0 = this.at(acc, day, rng.real(9, 19));
    const t1 = t0 + rng.int(40, 80) * MINUTE;
    const farIp = this.book.v4(rng, far);
    this.em.login(t0, acc.id, acc.homeIps[0]!, dev, true);
    this.em.login(t1, acc.id, farIp, this.foreignDevice(rng, rng.pick(['laptop', 'phone'] as const)), true);
    this.blackout(acc, t0 - 30 * MINUTE, t1 + this.gapHours(acc, far) * HOUR);
    const d = distanceKm(home, far);
    this.incident('impossible_travel_login', { accountId: acc.id }, t0, t1,
      `home login in ${home.city} (${home.country}) ${acc.homeIps[0]} then ${far.city} (${far.country}) ${farIp} ${Math.round((t1 - t0) / MINUTE)} min later: ${km(d)}, both precise fixes (area ${home.area}/${far.area} km)`,
      ['unfamiliar_location']);
  }

  geoSurge(acc: Account, rng: Rng, day: number): void {
    const cluster = rng.pick(SURGE_CLUSTERS).map(cityById);
    const byCountry = new Map<string, PoolCity>();
    for (const c of rng.shuffle(cluster.slice())) if (!byCountry.has(c.country)) byCountry.set(c.country, c);
    const candidates = [...byCountry.values()];
    // Each hop is timed at under 800 km/h even on raw distance, so no rule that also reads short
    // hops between precise fixes can call the surge impossible travel; routes that cannot fit
    // four countries into 40 minutes that way fall back to three.
    const hopMinutes = (a: PoolCity, b: PoolCity) => Math.max(rng.int(8, 12), Math.ceil((distanceKm(a, b) / 800) * 60) + 1);
    let route: PoolCity[] = [];
    let hops: number[] = [];
    for (const n of rng.chance(0.5) ? [4, 3] : [3]) {
      for (let attempt = 0; attempt < 50 && route.length === 0; attempt++) {
        const r = rng.sample(candidates, n);
        if (r.length < n) break;
        const h = r.slice(1).map((c, i) => hopMinutes(r[i]!, c));
        if (h.reduce((x, y) => x + y, 0) <= 40) [route, hops] = [r, h];
      }
      if (route.length > 0) break;
    }
    const dev = this.foreignDevice(rng, 'laptop');
    let t = this.at(acc, day, rng.real(10, 20));
    const t0 = t;
    const parts: string[] = [];
    route.forEach((city, i) => {
      if (i > 0) t += hops[i - 1]! * MINUTE + rng.int(0, 20) * SECOND;
      const ip = this.book.v4(rng, city);
      this.em.login(t, acc.id, ip, dev, true);
      parts.push(`${city.city} (${city.country}) ${ip}`);
    });
    const gap = Math.max(...route.map((c) => this.gapHours(acc, c))) * HOUR;
    this.blackout(acc, t0 - gap, t + gap);
    this.incident('geo_surge', { accountId: acc.id }, t0, t,
      `${route.length} countries in ${Math.round((t - t0) / MINUTE)} min: ${parts.join(' -> ')}; each hop slower than 800 km/h, so not impossible travel`,
      ['unfamiliar_location']);
  }

  bruteForce(acc: Account, rng: Rng, day: number, succeed: boolean): void {
    const coarse = coarseFor(acc.home.country);
    const ip = coarse ? this.book.v4(rng, coarse) : this.book.v4(rng, acc.home);
    const dev = this.foreignDevice(rng, 'bot');
    const n = rng.int(15, 30);
    const t0 = this.at(acc, day, rng.real(0, 24));
    const step = (rng.int(240, 290) * SECOND) / n;
    let t = t0;
    for (let i = 0; i < n; i++) {
      if (i > 0) t += step * rng.real(0.7, 1.3);
      this.em.login(t, acc.id, ip, dev, false);
    }
    let end = t;
    if (succeed) {
      end = t + rng.int(20, 90) * SECOND;
      this.em.login(end, acc.id, ip, dev, true);
    }
    this.blackout(acc, t0 - HOUR, end + HOUR);
    this.incident('brute_force_burst', { accountId: acc.id }, t0, end,
      `${n} failed logins in ${Math.round((t - t0) / SECOND)} s from ${ip} (${coarse ? 'country-level ' + coarse.country : acc.home.city}), ${succeed ? 'then a success (critical)' : 'no success'}`,
      ['login_rate_anomaly']);
  }

  credentialStuffing(rng: Rng, victims: Account[], seq: number): void {
    const city = rng.pick(CITIES);
    const ip = this.book.v4(rng, city);
    const n = rng.int(30, 60);
    const real = rng.sample(victims, Math.round(n * rng.real(0.15, 0.3)));
    const t0 = this.o.start + rng.int(1, this.o.days - 2) * DAY + rng.int(0, DAY - 10 * MINUTE);
    const ids: string[] = real.map((a) => a.id);
    while (ids.length < n) ids.push(`acct-x${seq}${rng.int(0, 0xffffff).toString(16).padStart(6, '0')}`);
    rng.shuffle(ids);
    const times = ids.map(() => t0 + rng.int(0, 8 * MINUTE - 1)).sort((a, b) => a - b);
    const ua = userAgent(rng, 'bot');
    const lucky = rng.chance(0.5) ? ids.findIndex((id) => id.startsWith('acct-x')) : -1;
    // Stuffing bots rarely send a device id: exercise the optional field.
    ids.forEach((id, i) => this.em.login(times[i]!, id, ip, undefined, i === lucky, ua));
    const failures = n - (lucky >= 0 ? 1 : 0);
    this.incident('stuffing_single_ip', { ip }, times[0]!, times[n - 1]!,
      `${n} distinct accounts (${real.length} real) tried from ${ip} (${city.city}, ${city.country}) in ${Math.round((times[n - 1]! - times[0]!) / SECOND)} s, ${failures} failures`);
  }

  unfamiliarLocation(acc: Account, rng: Rng, day: number): void {
    // Not too far: the silence kept around the login (so it is not impossible travel) then stays
    // short, and even a short log leaves the account enough history to count as established.
    const city = rng.pick(foreignCities(acc.home, acc.home.country, 300, 3000));
    const ip = this.book.v4(rng, city);
    const dev = acc.devices[1] ?? acc.devices[0]!;
    const t0 = localTime({ home: city }, this.o.start, day, rng.real(9, 20));
    const logins = rng.int(1, 2);
    let t = t0;
    for (let i = 0; i < logins; i++) {
      if (i > 0) t += rng.int(2, 5) * HOUR;
      this.em.login(t, acc.id, ip, dev, true);
    }
    const gap = this.gapHours(acc, city) * HOUR;
    this.blackout(acc, t0 - gap, t + gap);
    this.incident('unfamiliar_location', { accountId: acc.id }, t0, t,
      `established ${acc.home.country} account (home ${acc.home.city}) logs in from ${city.city} (${city.country}) ${ip}, ${km(distanceKm(acc.home, city))} from home and ${(gap / HOUR).toFixed(1)}+ h after its last home activity`);
  }

  loginRate(acc: Account, rng: Rng, day: number): void {
    const n = rng.int(20, 40);
    const dev = acc.devices[0]!;
    const ip = acc.homeIps[0]!;
    const t0 = this.at(acc, day, rng.real(10, 20));
    const step = (55 * MINUTE) / n;
    const fails = new Set<number>();
    const nf = rng.int(1, 3);
    while (fails.size < nf) {
      const i = rng.int(1, n - 2);
      if (!fails.has(i - 1) && !fails.has(i + 1)) fails.add(i);
    }
    let last = t0;
    for (let i = 0; i < n; i++) {
      last = t0 + i * step + rng.int(0, Math.floor(step * 0.5));
      this.em.login(last, acc.id, ip, dev, !fails.has(i));
    }
    this.blackout(acc, t0 - 2 * HOUR, t0 + 3 * HOUR);
    this.incident('login_rate_spike', { accountId: acc.id }, t0, last,
      `${n} login attempts (${nf} failed) in ${Math.round((last - t0) / MINUTE)} min from home ${ip} on ${dev.id}; baseline ~3 logins a day`);
  }

  concurrentStreams(acc: Account, rng: Rng, day: number): void {
    const k = rng.int(6, 8);
    // Within one UTC day and from at most two places besides home: the extra screens must not
    // also add up to account sharing (households seen on two days).
    let t0 = this.at(acc, day, rng.real(19, 21));
    const dayEnd = Math.floor(t0 / DAY + 1) * DAY;
    if (t0 + 2.5 * HOUR > dayEnd) t0 = dayEnd - 2.5 * HOUR - rng.int(0, 60) * MINUTE;
    // The nearest cities: a far one would keep the home's next logins "impossible" for many hours.
    const near = CITIES.filter((c) => c.id !== acc.home.id)
      .sort((a, b) => distanceKm(acc.home, a) - distanceKm(acc.home, b))
      .slice(0, 4);
    const places = rng.sample(near, rng.int(1, 2));
    const devices: { dev: Device; ip: string; where: string }[] = acc.devices.map((d) => ({ dev: d, ip: acc.homeIps[0]!, where: acc.home.city }));
    const placeIps = places.map((c) => this.book.v4(rng, c));
    while (devices.length < k) {
      const i = rng.int(0, places.length - 1);
      devices.push({ dev: this.foreignDevice(rng, rng.pick(['tv', 'phone', 'tablet', 'laptop'] as const)), ip: placeIps[i]!, where: places[i]!.city });
    }
    let first = Infinity;
    let last = 0;
    devices.forEach(({ dev, ip }, i) => {
      const s = t0 + rng.int(0, 15) * MINUTE;
      const e = s + rng.int(60, 110) * MINUTE;
      first = Math.min(first, s);
      last = Math.max(last, e);
      this.session(rng, acc, dev, ip, s, e, `${acc.id.replace('acct-', 'ses-')}-c${i + 1}`);
    });
    const gap = Math.max(4, ...places.map((c) => this.gapHours(acc, c))) * HOUR;
    this.blackout(acc, t0 - gap, last + gap);
    // Streams from other cities at the same moment are also impossible travel to a rule that
    // takes playback as position fixes.
    this.incident('concurrent_streams', { accountId: acc.id }, first, last,
      `${k} devices streaming at once (all overlap from ${iso(first + 15 * MINUTE)} for 45+ min): ${devices.length - acc.devices.length} new devices at ${placeIps.map((ip, i) => `${ip} (${places[i]!.city})`).join(', ')} plus ${acc.devices.length} home devices at ${acc.homeIps[0]}`,
      ['impossible_travel']);
  }

  accountSharing(acc: Account, rng: Rng): boolean {
    const P = Math.min(21, this.o.days - 2);
    if (P < 4) return false;
    // Short periods crowd every household onto the same first and last days: keep to four then.
    const h = P >= 12 ? rng.int(4, 5) : 4;
    // Friends and family in the nearest cities, which is how sharing usually looks.
    const cities = CITIES.filter((c) => c.id !== acc.home.id)
      .sort((a, b) => distanceKm(acc.home, a) - distanceKm(acc.home, b))
      .slice(0, h);
    const d0 = rng.int(1, this.o.days - 1 - P);
    const perHousehold = P >= 9 ? 3 : 2;
    const load = new Array<number>(P).fill(0);
    // The least-used day in [lo, hi], so that no day needs more than the four daytime slots.
    const pickDay = (lo: number, hi: number): number => {
      const range = rng.shuffle(Array.from({ length: hi - lo + 1 }, (_, i) => lo + i));
      const d = range.reduce((best, x) => (load[x]! < load[best]! ? x : best), range[0]!);
      load[d]!++;
      return d;
    };
    // First day in the first third, last in the last third: each household recurs over a span of
    // a week or more, which is what tells a second home from a one-off trip.
    const third = Math.max(1, Math.floor(P / 3));
    const plan: { city: PoolCity; days: number[] }[] = cities.map((city) => {
      const a = pickDay(0, P >= 8 ? Math.min(third - 1, P - 8) : third - 1);
      const b = pickDay(P >= 8 ? Math.max(a + 7, P - third) : P - third, P - 1);
      const days = perHousehold === 3 && b - a >= 2 ? [a, pickDay(a + 1, b - 1), b] : [a, b];
      return { city, days };
    });
    const slotUse = new Array<number>(P).fill(0);
    // Household sessions go into separate daytime slots so two never overlap: the account never
    // has more than one sharer plus one home screen active, far from the concurrent-stream bound.
    const SLOTS = [9, 11.5, 14, 16.5];
    let first = Infinity;
    let last = 0;
    plan.forEach(({ city, days }, hIdx) => {
      const dev = this.foreignDevice(rng, rng.pick(['tv', 'laptop'] as const));
      const ip = this.book.v4(rng, city);
      for (const d of days) {
        const slot = SLOTS[slotUse[d]!++];
        if (slot === undefined) continue;
        const s = this.at(acc, d0 + d, slot + rng.real(0, 0.3));
        const e = s + rng.int(40, 60) * MINUTE;
        first = Math.min(first, s);
        last = Math.max(last, e);
        this.session(rng, acc, dev, ip, s, e, `${acc.id.replace('acct-', 'ses-')}-h${hIdx + 1}-${d0 + d}`);
      }
    });
    // The rule stays true while the households' days are inside its 30-day window, so any
    // playback in that time may (re-)alert: the range runs on until then.
    this.incident('sharing_households', { accountId: acc.id }, first, Math.min(last + 30 * DAY, this.end - 1),
      `${h} households besides home ${acc.home.city} stream on ${perHousehold} days each within ${P} days (last household session ${iso(last)}): ${plan.map((p) => `${p.city.city} (${p.city.country}) days ${p.days.map((d) => d0 + d).join('/')}`).join('; ')}`,
      // Other cities streaming hours apart from home logins read as travel to a rule that takes
      // playback as position fixes.
      ['impossible_travel']);
    return true;
  }

  viewingBinge(acc: Account, rng: Rng, day: number): void {
    const dev = acc.devices[0]!;
    const ip = acc.homeIps[0]!;
    const target = rng.int(1170, 1260) * MINUTE;
    const t0 = this.at(acc, day, rng.real(6.5, 8.5));
    let t = t0;
    let watched = 0;
    let k = 1;
    while (watched < target) {
      const len = Math.min(target - watched, rng.int(180, 300) * MINUTE);
      this.session(rng, acc, dev, ip, t, t + len, `${acc.id.replace('acct-', 'ses-')}-v${k++}`);
      watched += len;
      t += len + rng.int(5, 10) * MINUTE;
    }
    const end = t - 5 * MINUTE;
    // No other viewing while the binge is still inside a trailing 24-hour window.
    this.blackout(acc, t0 - 8 * HOUR, end + 25 * HOUR);
    this.incident('viewing_binge', { accountId: acc.id }, t0, end,
      `${(watched / HOUR).toFixed(1)} h of viewing within ${((end - t0) / HOUR).toFixed(1)} h on ${dev.id} at home (${acc.home.city})`);
  }

  viewingJump(acc: Account, rng: Rng, day: number): void {
    const dev = acc.devices[0]!;
    const ip = acc.homeIps[0]!;
    const t0 = this.at(acc, day, rng.real(9.5, 10.5));
    let t = t0;
    let watched = 0;
    for (let k = 1; k <= 3; k++) {
      const len = rng.int(195, 205) * MINUTE;
      this.session(rng, acc, dev, ip, t, t + len, `${acc.id.replace('acct-', 'ses-')}-v${k}`);
      watched += len;
      t += len + rng.int(8, 12) * MINUTE;
    }
    const end = t;
    this.blackout(acc, t0 - HOUR, end + 6 * HOUR);
    this.incident('viewing_jump', { accountId: acc.id }, t0, end,
      `light viewer (45–75 min every day for ${day} days) watches ${(watched / HOUR).toFixed(1)} h on day ${day} at home (${acc.home.city})`);
  }

  accountTakeover(acc: Account, rng: Rng, day: number): void {
    // Far enough to be a different world, near enough that the silence kept around it is short.
    const far = rng.pick(foreignCities(acc.home, acc.home.country, 1500, 6000));
    const ip = this.book.v4(rng, far);
    const dev = this.foreignDevice(rng, rng.pick(['laptop', 'phone'] as const));
    const t0 = localTime({ home: far }, this.o.start, day, rng.real(1, 23));
    const t1 = t0 + rng.int(5, 30) * MINUTE;
    const change: AccountChange = rng.pick(['email', 'payment', 'email', 'payment', 'password']);
    const viaDevice = rng.chance(0.7);
    this.em.login(t0, acc.id, ip, dev, true);
    this.em.update(t1, acc.id, change, viaDevice ? dev : undefined, ip);
    const gap = this.gapHours(acc, far) * HOUR;
    this.blackout(acc, t0 - gap, t1 + gap);
    this.incident('account_takeover', { accountId: acc.id }, t0, t1,
      `precise login from new country ${far.city} (${far.country}) ${ip} on ${dev.id}, then ${change} change ${Math.round((t1 - t0) / MINUTE)} min later from the same ${viaDevice ? 'device and ip' : 'ip (no deviceId)'}; home ${acc.home.city}`,
      ['unfamiliar_location']);
  }

  // ------------------------------------------------- incidents: detection depth (issue 7)

  /**
   * Guessing spread over most of a day from two or three addresses abroad, never more than one
   * failure in ten minutes, while the owner goes on logging in as usual: attackers who know the
   * burst threshold stay under it. `slow`: 34–44 failures, over brute_force's long window (30 in
   * 24 h) — the account's own failure baseline (login_rate_anomaly) sees them first, at 15.
   * Otherwise 18–26 failures: under the long window, so only the failure baseline catches them.
   */
  slowGuessing(acc: Account, rng: Rng, day: number, slow: boolean): void {
    const n = slow ? rng.int(34, 44) : rng.int(18, 26);
    const span = rng.real(18, 21) * HOUR;
    const t0 = this.at(acc, day, rng.real(0, 4));
    const dev = this.foreignDevice(rng, 'bot');
    // Failed logins are never position fixes, so addresses abroad raise no travel or country alert.
    const where = rng.sample(foreignCities(acc.home, acc.home.country, 500), rng.int(2, 3));
    const ips = where.map((c) => this.book.v4(rng, c));
    // One failure per step with up to half a step of jitter: at least 12 minutes between two.
    const step = span / n;
    let last = t0;
    for (let i = 0; i < n; i++) {
      last = t0 + i * step + rng.real(0, step * 0.5);
      this.em.login(last, acc.id, ips[i % ips.length]!, dev, false);
    }
    // The 24-hour counts stay up for a day after the last guess: an owner's typo then is still
    // judged with the attack's failures, and rightly alerts.
    const end = Math.min(last + DAY, this.end - 1);
    const text = `${n} failed logins over ${((last - t0) / HOUR).toFixed(1)} h from ${ips.map((ip, i) => `${ip} (${where[i]!.city}, ${where[i]!.country})`).join(', ')} on ${dev.id}, at least ${Math.round((step * 0.5) / MINUTE)} min apart; the owner keeps logging in from home (${acc.home.city}); the range runs on for the 24 h the failures stay counted`;
    if (slow) this.incident('slow_brute_force', { accountId: acc.id }, t0, end, text, ['login_rate_anomaly']);
    else this.incident('slow_guessing', { accountId: acc.id }, t0, end, text);
  }

  /**
   * A credential-stuffing botnet inside one /24: 8–12 addresses, each trying 3–8 accounts (under
   * the 20 an address alert needs), 40–60 accounts together within 8 minutes. Only a rule that
   * sums the network catches it; the alert's key is the network itself ("a.b.c.0/24").
   */
  distributedStuffing(rng: Rng, network: V4Network, victims: Account[], seq: number): void {
    const city = network.place;
    const k = rng.int(8, 12);
    const ips = Array.from({ length: k }, () => this.book.host(rng, network));
    const uas = ips.map(() => userAgent(rng, 'bot'));
    const n = rng.int(40, 60);
    const real = rng.sample(victims, Math.round(n * rng.real(0.15, 0.3)));
    const t0 = this.o.start + rng.int(1, this.o.days - 2) * DAY + rng.int(0, DAY - 10 * MINUTE);
    const ids: string[] = real.map((a) => a.id);
    while (ids.length < n) ids.push(`acct-n${seq}${rng.int(0, 0xffffff).toString(16).padStart(6, '0')}`);
    rng.shuffle(ids);
    const times = ids.map(() => t0 + rng.int(0, 8 * MINUTE - 1)).sort((a, b) => a - b);
    const lucky = rng.chance(0.5) ? ids.findIndex((id) => id.startsWith('acct-n')) : -1;
    // Accounts dealt round-robin: every address gets ceil(n / k) <= 8 at most.
    ids.forEach((id, i) => this.em.login(times[i]!, id, ips[i % k]!, undefined, i === lucky, uas[i % k]));
    const failures = n - (lucky >= 0 ? 1 : 0);
    this.incident('distributed_stuffing', { ip: network.cidr }, times[0]!, times[n - 1]!,
      `${n} distinct accounts (${real.length} real) tried from ${k} addresses of ${network.cidr} (${'city' in city ? `${city.city}, ` : ''}${city.country}), at most ${Math.ceil(n / k)} each, in ${Math.round((times[n - 1]! - times[0]!) / SECOND)} s, ${failures} failures`);
  }

  /**
   * A login from a precise city of the home country a few hundred km away, minutes after the
   * owner's home login: well under the 500 km of the standard floor, far over the 100 km that
   * applies when both fixes are accurate. `acc.home` is one of a SHORT_HOPS pair.
   */
  shortHop(acc: Account, rng: Rng, day: number, hop: PoolCity): void {
    const home = acc.home;
    const eff = distanceKm(home, hop) - home.area - hop.area;
    // 30–65 % of the time a 900 km/h flight would need: 1400–3000 km/h.
    const dt = (eff / 900) * rng.real(0.3, 0.65) * HOUR;
    const t0 = this.at(acc, day, rng.real(8, 21));
    const ip = this.book.v4(rng, hop);
    const dev = this.foreignDevice(rng, rng.pick(['laptop', 'phone'] as const));
    this.em.login(t0, acc.id, acc.homeIps[0]!, acc.devices[0]!, true);
    this.em.login(t0 + dt, acc.id, ip, dev, true);
    this.blackout(acc, t0 - 30 * MINUTE, t0 + dt + this.gapHours(acc, hop) * HOUR);
    this.incident('short_hop', { accountId: acc.id }, t0, t0 + dt,
      `home login in ${home.city} (${home.country}) ${acc.homeIps[0]} then ${hop.city} ${ip} on new ${dev.id} ${(dt / MINUTE).toFixed(1)} min later: ${km(distanceKm(home, hop))} (${km(eff)} after both accuracy radii, ${home.area}/${hop.area} km), ${Math.round(eff / (dt / HOUR))} km/h`);
  }

  /**
   * A stolen session cookie: while the owner streams at home, a device on another continent
   * streams on the account without ever logging in. Only playback fixes place it.
   */
  stolenSession(acc: Account, rng: Rng, day: number): void {
    const far = rng.pick(foreignCities(acc.home, acc.home.country, 4000));
    const s0 = this.at(acc, day, rng.real(19, 21));
    const e0 = s0 + rng.int(120, 180) * MINUTE;
    const s1 = s0 + rng.int(20, 50) * MINUTE;
    const e1 = s1 + rng.int(60, 120) * MINUTE;
    const ip = this.book.v4(rng, far);
    const thief = this.foreignDevice(rng, rng.pick(['tv', 'laptop'] as const));
    this.session(rng, acc, acc.devices[0]!, acc.homeIps[0]!, s0, e0, `${acc.id.replace('acct-', 'ses-')}-own`);
    this.session(rng, acc, thief, ip, s1, e1, `${acc.id.replace('acct-', 'ses-')}-x${rng.int(0, 0xffff).toString(16)}`);
    // The owner's next login must be plausible travel from the thief's city, or it would read as
    // a risky login of its own.
    this.blackout(acc, s0 - HOUR, Math.max(e0, e1) + this.gapHours(acc, far) * HOUR);
    this.incident('stolen_session_stream', { accountId: acc.id }, s1, e1,
      `owner streams at home in ${acc.home.city} (${acc.home.country}) on ${acc.devices[0]!.id} from ${iso(s0)}; from ${iso(s1)} ${thief.id} streams from ${far.city} (${far.country}) ${ip}, ${km(distanceKm(acc.home, far))} away, with no login`);
  }

  /**
   * `days` days from `day` of `minutes` (a range) of viewing each, from local `hour`, in sessions
   * of 150–200 min with short breaks: a viewing jump's days. `tag` keeps session ids apart.
   */
  private longDays(acc: Account, rng: Rng, dev: Device, ip: string, day: number, days: number, hour: number, minutes: readonly [number, number], tag: string): { first: number; last: number; total: number } {
    let first = Infinity;
    let last = 0;
    let total = 0;
    for (let d = 0; d < days; d++) {
      const target = rng.int(minutes[0], minutes[1]) * MINUTE;
      let t = this.at(acc, day + d, hour + rng.real(-0.1, 0.1));
      first = Math.min(first, t);
      let watched = 0;
      let k = 1;
      while (watched < target) {
        const len = Math.min(target - watched, rng.int(150, 200) * MINUTE);
        this.session(rng, acc, dev, ip, t, t + len, `${acc.id.replace('acct-', 'ses-')}-${tag}${day + d}-${k++}`);
        watched += len;
        last = t + len;
        t += len + rng.int(8, 15) * MINUTE;
      }
      total += watched;
    }
    return { first, last, total };
  }

  /**
   * A light viewer (45–75 min every evening) who watches 8.5–9.5 h a day for `daysOn` days in a
   * row: far above its own habit, under the 16 h that anyone is allowed.
   */
  viewingHabitJump(acc: Account, rng: Rng, day: number, daysOn: number): void {
    const dev = acc.devices[0]!;
    const ip = acc.homeIps[0]!;
    // A steady start hour, as for heavy viewers: the trailing 24 h then holds one day's viewing.
    const hour = rng.real(10, 11);
    const { first, last, total } = this.longDays(acc, rng, dev, ip, day, daysOn, hour, [510, 570], 'j');
    // The evening's usual hour still comes on the last day, inside the same trailing 24 h.
    this.incident('viewing_habit_jump', { accountId: acc.id }, first, last + 3 * HOUR,
      `light viewer (45–75 min every evening since day 0) watches ${(total / HOUR / daysOn).toFixed(1)} h a day on days ${day}–${day + daysOn - 1} from local ${hour.toFixed(1)}h on ${dev.id} at home (${acc.home.city})`);
  }

  /**
   * Sharing with just two other households, each streaming on 3–4 days spread over two weeks or
   * more: with home, three places that keep coming back.
   */
  sharingRecurrent(acc: Account, rng: Rng): boolean {
    const P = Math.min(24, this.o.days - 2);
    if (P < 12) return false;
    const d0 = rng.int(1, this.o.days - 1 - P);
    const cities = CITIES.filter((c) => c.id !== acc.home.id)
      .sort((a, b) => distanceKm(acc.home, a) - distanceKm(acc.home, b))
      .slice(0, 2);
    const third = Math.floor(P / 3);
    let first = Infinity;
    let last = 0;
    const sid = (tag: string) => `${acc.id.replace('acct-', 'ses-')}-${tag}`;
    // Home must recur too, whatever the log's background viewing (the demo turns it right
    // down): early-morning sessions on four days across the period, clear of the sharers' slots.
    const homeDays = [0, third, 2 * third, P - 1].map((d) => Math.min(P - 1, d + rng.int(0, 1)));
    for (const d of homeDays) {
      const s = this.at(acc, d0 + d, rng.real(6.5, 7));
      this.session(rng, acc, acc.devices[0]!, acc.homeIps[0]!, s, s + rng.int(30, 45) * MINUTE, sid(`m${d0 + d}`));
      first = Math.min(first, s);
    }
    const plan = cities.map((city, h) => {
      // First day in the first third, last at least 8 days later: a span no trip of a week has.
      const a = rng.int(0, third - 1);
      const b = rng.int(Math.max(a + 8, P - third), P - 1);
      const middle = rng.sample(Array.from({ length: b - a - 1 }, (_, i) => a + 1 + i), rng.int(1, 2)).sort((x, y) => x - y);
      const dev = this.foreignDevice(rng, rng.pick(['tv', 'laptop'] as const));
      const ip = this.book.v4(rng, city);
      const days = [a, ...middle, b];
      for (const d of days) {
        // Each household its own daytime slot: never two sharers at once.
        const s = this.at(acc, d0 + d, (h === 0 ? 11 : 15) + rng.real(0, 0.5));
        const e = s + rng.int(40, 70) * MINUTE;
        this.session(rng, acc, dev, ip, s, e, sid(`r${h + 1}-${d0 + d}`));
        first = Math.min(first, s);
        last = Math.max(last, e);
      }
      return { city, days };
    });
    this.incident('sharing_recurrent', { accountId: acc.id }, first, Math.min(last + 30 * DAY, this.end - 1),
      `2 households besides home ${acc.home.city} (home streams too, days ${homeDays.map((d) => d0 + d).join('/')}): ${plan.map((p) => `${p.city.city} (${p.city.country}, ${km(distanceKm(acc.home, p.city))}) days ${p.days.map((d) => d0 + d).join('/')}`).join('; ')}; the rule stays true for 30 days after the last household session (${iso(last)})`,
      // Other cities streaming hours apart from home read as travel when they are far enough.
      ['impossible_travel']);
    return true;
  }

  // ---------------------------------------------------------------- traps

  /**
   * A trip abroad with plausible flights both ways and evenings streamed at the hotel. `cls`:
   * a first trip, a repeat trip to a country visited before, or one of two short trips to two
   * countries (each hotel city streams on 2–3 consecutive days: a place, but not one that recurs).
   */
  trip(acc: Account, rng: Rng, dest: PoolCity, startDay: number, stayDays: number, cls: 'one_trip_abroad' | 'repeat_trip' | 'two_trips_abroad', note = ''): number {
    const repeat = cls === 'repeat_trip';
    const home = acc.home;
    const dev = acc.devices.find((d) => d.kind === 'laptop') ?? acc.devices.find((d) => d.kind === 'phone') ?? acc.devices[0]!;
    const hotel = this.book.v4(rng, dest);
    const flight = plausibleTravelHours(home, dest) * HOUR;
    const t0 = this.at(acc, startDay, rng.real(6, 9));
    const tArr = t0 + flight + rng.real(0.3, 1.5) * HOUR;
    const tLeave = tArr + stayDays * DAY + rng.real(-2, 2) * HOUR;
    const tBack = tLeave + flight + rng.real(0.3, 1.5) * HOUR;
    this.em.login(t0, acc.id, acc.homeIps[0]!, dev, true);
    this.em.login(tArr, acc.id, hotel, dev, true);
    this.em.login(tLeave, acc.id, hotel, dev, true);
    this.em.login(tBack, acc.id, acc.homeIps[0]!, dev, true);
    this.blackout(acc, t0 + 1, tArr - 1);
    this.blackout(acc, tLeave + 1, tBack - 1);
    acc.stays.push({ from: tArr, to: tLeave, ip: hotel, device: dev });
    // Evenings at the hotel: the abroad city becomes a second household (streamed on 2+ days).
    let streamed = 0;
    for (let d = 1; d <= stayDays; d++) {
      const s = tArr + (d - 1) * DAY + rng.real(8, 12) * HOUR;
      const e = s + rng.int(60, 120) * MINUTE;
      if (e > tLeave - HOUR) break;
      this.session(rng, acc, dev, hotel, s, e, `${acc.id.replace('acct-', 'ses-')}-t${startDay}-${d}`);
      streamed++;
    }
    const d = distanceKm(home, dest);
    const route = `${acc.home.city} (${acc.home.country}) -> ${dest.city} (${dest.country}), ${km(d)}`;
    this.trap('plausible_flight', { accountId: acc.id }, t0, tArr, ['impossible_travel'],
      `${route}: home login then hotel login ${((tArr - t0) / HOUR).toFixed(1)} h later (${Math.round(d / ((tArr - t0) / HOUR))} km/h)`);
    this.trap('plausible_flight', { accountId: acc.id }, tLeave, tBack, ['impossible_travel'],
      `${dest.city} (${dest.country}) -> ${acc.home.city} (${acc.home.country}), the way back: hotel login then home login ${((tBack - tLeave) / HOUR).toFixed(1)} h later (${Math.round(d / ((tBack - tLeave) / HOUR))} km/h)`);
    this.trap(cls, { accountId: acc.id }, tArr, tBack,
      repeat
        ? ['impossible_travel', 'geo_surge', 'account_sharing', 'account_takeover', 'unfamiliar_location']
        : ['impossible_travel', 'geo_surge', 'account_sharing', 'account_takeover'],
      `${stayDays} days in ${dest.city} (${dest.country}) at ${hotel}, streaming on ${streamed} evenings from ${dev.id}${repeat ? '; the country was visited on an earlier trip' : ''}${note}`,
      repeat ? [] : ['unfamiliar_location']);
    return Math.ceil((tBack - this.o.start) / DAY);
  }

  newAccount(acc: Account, rng: Rng, day: number): void {
    const abroad = rng.pick(foreignCities(acc.home, acc.home.country, 1500));
    const ip = this.book.v4(rng, abroad);
    const dev = acc.devices.find((d) => d.kind === 'phone') ?? acc.devices[0]!;
    const t1 = localTime({ home: abroad }, this.o.start, day, rng.real(10, 17));
    this.em.login(t1, acc.id, ip, dev, true);
    const change: AccountChange = rng.pick(['payment', 'phone']);
    this.em.update(t1 + rng.int(5, 20) * MINUTE, acc.id, change, dev, ip);
    const t2 = t1 + rng.real(3, 10) * HOUR;
    this.em.login(t2, acc.id, ip, dev, true);
    const tHome = t2 + plausibleTravelHours(abroad, acc.home) * HOUR + rng.real(1, 6) * HOUR;
    this.em.login(tHome, acc.id, acc.homeIps[0]!, dev, true);
    acc.activeFrom = tHome + MINUTE;
    this.trap('new_account', { accountId: acc.id }, t1, tHome + HOUR,
      ['unfamiliar_location', 'impossible_travel', 'account_takeover', 'login_rate_anomaly', 'geo_surge'],
      `account created in ${abroad.city} (${abroad.country}) ${ip} (sets ${change} right away), flies home to ${acc.home.city} (${acc.home.country}) ${((tHome - t2) / HOUR).toFixed(1)} h later; no history before`);
  }

  countryLevel(acc: Account, rng: Rng, a: PoolCoarse, b: PoolCoarse): void {
    const ipA = this.book.v4(rng, a);
    const ipB = this.book.v4(rng, b);
    acc.coarse = { ips: [ipA, ipB], periodMs: rng.int(150, 300) * MINUTE, phase: rng.real(0, 2) };
    acc.homeIps = [ipA];
    // Both countries show up in the first two logins, before the account is "established".
    let day = 0;
    let t = this.at(acc, day, rng.real(9, 12));
    if (t < this.o.start) t = this.at(acc, ++day, rng.real(9, 12));
    const dev = acc.devices[0]!;
    const t2 = t + rng.int(40, 90) * MINUTE;
    this.em.login(t, acc.id, ipA, dev, true);
    this.em.login(t2, acc.id, ipB, dev, true);
    acc.activeFrom = t2 + MINUTE;
    this.trap('country_level_ips', { accountId: acc.id }, t, this.end,
      ['impossible_travel', 'unfamiliar_location', 'geo_surge', 'account_sharing', 'account_takeover'],
      `only country-level addresses: ${ipA} (${a.country}, no city, area ${a.area} km) and ${ipB} (${b.country}, no city, area ${b.area} km), ${km(distanceKm(a, b))} apart, alternating every few hours and sometimes within the hour`);
  }

  sharedNat(members: Account[], rng: Rng, city: PoolCity): void {
    const ip = this.book.v4(rng, city);
    let first = Infinity;
    let last = 0;
    let bursts = 0;
    let minSize = Infinity;
    const ref = members[0]!;
    for (let day = 0; day < this.o.days; day++) {
      const b0 = this.at(ref, day, 8.8 + rng.real(0, 0.1));
      const dow = new Date(b0 + city.utcOffset * HOUR).getUTCDay();
      if (dow === 0 || dow === 6 || b0 < this.o.start || b0 + 10 * MINUTE >= this.end) continue;
      const who = rng.sample(members, rng.int(50, members.length));
      const typos = new Set(rng.sample(who, rng.int(3, 5)));
      for (const acc of who) {
        const dev = acc.devices.find((d) => d.kind === 'phone') ?? acc.devices[0]!;
        const t = b0 + rng.int(0, 9 * MINUTE - 40 * SECOND);
        if (typos.has(acc)) this.em.login(t - rng.int(10, 30) * SECOND + 30 * SECOND, acc.id, ip, dev, false);
        this.em.login(t + 30 * SECOND + (typos.has(acc) ? 5 * SECOND : 0), acc.id, ip, dev, true);
      }
      first = Math.min(first, b0);
      last = Math.max(last, b0 + 10 * MINUTE);
      minSize = Math.min(minSize, who.length);
      bursts++;
    }
    if (bursts === 0) return;
    this.trap('shared_nat', { ip }, first, last, ['credential_stuffing'],
      `campus NAT ${ip} in ${city.city} (${city.country}): every weekday ${minSize}+ of ${members.length} accounts log in within 10 min, 3–5 typos each morning (${bursts} mornings)`);
  }

  /**
   * The same campus's lecture halls: on lecture afternoons (Tuesday, Thursday; every weekday
   * would only add bytes) 30–45 of the members log in within ten minutes from 20–32 addresses of
   * one /24, and 6–12 of them mistype first, each from a different address. Five or more failing
   * addresses and a dozen failed accounts in one network look like a spread attack to a rule
   * that only counts; the network's successes say otherwise.
   */
  campusNetwork(members: Account[], rng: Rng, city: PoolCity, network: V4Network): void {
    const hosts = Array.from({ length: rng.int(20, 32) }, () => this.book.host(rng, network));
    const ref = members[0]!;
    let first = Infinity;
    let last = 0;
    let bursts = 0;
    let minSize = Infinity;
    let maxTypos = 0;
    for (let day = 0; day < this.o.days; day++) {
      const b0 = this.at(ref, day, 13.8 + rng.real(0, 0.1));
      const dow = new Date(b0 + city.utcOffset * HOUR).getUTCDay();
      if ((dow !== 2 && dow !== 4) || b0 < this.o.start || b0 + 10 * MINUTE >= this.end) continue;
      const who = rng.sample(members, rng.int(30, Math.min(45, members.length)));
      const typos = rng.sample(who, rng.int(6, 12));
      const typoHost = new Map(typos.map((acc, i) => [acc, hosts[i]!]));
      const shuffled = rng.shuffle(hosts.slice());
      for (const acc of who) {
        const ip = typoHost.get(acc) ?? rng.pick(shuffled);
        const dev = acc.devices.find((d) => d.kind === 'laptop') ?? acc.devices[0]!;
        const t = b0 + rng.int(40 * SECOND, 9 * MINUTE - 20 * SECOND);
        if (typoHost.has(acc)) {
          if (rng.chance(0.2)) this.em.login(t - rng.int(20, 35) * SECOND, acc.id, ip, dev, false);
          this.em.login(t - rng.int(5, 15) * SECOND, acc.id, ip, dev, false);
        }
        this.em.login(t, acc.id, ip, dev, true);
      }
      first = Math.min(first, b0);
      last = Math.max(last, b0 + 10 * MINUTE);
      minSize = Math.min(minSize, who.length);
      maxTypos = Math.max(maxTypos, typos.length);
      bursts++;
    }
    if (bursts === 0) return;
    this.trap('campus_network', { ip: network.cidr }, first, last, ['credential_stuffing'],
      `campus network ${network.cidr} in ${city.city} (${city.country}): on Tuesday and Thursday afternoons ${minSize}+ of ${members.length} accounts log in within 10 min from ${hosts.length} addresses, up to ${maxTypos} of them mistyping first, each typo from a different address (${bursts} afternoons)`);
  }

  // ------------------------------------------- detection fidelity: incidents and traps

  /**
   * A young account: `lightDays` days of about an hour a day from the day it joins (fewer than
   * the seven viewing days a baseline of its own needs), then 9–10 h a day for three days.
   * `acc.activeFrom` and its light evenings are set up by the caller.
   */
  viewingYoungJump(acc: Account, rng: Rng, firstDay: number, lightDays: number): void {
    const dev = acc.devices[0]!;
    const ip = acc.homeIps[0]!;
    const day = firstDay + lightDays;
    const hour = rng.real(10, 11);
    const { first, last, total } = this.longDays(acc, rng, dev, ip, day, 3, hour, [540, 600], 'y');
    this.incident('viewing_young_jump', { accountId: acc.id }, first, last + 3 * HOUR,
      `young account (joined ${iso(acc.activeFrom)}, ${lightDays} days of 45–75 min) watches ${(total / HOUR / 3).toFixed(1)} h a day on days ${day}–${day + 2} from local ${hour.toFixed(1)}h on ${dev.id} at home (${acc.home.city})`);
  }

  /** A young account (joined a day or two before) making 20–40 attempts within an hour from home. */
  loginRateYoung(acc: Account, rng: Rng, day: number): void {
    const n = rng.int(20, 40);
    const dev = acc.devices[0]!;
    const ip = acc.homeIps[0]!;
    const t0 = this.at(acc, day, rng.real(10, 20));
    const step = (55 * MINUTE) / n;
    let last = t0;
    for (let i = 0; i < n; i++) {
      last = t0 + i * step + rng.int(0, Math.floor(step * 0.5));
      // A few failures, never two in a row: a script replaying a token, not a guesser.
      this.em.login(last, acc.id, ip, dev, i % 9 !== 4);
    }
    this.blackout(acc, t0 - 2 * HOUR, t0 + 3 * HOUR);
    this.incident('login_rate_young_spike', { accountId: acc.id }, t0, last,
      `young account (joined ${iso(acc.activeFrom)}, ${((t0 - acc.activeFrom) / HOUR).toFixed(0)} h before) makes ${n} login attempts in ${Math.round((last - t0) / MINUTE)} min from home ${ip} on ${dev.id}`);
  }

  /**
   * An attacker's burst from one address and device, interrupted by the owner's own successful
   * logins from the owner's usual address: 12–20 failures in about five minutes, in stretches of
   * at most 9 between the owner's logins (so a detector that lets any success reset the burst
   * never counts 10). `succeed`: the attacker's own success follows its last failure.
   */
  bruteForceInterleaved(acc: Account, rng: Rng, day: number, succeed: boolean): void {
    const coarse = coarseFor(acc.home.country);
    // As for the plain burst: a country-level address, or one in the home city, so the attacker's
    // success is no position fix far from the owner's (no travel alert on top).
    const ip = coarse ? this.book.v4(rng, coarse) : this.book.v4(rng, acc.home);
    const dev = this.foreignDevice(rng, 'bot');
    const own = acc.commute?.ip ?? acc.homeIps[0]!;
    const ownDev = acc.devices[1] ?? acc.devices[0]!;
    const n = rng.int(12, 18);
    // Stretch lengths: 2 or 3 stretches of at most 9 failures, split by owner successes.
    const cuts = n > 16 ? [Math.floor(n / 3), Math.floor((2 * n) / 3)] : [rng.int(n - 9, 9)];
    const t0 = this.at(acc, day, rng.real(8, 22));
    const step = (rng.int(240, 290) * SECOND) / (n + cuts.length);
    let t = t0;
    let owners = 0;
    for (let i = 0; i < n; i++) {
      if (i > 0) t += step * rng.real(0.7, 1.3);
      if (cuts.includes(i)) {
        this.em.login(t, acc.id, own, ownDev, true);
        owners++;
        t += step * rng.real(0.7, 1.3);
      }
      this.em.login(t, acc.id, ip, dev, false);
    }
    let end = t;
    if (succeed) {
      end = t + rng.int(20, 90) * SECOND;
      this.em.login(end, acc.id, ip, dev, true);
    }
    this.blackout(acc, t0 - HOUR, end + HOUR);
    this.incident('brute_force_interleaved', { accountId: acc.id }, t0, end,
      `${n} failed logins in ${Math.round((t - t0) / SECOND)} s from ${ip} on ${dev.id}, split by ${owners} successful login(s) of the owner from ${own} on ${ownDev.id}, ${succeed ? `then a success from ${ip} (critical, naming ${ip})` : 'no success'}`,
      ['login_rate_anomaly']);
  }

  /**
   * Guessing spread over 40–80 addresses of many cities and countries, one or two failures each
   * (well under any per-address threshold), 12–20 of them within ten minutes and the rest over
   * the next few hours: only the account-wide count sees it.
   */
  spreadGuessing(acc: Account, rng: Rng, day: number): void {
    const k = rng.int(40, 80);
    const cities = rng.sample(CITIES.filter((c) => c.country !== acc.home.country), Math.min(k, 25));
    const ips = Array.from({ length: k }, (_, i) => this.book.v4(rng, cities[i % cities.length]!));
    const uas = Array.from({ length: 4 }, () => userAgent(rng, 'bot'));
    const t0 = this.at(acc, day, rng.real(1, 8));
    const burst = rng.int(12, 20);
    let t = t0;
    let n = 0;
    ips.forEach((ip, i) => {
      const tries = rng.chance(0.3) ? 2 : 1;
      for (let j = 0; j < tries; j++) {
        // The opening burst: every 20–35 s; then one every few minutes.
        t += i < burst ? rng.int(20, 35) * SECOND : rng.int(2, 6) * MINUTE;
        this.em.login(t, acc.id, ip, undefined, false, uas[i % uas.length]);
        n++;
      }
    });
    this.blackout(acc, t0 - HOUR, t + HOUR);
    const countries = new Set(cities.slice(0, Math.min(k, cities.length)).map((c) => c.country));
    this.incident('spread_guessing', { accountId: acc.id }, t0, t,
      `${n} failed logins from ${k} addresses in ${countries.size} countries (${uas.length} user agents, no device id), one or two each, over ${((t - t0) / HOUR).toFixed(1)} h`,
      ['login_rate_anomaly']);
  }

  /**
   * The owner mistyping a (new) password at home and then getting in: failures on one device,
   * the success on another device from the same address, or on the same device after moving
   * from the mobile network to the home one; then the other device mistypes again and gets in.
   * 10–12 failures within ten minutes, never 10 before a success from the same address or
   * device: a detector keyed on the exact (address, device) pair would count them all.
   */
  ownerMistypes(acc: Account, rng: Rng, day: number, mobileIp: string): void {
    const home = acc.homeIps[0]!;
    const [a, b] = acc.devices.length >= 2 ? [acc.devices[0]!, acc.devices[1]!] : [acc.devices[0]!, acc.devices[0]!];
    const sameDevice = a === b || rng.chance(0.5);
    const t0 = this.at(acc, day, rng.real(8, 22));
    let t = t0;
    const fail = (ip: string, dev: Device, n: number) => {
      for (let i = 0; i < n; i++) {
        t += rng.int(15, 40) * SECOND;
        this.em.login(t, acc.id, ip, dev, false);
      }
    };
    const first = rng.int(5, 6);
    const second = rng.int(5, 6);
    let text: string;
    if (sameDevice) {
      // On the phone's mobile data first, then on the home network: same device, new address.
      fail(mobileIp, a, first);
      t += rng.int(30, 90) * SECOND;
      this.em.login(t, acc.id, home, a, true);
      fail(home, b, second);
      text = `${first} failures on ${a.id} from ${mobileIp} (mobile), its success from home ${home}, then ${second} failures and a success on ${b.id} at home`;
    } else {
      fail(home, a, first);
      t += rng.int(30, 90) * SECOND;
      this.em.login(t, acc.id, home, b, true);
      fail(home, a, second);
      text = `${first} failures on ${a.id} at home ${home}, a success on ${b.id} from the same address, then ${second} more failures on ${a.id}`;
    }
    t += rng.int(10, 40) * SECOND;
    this.em.login(t, acc.id, home, sameDevice ? b : a, true);
    this.blackout(acc, t0 - HOUR, t + HOUR);
    this.trap('owner_mistypes', { accountId: acc.id }, t0, t, ['brute_force'],
      `the owner mistypes a new password ${first + second} times within ${Math.round((t - t0) / MINUTE)} min and gets in: ${text}`,
      ['login_rate_anomaly']);
  }
}

const SHORT_HOPS: readonly (readonly [PoolCity, PoolCity])[] = SHORT_HOP_PAIRS.map(([a, b]) => [cityById(a), cityById(b)]);

function trapCount(accounts: number, fraction: number): number {
  return Math.max(1, Math.round(accounts * fraction));
}

/**
 * Decides who everybody is, then writes the special events. Roles are decided first and
 * addresses handed out after, so every address is allocated exactly once and in a fixed order.
 */
export function makePlan(o: PlanOptions): Plan {
  const width = Math.max(4, String(o.accounts - 1).length);
  const accounts = Array.from({ length: o.accounts }, (_, i) => baseAccount(o.seed, i, width, o.start));
  const p = new Planner(o);
  const rng = Rng.derive(o.seed, 'plan');
  const pool = rng.shuffle(accounts.slice());
  const later: (() => void)[] = [];
  const take = (role: string): Account | undefined => {
    const a = pool.pop();
    if (a) a.role = role;
    return a;
  };
  const days = o.days;
  // Incidents that need an established account start after a week of history when there is room.
  const lo = days >= 14 ? 7 : 3;
  const hi = days - 2;
  const per = !o.incidents || days < 5 ? 0 : o.accounts >= 200 ? Math.max(2, Math.round((o.accounts * 4) / 1000)) : o.accounts >= 20 ? 1 : 0;

  const established = (acc: Account) => {
    // Short logs get busier incident accounts so that 5 logins of history exist by day 3.
    acc.loginsPerDay = days >= 10 ? [2, 4] : [3, 5];
    acc.typo = 0.01;
    acc.sensitiveUpdates = true;
  };

  // Binges and one-day light-viewer jumps split viewing_anomaly's `per` between them, as before
  // there were classes, but each gets at least two once `per` is 2; jumps need 11 days of habit.
  const half = (n: number) => (n >= 2 ? Math.max(2, Math.ceil(n / 2)) : n);
  const lightJumps = days >= 13 && per >= 2 ? half(per) : 0;
  // Slow guessing needs login_rate_anomaly's 3 learning days before it and a day to itself.
  const slowLo = Math.max(lo, 4);
  const slowPer = hi - 1 >= slowLo ? per : 0;
  const sharingAccount = (acc: Account, r: Rng) => {
    acc.devices = acc.devices.slice(0, 2);
    // Sharers streaming elsewhere make some home logins look like travel to a playback-aware
    // rule; a settings change right after one would then read as a takeover.
    acc.sensitiveUpdates = false;
    // Four sharer hours plus this stay under the 6 h at which a daily-baseline rule may wake.
    acc.view = { kind: 'normal', pDay: 0.6, hour: r.real(19, 21), capMin: 100 };
  };

  /**
   * Each class: how many incidents, and how to set its account up (roles first, events later).
   * Every class gets `per` incidents (at least 2 from 200 accounts), except where the log is too
   * short for it. Its stream of randomness is keyed by the class, so adding a class leaves the
   * others' choices alone (though not which accounts they land on).
   */
  const incidentKinds: { cls: IncidentClass; count: number; setup: (acc: Account, r: Rng, i: number) => void }[] = [
    { cls: 'impossible_travel_login', count: per, setup: (acc, r) => later.push(() => p.impossibleTravel(acc, r, r.int(lo, hi))) },
    { cls: 'geo_surge', count: per, setup: (acc, r) => later.push(() => p.geoSurge(acc, r, r.int(lo, hi))) },
    { cls: 'brute_force_burst', count: per, setup: (acc, r, i) => later.push(() => p.bruteForce(acc, r, r.int(lo, hi), i % 2 === 0)) },
    { cls: 'unfamiliar_location', count: per, setup: (acc, r) => later.push(() => p.unfamiliarLocation(acc, r, r.int(lo, hi))) },
    { cls: 'login_rate_spike', count: per, setup: (acc, r) => later.push(() => p.loginRate(acc, r, r.int(Math.min(hi, Math.max(4, lo)), hi))) },
    { cls: 'concurrent_streams', count: per, setup: (acc, r) => later.push(() => p.concurrentStreams(acc, r, r.int(1, hi))) },
    { cls: 'sharing_households', count: per, setup: (acc, r) => {
      sharingAccount(acc, r);
      later.push(() => { p.accountSharing(acc, r); });
    } },
    { cls: 'viewing_binge', count: lightJumps > 0 ? half(per) : per, setup: (acc, r) => later.push(() => p.viewingBinge(acc, r, r.int(1, hi))) },
    { cls: 'viewing_jump', count: lightJumps, setup: (acc, r) => {
      acc.view = { kind: 'light', hour: r.real(19.5, 21) };
      later.push(() => p.viewingJump(acc, r, r.int(11, hi)));
    } },
    { cls: 'account_takeover', count: per, setup: (acc, r) => later.push(() => p.accountTakeover(acc, r, r.int(lo, hi))) },
    // Detection depth (issue 7): the same detectors' rules for attackers who stay under the usual thresholds.
    { cls: 'slow_brute_force', count: slowPer, setup: (acc, r) => later.push(() => p.slowGuessing(acc, r, r.int(slowLo, hi - 1), true)) },
    { cls: 'slow_guessing', count: slowPer, setup: (acc, r) => later.push(() => p.slowGuessing(acc, r, r.int(slowLo, hi - 1), false)) },
    { cls: 'short_hop', count: per, setup: (acc, r) => {
      const [a, b] = r.pick(SHORT_HOPS);
      const flip = r.chance(0.5);
      acc.home = flip ? b : a;
      const hop = flip ? a : b;
      later.push(() => p.shortHop(acc, r, r.int(1, hi), hop));
    } },
    { cls: 'stolen_session_stream', count: per, setup: (acc, r) => {
      // Beside the blackout after the episode: a home login still paired with the thief's city
      // would be a risky login to account_takeover, and a settings change after it a takeover.
      acc.sensitiveUpdates = false;
      later.push(() => p.stolenSession(acc, r, r.int(1, hi)));
    } },
    { cls: 'viewing_habit_jump', count: days >= 15 ? per : 0, setup: (acc, r) => {
      acc.view = { kind: 'light', hour: r.real(19.5, 21) };
      // Seven UTC days with viewing before the judged window, whatever the time zone, then 3–4 days.
      const daysOn = Math.min(r.int(3, 4), hi - 10);
      later.push(() => p.viewingHabitJump(acc, r, r.int(10, hi - daysOn), daysOn));
    } },
    { cls: 'sharing_recurrent', count: days >= 14 ? per : 0, setup: (acc, r) => {
      sharingAccount(acc, r);
      later.push(() => { p.sharingRecurrent(acc, r); });
    } },    // login_risk: about 1 % of accounts, on ordinary login habits (one to three a day).
    { cls: 'quiet_takeover', count: per === 0 ? 0 : Math.max(per, Math.round(o.accounts / 100)), setup: (acc, r) => {
      acc.loginsPerDay = [1, 3];
      later.push(() => quietTakeover(p, acc, r, r.int(lo, hi)));
    } },
    // Detection fidelity: young accounts, and brute force around the owner's own logins.
    { cls: 'viewing_young_jump', count: days >= 10 ? per : 0, setup: (acc, r) => {
      acc.view = { kind: 'light', hour: r.real(19.5, 21) };
      const lightDays = r.int(3, 6);
      const firstDay = r.int(1, days - lightDays - 4);
      acc.activeFrom = localTime(acc, o.start, firstDay, 6);
      later.push(() => p.viewingYoungJump(acc, r, firstDay, lightDays));
    } },
    { cls: 'login_rate_young_spike', count: days >= 5 ? per : 0, setup: (acc, r) => {
      const joined = r.int(1, days - 3);
      acc.activeFrom = localTime(acc, o.start, joined, r.real(7, 9));
      later.push(() => p.loginRateYoung(acc, r, joined + 1));
    } },
    { cls: 'brute_force_interleaved', count: per, setup: (acc, r, i) => later.push(() => p.bruteForceInterleaved(acc, r, r.int(lo, hi), i % 2 === 0)) },
    { cls: 'spread_guessing', count: per, setup: (acc, r) => later.push(() => p.spreadGuessing(acc, r, r.int(lo, hi))) },
  ];
  const rounds = Math.max(0, ...incidentKinds.map((k) => k.count));
  for (let i = 0; i < rounds; i++) {
    for (const { cls, count, setup } of incidentKinds) {
      if (i >= count) continue;
      const acc = take(`incident:${cls}`);
      if (!acc) break;
      established(acc);
      setup(acc, Rng.derive(o.seed, 'incident', cls, i), i);
    }
  }

  // A campus NAT needs 50+ accounts from one city; small populations go without.
  if (o.accounts >= 100) {
    const groups = Math.max(1, Math.floor(o.accounts / 2500));
    for (let g = 0; g < groups; g++) {
      const r = Rng.derive(o.seed, 'nat', g);
      const city = r.pick(CITIES.filter((c) => c.v4.length >= 4));
      const size = Math.min(70, Math.max(52, Math.round(o.accounts * 0.05)));
      const members: Account[] = [];
      for (let i = 0; i < size; i++) {
        const a = take('trap:shared_nat');
        if (!a) break;
        a.home = city;
        members.push(a);
      }
      if (members.length >= 52) {
        later.push(() => p.sharedNat(members, r, city));
        // Its own stream: the NAT's choices stay as they were without the campus network. The
        // network is reserved now, before any home address is handed out in its city.
        const rc = Rng.derive(o.seed, 'campus', g);
        const network = p.book.v4Network(rc, city);
        later.push(() => p.campusNetwork(members, rc, city, network));
      }
    }
  }

  if (o.accounts >= 10) {
    const travellers = days >= 10 ? trapCount(o.accounts, 0.02) : 0;
    for (let i = 0; i < travellers; i++) {
      const acc = take('trap:traveller');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'traveller', i);
      acc.devices = acc.devices.slice(0, 2);
      acc.sensitiveUpdates = false;
      if (acc.view.kind !== 'normal') acc.view = { kind: 'normal', pDay: 0.5, hour: r.real(19, 21), capMin: 210 };
      later.push(() => {
        const dest = r.pick(foreignCities(acc.home, acc.home.country, 1500, 12000));
        const stay = r.int(3, 6);
        const startDay = r.int(1, Math.max(1, Math.min(days - stay - 3, Math.floor(days / 2))));
        const back = p.trip(acc, r, dest, startDay, stay, 'one_trip_abroad');
        const stay2 = r.int(3, 5);
        const start2 = back + 2;
        if (start2 + stay2 + 2 < days) p.trip(acc, r, dest, start2, stay2, 'repeat_trip');
      });
    }

    // Two short trips to two countries: two extra places, each on 2–3 consecutive days. A household
    // rule without a span (two days anywhere) counts home + 2; one that needs recurrence, none.
    const twoTrips = days >= 21 ? trapCount(o.accounts, 0.01) : 0;
    for (let i = 0; i < twoTrips; i++) {
      const acc = take('trap:two_trips');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'two-trips', i);
      acc.devices = acc.devices.slice(0, 2);
      acc.sensitiveUpdates = false;
      if (acc.view.kind !== 'normal') acc.view = { kind: 'normal', pDay: 0.5, hour: r.real(19, 21), capMin: 210 };
      later.push(() => {
        const options = foreignCities(acc.home, acc.home.country, 1500, 12000);
        const d1 = r.pick(options);
        const rest = options.filter((c) => c.country !== d1.country);
        const d2 = r.pick(rest.length > 0 ? rest : CITIES.filter((c) => c.country !== d1.country && c.country !== acc.home.country));
        // Trip 1 is back by day ~8 (a long flight each way), trip 2 leaves 3–5 days later and
        // is back by day ~18: both fit a 21-day log.
        const back = p.trip(acc, r, d1, r.int(1, 3), r.int(2, 3), 'two_trips_abroad', '; trip 1 of 2');
        p.trip(acc, r, d2, back + r.int(3, 5), r.int(2, 3), 'two_trips_abroad', `; trip 2 of 2, after ${d1.city} (${d1.country})`);
      });
    }

    for (let i = 0; i < trapCount(o.accounts, 0.04); i++) {
      const acc = take('trap:family');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'family', i);
      acc.devices = homeDevices(r, acc.id, 4);
      acc.view = { kind: 'family', pDay: 0.8, hour: r.real(19, 20.5) };
      later.push(() => p.trap('family_screens', { accountId: acc.id }, o.start, p.end,
        ['concurrent_streams', 'account_sharing', 'viewing_anomaly'],
        `family of four devices (${acc.devices.map((d) => d.kind).join(', ')}) in ${acc.home.city}; three screens at once on many evenings`));
    }

    for (let i = 0; i < trapCount(o.accounts, 0.01); i++) {
      const acc = take('trap:country_level');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'coarse', i);
      const a = r.pick(COARSE);
      const b = r.pick(COARSE.filter((c) => c.country !== a.country && distanceKm(a, c) >= 3000));
      acc.home = r.pick(CITIES.filter((c) => c.country === a.country));
      later.push(() => p.countryLevel(acc, r, a, b));
    }

    for (let i = 0; i < trapCount(o.accounts, 0.03); i++) {
      const acc = take('trap:commuter');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'commuter', i);
      const pair = r.pick(COMMUTER_PAIRS);
      const flip = r.chance(0.5);
      acc.home = cityById(pair[flip ? 1 : 0]);
      const work = cityById(pair[flip ? 0 : 1]);
      if (acc.devices.length < 2) acc.devices = homeDevices(r, acc.id, 2);
      later.push(() => {
        acc.commute = { work, ip: p.book.v4(r, work) };
        p.trap('commuter', { accountId: acc.id }, o.start, p.end,
          ['impossible_travel', 'unfamiliar_location', 'geo_surge', 'account_sharing'],
          `lives in ${acc.home.city} ${acc.homeIps[0]}, works in ${work.city} ${acc.commute.ip} (${km(distanceKm(acc.home, work))}); weekday logins from both within the hour`);
      });
    }

    for (let i = 0; i < trapCount(o.accounts, 0.01); i++) {
      const acc = take('trap:heavy_viewer');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'heavy', i);
      acc.view = { kind: 'heavy', hour: r.real(14.5, 16) };
      later.push(() => p.trap('heavy_viewer', { accountId: acc.id }, o.start, p.end,
        ['viewing_anomaly', 'concurrent_streams'],
        `watches 7–8 h every day from local ${(acc.view as { hour: number }).hour.toFixed(1)}h on ${acc.devices[0]!.id} in ${acc.home.city}`));
    }

    for (let i = 0; i < trapCount(o.accounts, 0.03); i++) {
      const acc = take('trap:mistyper');
      if (!acc) break;
      acc.typo = 0.15;
      acc.loginsPerDay = [2, 3];
      later.push(() => p.trap('mistyper', { accountId: acc.id }, o.start, p.end,
        ['brute_force', 'login_rate_anomaly'],
        `mistypes the password on ~15% of logins (2–3 failures a week, each followed by a success)`));
    }

    // New accounts that watch 8.5–9.5 h a day from their first day: no habit to judge against
    // for a week, and after it the habit is exactly that. They join 6–8 days before the log ends:
    // the learning period is the trap, and later days would only add heartbeats.
    const newViewers = days >= 10 ? trapCount(o.accounts, 0.01) : 0;
    for (let i = 0; i < newViewers; i++) {
      const acc = take('trap:new_viewer');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'new-viewer', i);
      const hour = r.real(11, 12.5);
      acc.view = { kind: 'heavy', hour, minutes: [510, 570] };
      acc.activeFrom = localTime(acc, o.start, days - r.int(6, 8), 6);
      later.push(() => p.trap('new_account_viewer', { accountId: acc.id }, acc.activeFrom, p.end, ['viewing_anomaly'],
        `new account from ${iso(acc.activeFrom)}: watches 8.5–9.5 h every day from local ${hour.toFixed(1)}h on ${acc.devices[0]!.id} in ${acc.home.city}, with no earlier viewing to compare`));
    }

    planLoginRiskTraps(p, take, o.seed, o.accounts, later);

    const newcomers = days >= 5 ? trapCount(o.accounts, 0.02) : 0;
    for (let i = 0; i < newcomers; i++) {
      const acc = take('trap:new_account');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'newcomer', i);
      acc.sensitiveUpdates = false;
      later.push(() => p.newAccount(acc, r, r.int(1, days - 4)));
    }
  }

  // Detection fidelity: benign look-alikes of the new incident classes.
  if (o.accounts >= 10) {
    // Long evenings whose start wanders: a trailing 24 h often spans most of two of them.
    const evenings = days >= 10 ? trapCount(o.accounts, 0.01) : 0;
    for (let i = 0; i < evenings; i++) {
      const acc = take('trap:heavy_evening');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'heavy-evening', i);
      const v = { kind: 'evening' as const, hour: r.real(18, 20), spread: r.real(2, 3), minutes: [210, 330] as const, weekend: 1.6 };
      acc.view = v;
      later.push(() => p.trap('heavy_evening', { accountId: acc.id }, o.start, p.end, ['viewing_anomaly'],
        `long evenings (${v.minutes[0] / 60}–${v.minutes[1] / 60} h, ${v.weekend}× on Friday and Saturday) starting at local ${v.hour.toFixed(1)}h ± ${v.spread.toFixed(1)} h on ${acc.devices[0]!.id} in ${acc.home.city}: some 24 h windows hold most of two evenings`));
    }

    // Young accounts that watch a lot, and unevenly, from the day they join.
    const youngHeavy = days >= 10 ? trapCount(o.accounts, 0.01) : 0;
    for (let i = 0; i < youngHeavy; i++) {
      const acc = take('trap:young_heavy_viewer');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'young-heavy', i);
      const v = { kind: 'evening' as const, hour: r.real(12, 15), spread: 1, minutes: [360, 570] as const, weekend: 1 };
      acc.view = v;
      acc.activeFrom = localTime(acc, o.start, days - r.int(4, 9), 6);
      later.push(() => p.trap('young_heavy_viewer', { accountId: acc.id }, acc.activeFrom, p.end, ['viewing_anomaly'],
        `young account from ${iso(acc.activeFrom)}: watches 6–9.5 h a day from local ${v.hour.toFixed(1)}h ± 1 h on ${acc.devices[0]!.id} in ${acc.home.city}, from its first day`));
    }

    const mistypers = days >= 5 ? trapCount(o.accounts, 0.01) : 0;
    for (let i = 0; i < mistypers; i++) {
      const acc = take('trap:owner_mistypes');
      if (!acc) break;
      const r = Rng.derive(o.seed, 'owner-mistypes', i);
      if (acc.devices.length < 2) acc.devices = homeDevices(r, acc.id, 2);
      later.push(() => p.ownerMistypes(acc, r, r.int(1, days - 2), p.book.v4(r, acc.home)));
    }
  }

  // Attack networks too are reserved before home addresses (see AddressBook.v4Network).
  const stuffing = Array.from({ length: per }, (_, i) => {
    const r = Rng.derive(o.seed, 'incident', 'distributed_stuffing', i);
    return { r, network: p.book.v4Network(r, r.pick(CITIES)) };
  });
  assignHomeAddresses(o.seed, accounts, p.book);
  // Credential stuffing touches ordinary accounts only, once each: no other detector can fire.
  const victims = pool.slice();
  for (const fn of later) fn();
  for (let i = 0; i < per; i++) {
    p.credentialStuffing(Rng.derive(o.seed, 'incident', 'stuffing_single_ip', i), victims, i);
    p.distributedStuffing(stuffing[i]!.r, stuffing[i]!.network, victims, i);
  }

  markLoginRiskMayFire(p.incidents);
  p.incidents.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  p.incidents.forEach((inc, i) => (inc.id = `inc-${(i + 1).toString().padStart(3, '0')}`));
  p.traps.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0) || (a.id < b.id ? -1 : 1));
  p.traps.forEach((t, i) => (t.id = `trap-${(i + 1).toString().padStart(3, '0')}`));
  return { accounts, special: p.em.out, incidents: p.incidents, traps: p.traps, em: p.em };
}

