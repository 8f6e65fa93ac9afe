import type { AccountChange } from '../events/types.js';
import { type Account, inBlackout, localTime, stayAt } from './accounts.js';
import { DAY, type Device, type Emitter, HOUR, MINUTE, SECOND, titleId } from './model.js';
import { Rng } from './random.js';

export interface BackgroundContext {
  readonly seed: number;
  readonly start: number;
  /** Multiplier on how often ordinary accounts watch (the demo preset turns it down). */
  readonly viewScale: number;
  readonly em: Emitter;
}

/** A no-stop session counts as active for 15 minutes after its last heartbeat. */
const SESSION_TAIL = 15 * MINUTE;

function localDayOfWeek(acc: Account, t: number): number {
  return new Date(t + acc.home.utcOffset * HOUR).getUTCDay();
}

function localHour(acc: Account, t: number): number {
  const ms = (((t + acc.home.utcOffset * HOUR) % DAY) + DAY) % DAY;
  return ms / HOUR;
}

function isWorkTime(acc: Account, t: number): boolean {
  const dow = localDayOfWeek(acc, t);
  const h = localHour(acc, t);
  return dow >= 1 && dow <= 5 && h >= 8.5 && h <= 17.25;
}

/** Where the account is at `t`, as the address and device an event there would carry. */
export function whereAt(ctx: BackgroundContext, acc: Account, t: number, rng: Rng, device?: Device): { ip: string; device: Device } {
  const stay = stayAt(acc, t);
  if (stay) return { ip: stay.ip, device: stay.device };
  const dev = device ?? rng.pick(acc.devices);
  if (acc.coarse) {
    const slot = Math.floor((t - ctx.start) / acc.coarse.periodMs + acc.coarse.phase);
    return { ip: acc.coarse.ips[slot % 2]!, device: dev };
  }
  if (acc.commute && isWorkTime(acc, t)) return { ip: acc.commute.ip, device: device ?? acc.devices[1] ?? acc.devices[0]! };
  const v6 = acc.homeIps[1];
  const ip = v6 && (dev.kind === 'phone' || dev.kind === 'laptop') && rng.chance(0.7) ? v6 : acc.homeIps[0]!;
  return { ip, device: dev };
}

function usable(ctx: BackgroundContext, acc: Account, from: number, to: number): boolean {
  return from >= acc.activeFrom && from >= ctx.start && !inBlackout(acc, from, to);
}

function backgroundLogin(ctx: BackgroundContext, acc: Account, t: number, rng: Rng, device?: Device): void {
  if (!usable(ctx, acc, t - MINUTE, t + MINUTE)) return;
  const { ip, device: dev } = whereAt(ctx, acc, t, rng, device);
  if (rng.chance(acc.typo)) {
    // A mistyped password, retyped a few seconds later; occasionally twice.
    const failures = rng.chance(0.2) ? 2 : 1;
    let ft = t;
    const fails: number[] = [];
    for (let i = 0; i < failures; i++) fails.unshift((ft -= rng.int(6, 30) * SECOND));
    for (const f of fails) ctx.em.login(f, acc.id, ip, dev, false);
  }
  ctx.em.login(t, acc.id, ip, dev, true);
}

/** Whether a session [s, e] can be played in the background without touching a trip or incident. */
function sessionFits(ctx: BackgroundContext, acc: Account, s: number, e: number): boolean {
  if (!usable(ctx, acc, s - MINUTE, e + SESSION_TAIL)) return false;
  // Trips own their viewing (explicit, at the abroad address): no background sessions near one.
  for (const st of acc.stays) if (s < st.to + HOUR && e + SESSION_TAIL > st.from - HOUR) return false;
  return true;
}

function playSession(ctx: BackgroundContext, acc: Account, rng: Rng, device: Device, s: number, e: number, sid: string): void {
  const { ip } = whereAt(ctx, acc, s, rng, device);
  ctx.em.session(rng, acc.id, device, ip, s, e, sid, titleId(rng), rng.chance(0.85));
}

function backgroundViewing(ctx: BackgroundContext, acc: Account, day: number, rng: Rng): void {
  const v = acc.view;
  const sid = (k: number) => `${acc.id.replace('acct-', 'ses-')}-${day}-${k}`;
  const at = (h: number) => localTime(acc, ctx.start, day, h);
  switch (v.kind) {
    case 'none':
      return;
    case 'normal': {
      if (!rng.chance(v.pDay * ctx.viewScale)) return;
      const first = Math.min(v.capMin, rng.int(60, 180)) * MINUTE;
      const s1 = at(v.hour + rng.real(-0.5, 0.5));
      const d1 = rng.pick(acc.devices);
      if (sessionFits(ctx, acc, s1, s1 + first)) playSession(ctx, acc, rng, d1, s1, s1 + first, sid(1));
      const room = v.capMin * MINUTE - first;
      if (room >= 40 * MINUTE && acc.devices.length > 1 && rng.chance(0.3)) {
        // A second viewer, overlapping or after: never more than two screens for a plain account.
        const len = rng.int(40, Math.min(120, room / MINUTE)) * MINUTE;
        const s2 = s1 + rng.int(0, 60) * MINUTE;
        const d2 = rng.pick(acc.devices.filter((d) => d !== d1));
        if (sessionFits(ctx, acc, s2, s2 + len)) playSession(ctx, acc, rng, d2, s2, s2 + len, sid(2));
      }
      return;
    }
    case 'light': {
      const s = at(v.hour + rng.real(-0.3, 0.3));
      const e = s + rng.int(45, 75) * MINUTE;
      if (sessionFits(ctx, acc, s, e)) playSession(ctx, acc, rng, acc.devices[0]!, s, e, sid(1));
      return;
    }
    case 'heavy': {
      const [lo, hi] = v.minutes ?? [420, 480];
      let total = rng.int(lo, hi) * MINUTE;
      // A steady start hour: with jitter, a trailing 24-hour window would catch one day's tail
      // and the next day's head and read well above the daily median.
      let s = at(v.hour + rng.real(-0.1, 0.1));
      let k = 1;
      while (total > 20 * MINUTE) {
        const len = k < 3 ? Math.min(total, rng.int(150, 240) * MINUTE) : total;
        if (sessionFits(ctx, acc, s, s + len)) playSession(ctx, acc, rng, acc.devices[0]!, s, s + len, sid(k));
        total -= len;
        s += len + rng.int(10, 20) * MINUTE;
        k++;
      }
      return;
    }
    case 'evening': {
      // One long session, sometimes split in two by a break; the start wanders day to day.
      const s = at(v.hour + rng.real(-v.spread, v.spread));
      const dow = localDayOfWeek(acc, s);
      const total = rng.int(v.minutes[0], v.minutes[1]) * MINUTE * (dow === 5 || dow === 6 ? v.weekend : 1);
      const split = total > 3 * HOUR && rng.chance(0.5) ? rng.real(0.35, 0.65) : 1;
      const first = total * split;
      if (sessionFits(ctx, acc, s, s + first)) playSession(ctx, acc, rng, acc.devices[0]!, s, s + first, sid(1));
      if (split < 1) {
        const s2 = s + first + rng.int(10, 30) * MINUTE;
        if (sessionFits(ctx, acc, s2, s2 + total - first)) playSession(ctx, acc, rng, acc.devices[0]!, s2, s2 + total - first, sid(2));
      }
      return;
    }
    case 'family': {
      // Trap behaviour must show up even when the demo turns viewing down, so floor the odds.
      if (!rng.chance(Math.max(v.pDay * ctx.viewScale, 0.12))) return;
      const t0 = at(v.hour + rng.real(-0.5, 0.5));
      const screens = rng.sample(acc.devices, 3);
      screens.forEach((dev, i) => {
        const s = t0 + rng.int(0, 20) * MINUTE;
        const e = s + rng.int(60, 150) * MINUTE;
        if (sessionFits(ctx, acc, s, e)) playSession(ctx, acc, rng, dev, s, e, sid(i + 1));
      });
      return;
    }
  }
}

const CHANGES: readonly (readonly [AccountChange, number])[] = [
  ['profile', 45],
  ['password', 20],
  ['email', 12],
  ['phone', 12],
  ['payment', 11],
];

function backgroundUpdate(ctx: BackgroundContext, acc: Account, day: number, rng: Rng): void {
  const t = localTime(acc, ctx.start, day, rng.real(9, 22));
  if (!usable(ctx, acc, t - 15 * MINUTE, t + HOUR) || stayAt(acc, t - 15 * MINUTE) || stayAt(acc, t)) return;
  if (acc.commute && isWorkTime(acc, t)) return;
  const device = rng.pick(acc.devices);
  const { ip } = whereAt(ctx, acc, t, rng, device);
  const change = acc.sensitiveUpdates ? rng.weighted(CHANGES) : 'profile';
  // People change settings right after signing in; the login is ordinary (home device, home address).
  ctx.em.login(t - rng.int(2, 10) * MINUTE, acc.id, ip, device, true);
  ctx.em.update(t, acc.id, change, device, rng.chance(0.9) ? ip : undefined);
}

/** Everything an account does on its own on one (local) day. */
export function backgroundDay(ctx: BackgroundContext, acc: Account, day: number): void {
  if (localTime(acc, ctx.start, day + 1, 0) <= acc.activeFrom) return;
  const rng = Rng.derive(ctx.seed, 'day', acc.idx, day);
  const [lo, hi] = acc.loginsPerDay;
  const n = rng.int(lo, hi);
  for (let i = 0; i < n; i++) backgroundLogin(ctx, acc, localTime(acc, ctx.start, day, rng.real(7, 23.5)), rng);

  if (acc.commute) {
    const t = localTime(acc, ctx.start, day, 7 + rng.real(0, 0.6));
    const dow = localDayOfWeek(acc, t);
    if (dow >= 1 && dow <= 5 && usable(ctx, acc, t - HOUR, t + 2 * HOUR)) {
      // Leave home, sign in again at the office well within the hour: tens of km, never travel.
      const phone = acc.devices[1] ?? acc.devices[0]!;
      ctx.em.login(t, acc.id, acc.homeIps[0]!, phone, true);
      ctx.em.login(t + rng.int(35, 55) * MINUTE, acc.id, acc.commute.ip, phone, true);
    }
  }

  if (acc.coarse && rng.chance(0.35)) {
    // A quick hop between the two coarse addresses: thousands of km apart "on paper".
    const t = localTime(acc, ctx.start, day, rng.real(9, 21));
    if (usable(ctx, acc, t - MINUTE, t + 2 * HOUR)) {
      const dev = acc.devices[0]!;
      ctx.em.login(t, acc.id, acc.coarse.ips[0], dev, true);
      ctx.em.login(t + rng.int(15, 60) * MINUTE, acc.id, acc.coarse.ips[1], dev, true);
    }
  }

  backgroundViewing(ctx, acc, day, rng);
  if (rng.chance(acc.updateRate)) backgroundUpdate(ctx, acc, day, rng);
}
