import type { AccountChange, PlaybackAction } from '../events/types.js';
import { haversineKm } from '../geo/distance.js';
import type { Rng } from './random.js';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const HEARTBEAT_MS = 5 * MINUTE;

/**
 * One event before serialisation. `seq` is the creation order and breaks ties between equal
 * timestamps, so the sort — and therefore the output — never depends on engine sort details.
 */
export interface Ev {
  ts: number;
  seq: number;
  type: 'login' | 'playback' | 'account_update';
  accountId: string;
  ip?: string | undefined;
  deviceId?: string | undefined;
  userAgent?: string | undefined;
  success?: boolean;
  sessionId?: string;
  action?: PlaybackAction;
  titleId?: string;
  change?: AccountChange;
}

export function byTime(a: Ev, b: Ev): number {
  return a.ts - b.ts || a.seq - b.seq;
}

export type DeviceKind = 'tv' | 'phone' | 'tablet' | 'laptop';

export interface Device {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly ua: string;
}

const USER_AGENTS: Record<DeviceKind | 'bot', readonly string[]> = {
  tv: ['Streamly/4.2 (Tizen 7.0; Samsung TV)', 'Streamly/4.2 (webOS 6.0; LG TV)', 'Streamly/4.1 (Android TV 12)', 'Streamly/4.2 (tvOS 17.2)'],
  phone: ['Streamly/8.3 (iPhone; iOS 17.2)', 'Streamly/8.3 (Android 14; Pixel 8)', 'Streamly/8.2 (Android 13; SM-S911B)'],
  tablet: ['Streamly/8.3 (iPad; iPadOS 17.2)', 'Streamly/8.2 (Android 13; SM-X710)'],
  laptop: ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0', 'Mozilla/5.0 (Macintosh; Mac OS X 14_2) Safari/17.2', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0'],
  bot: ['python-requests/2.31.0', 'curl/8.4.0', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)', 'okhttp/4.12.0'],
};

export function userAgent(rng: Rng, kind: DeviceKind | 'bot'): string {
  return rng.pick(USER_AGENTS[kind]);
}

/** Anything with coordinates: a pool city, a coarse block. */
export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

export function distanceKm(a: LatLon, b: LatLon): number {
  return haversineKm(a.lat, a.lon, b.lat, b.lon);
}

/**
 * Hours a traveller needs between two places so that the trip is plausible to any reasonable
 * impossible-travel rule: 700 km/h including the airport, never less than two hours.
 */
export function plausibleTravelHours(a: LatLon, b: LatLon): number {
  return Math.max(2, distanceKm(a, b) / 700 + 1);
}

/** Builds events with monotonically increasing `seq` into whatever array `out` currently is. */
export class Emitter {
  private seq = 0;
  out: Ev[] = [];

  private push(ev: Omit<Ev, 'seq'>): Ev {
    const e = ev as Ev;
    e.seq = this.seq++;
    this.out.push(e);
    return e;
  }

  login(ts: number, accountId: string, ip: string, device: Device | undefined, success: boolean, ua?: string): Ev {
    return this.push({
      ts: Math.round(ts),
      type: 'login',
      accountId,
      ip,
      deviceId: device?.id,
      userAgent: ua ?? device?.ua,
      success,
    });
  }

  update(ts: number, accountId: string, change: AccountChange, device: Device | undefined, ip: string | undefined): Ev {
    return this.push({
      ts: Math.round(ts),
      type: 'account_update',
      accountId,
      ip,
      deviceId: device?.id,
      userAgent: device?.ua,
      change,
    });
  }

  /**
   * A playback session: start, a heartbeat every five minutes (a couple of seconds of jitter, as
   * real clients have), and a stop at `end` unless `stop` is false — then the session just ends
   * after its last heartbeat, as when a TV loses power.
   */
  session(
    rng: Rng,
    accountId: string,
    device: Device,
    ip: string,
    start: number,
    end: number,
    sessionId: string,
    titleId: string,
    stop: boolean,
  ): void {
    const base = { type: 'playback' as const, accountId, ip, deviceId: device.id, sessionId, titleId };
    this.push({ ...base, ts: Math.round(start), action: 'start', userAgent: device.ua });
    // Stop a few seconds clear of the last heartbeat so jitter never puts a heartbeat after it.
    for (let t = start + HEARTBEAT_MS; t < end - 5 * SECOND; t += HEARTBEAT_MS) {
      this.push({ ...base, ts: Math.round(t + rng.int(-2000, 2000)), action: 'heartbeat' });
    }
    if (stop) this.push({ ...base, ts: Math.round(end), action: 'stop' });
  }
}

export function titleId(rng: Rng): string {
  return `t-${rng.int(1, 4000).toString().padStart(4, '0')}`;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
