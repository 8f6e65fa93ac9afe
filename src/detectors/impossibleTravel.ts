import { z } from 'zod';
import { duration, parseDuration } from '../config/duration.js';
import type { FraudEvent } from '../events/types.js';
import { humanDistance, humanDuration, humanSpeed } from '../format/human.js';
import { cityKey, haversineKm, isPreciseFix } from '../geo/distance.js';
import type { GeoPoint } from '../geo/locator.js';
import { round } from '../windows/baseline.js';
import { defineDetector, type Detector } from './types.js';

/*
 * No two points on Earth are further apart than half its circumference (π × 6371.0088 km), so
 * a fix older than that distance at the speed limit can never be part of an impossible pair:
 * that bounds how long fixes are kept without a separate option.
 */
const HALF_EARTH_CIRCUMFERENCE_KM = 20_016;
const HOUR_MS = 3_600_000;

const options = z.strictObject({
  /** Travel speed (km/h) above which two fixes are impossible for one person. Default 900 (an airliner). */
  maxSpeedKmh: z.number().min(100).max(5000).default(900),
  /**
   * Distance (km) that must remain after subtracting both fixes' accuracy radii before a pair
   * is judged at all. Keeps database noise and neighbouring cities quiet. Default 500.
   */
  minDistanceKm: z.number().min(0).max(5000).default(500),
  /**
   * Accuracy radius (km) above which a location is country-level context, not a position fix:
   * it neither triggers nor replaces a stored fix. Default 250.
   */
  maxAccuracyKm: z.number().min(1).max(1000).default(250),
  /**
   * The distance floor (km) used instead of `minDistanceKm` when both fixes are accurate
   * (accuracy ≤ `preciseAccuracyKm`), so short hops between precisely located cities are caught.
   * Never above `minDistanceKm`; set it equal to `minDistanceKm` to turn short hops off. Default 100.
   */
  preciseMinDistanceKm: z.number().min(0).max(5000).default(100),
  /** Accuracy radius (km) at or below which a fix counts as accurate for `preciseMinDistanceKm`. Default 50. */
  preciseAccuracyKm: z.number().min(1).max(1000).default(50),
  /**
   * Also take position fixes from playback starts and heartbeats, not only successful logins,
   * so a hijacked session (stolen cookie, no login) streaming from elsewhere is caught. Default true.
   */
  playbackFixes: z.boolean().default(true),
  /**
   * Distinct places (cities) whose latest fix is remembered per account. More than one lets a
   * foreign stream interleaved with the owner's home stream be compared with home, not only with
   * itself. Default 4.
   */
  maxPlaces: z.number().int().min(1).max(16).default(4),
  /**
   * The same two places alert again only after this long. A stream from another city keeps
   * sending heartbeats: that is one episode, not an alert every cooldown. A new place still
   * alerts at once. Default 24h.
   */
  repeatAfter: duration('0s', '30d').default('24h'),
});

type FixKind = 'login' | 'playback_start' | 'playback_heartbeat';

/** The latest fix from one place (city). Mutated in place when the same place reports again. */
interface Fix {
  ts: number;
  eventId: string;
  kind: FixKind;
  ip: string;
  /** null, not undefined, when unknown (logins carry no session): evidence keeps the key. */
  deviceId: string | null;
  sessionId: string | null;
  /**
   * Where the address was located: the locator's own point (plain, never mutated data), shared
   * with its cache and every fix from that address, rather than a copy of its six fields.
   */
  geo: GeoPoint;
  /** The place this fix last alerted against (its cityKey, `country/region/city`), and when: one episode, one alert. */
  alertedWith: string | null;
  alertedAt: number;
}

/**
 * At most `maxPlaces` fixes (≤ 16), one per city, in no particular order. The array itself is
 * the state (no wrapper object), grown by concat so its backing store has no spare capacity:
 * most accounts have one place, and every byte counts per account.
 */
type State = Fix[];

/** Shared, never mutated: the loop below only splices arrays that have entries. */
const NO_FIXES: Fix[] = [];

function samePlace(fix: Fix, g: GeoPoint): boolean {
  const p = fix.geo;
  return p === g || (p.city === g.city && p.region === g.region && p.country === g.country);
}

/** Whether `f` already alerted against the place `other` within `repeatAfterMs` of `ts`. */
function alertedRecently(f: Fix | undefined, other: string, ts: number, repeatAfterMs: number): boolean {
  return f !== undefined && f.alertedWith === other && Math.abs(ts - f.alertedAt) < repeatAfterMs;
}

function fixKind(ev: FraudEvent): FixKind {
  if (ev.type === 'playback') return ev.action === 'start' ? 'playback_start' : 'playback_heartbeat';
  return 'login';
}

const KIND_TEXT: Record<FixKind, string> = { login: 'login', playback_start: 'playback start', playback_heartbeat: 'playback heartbeat' };

function describeFix(f: Fix) {
  const g = f.geo;
  return {
    at: new Date(f.ts).toISOString(),
    event: f.kind,
    ip: f.ip,
    deviceId: f.deviceId,
    sessionId: f.sessionId,
    country: g.country,
    region: g.region,
    city: g.city,
    lat: round(g.lat, 4),
    lon: round(g.lon, 4),
    accuracyKm: round(g.accuracyKm),
  };
}

function setFix(f: Fix, ev: FraudEvent, g: GeoPoint, sessionId: string | null): void {
  f.ts = ev.ts;
  f.eventId = ev.eventId;
  f.kind = fixKind(ev);
  f.ip = ev.ip as string;
  f.deviceId = ev.deviceId ?? null;
  f.sessionId = sessionId;
  f.geo = g;
}

function toFix(ev: FraudEvent, g: GeoPoint, sessionId: string | null): Fix {
  return {
    ts: ev.ts,
    eventId: ev.eventId,
    kind: fixKind(ev),
    ip: ev.ip as string,
    deviceId: ev.deviceId ?? null,
    sessionId,
    geo: g,
    alertedWith: null,
    alertedAt: 0,
  };
}

function placeText(f: Fix): string {
  return `${f.geo.city}, ${f.geo.country} (${f.ip})`;
}

/**
 * impossible_travel: two position fixes of one account further apart than anyone can travel in
 * the time between them. Fixes are successful logins and (optionally) playback, so a hijacked
 * session is caught as well as a second login.
 */
export const impossibleTravel = defineDetector({
  id: 'impossible_travel',
  keyKind: 'account',
  defaultSeverity: 'high',
  description: 'Two precise location fixes (logins, playback) of one account further apart than a plane could fly in the time between them.',
  options,
  create(o): Detector<State> {
    const maxSpeedKmh = o.maxSpeedKmh;
    const minDistanceKm = o.minDistanceKm;
    const preciseMinDistanceKm = Math.min(o.preciseMinDistanceKm, o.minDistanceKm);
    const maxAccuracyKm = o.maxAccuracyKm;
    const preciseAccuracyKm = o.preciseAccuracyKm;
    const playbackFixes = o.playbackFixes;
    const maxPlaces = o.maxPlaces;
    const repeatAfterMs = parseDuration(o.repeatAfter);
    const reachMs = Math.ceil((HALF_EARTH_CIRCUMFERENCE_KM / maxSpeedKmh) * HOUR_MS);

    const keyOf = (ev: FraudEvent): string | undefined => {
      if (ev.type === 'login') return ev.success ? ev.accountId : undefined;
      if (ev.type === 'playback') return playbackFixes && ev.action !== 'stop' ? ev.accountId : undefined;
      return undefined;
    };

    return {
      id: 'impossible_travel',
      keyKind: 'account',
      stateVersion: 4,
      retentionMs: reachMs,
      consumes: playbackFixes ? ['login', 'playback'] : ['login'],
      keyOf,
      onEvent(ev, state, ctx, emit) {
        const g = ctx.geo;
        // Country-level locations say nothing about where the person is within hundreds of km.
        if (!isPreciseFix(g, maxAccuracyKm)) return state;
        const sessionId = ev.type === 'playback' ? ev.sessionId : null;

        const fixes: Fix[] = state ?? NO_FIXES;
        let same: Fix | undefined;
        let best: Fix | undefined;
        let bestRaw = 0;
        let bestEff = 0;
        let bestFloor = 0;
        let bestPrecise = false;
        let bestSpeed = -1;
        for (let i = fixes.length - 1; i >= 0; i--) {
          const f = fixes[i]!;
          // Too old to be part of an impossible pair with this or any later fix.
          if (f.ts < ev.ts - reachMs) {
            fixes.splice(i, 1);
            continue;
          }
          if (samePlace(f, g)) {
            same = f;
            continue;
          }
          // One playback session is one device streaming: a jump within it is its address being
          // re-geolocated (mobile gateway, VPN toggle), not a second person.
          if (sessionId !== null && f.sessionId === sessionId) continue;
          const p = f.geo;
          const raw = haversineKm(p.lat, p.lon, g.lat, g.lon);
          const eff = raw - p.accuracyKm - g.accuracyKm;
          const precise = p.accuracyKm <= preciseAccuracyKm && g.accuracyKm <= preciseAccuracyKm;
          const floor = precise ? preciseMinDistanceKm : minDistanceKm;
          if (eff <= floor) continue;
          // Late events are compared too: the pair's order does not change its speed.
          const dt = Math.abs(ev.ts - f.ts);
          const speed = dt === 0 ? Number.POSITIVE_INFINITY : eff / (dt / HOUR_MS);
          if (speed > maxSpeedKmh && speed > bestSpeed) {
            best = f;
            bestRaw = raw;
            bestEff = eff;
            bestFloor = floor;
            bestPrecise = precise;
            bestSpeed = speed;
          }
        }

        // Either side may remember the episode: the foreign stream's heartbeats and the home
        // stream's heartbeats both pair the same two places.
        const here = best === undefined ? '' : cityKey(g)!;
        const there = best === undefined ? '' : cityKey(best.geo)!;
        const repeat = best !== undefined && (alertedRecently(best, here, ev.ts, repeatAfterMs) || alertedRecently(same, there, ev.ts, repeatAfterMs));
        let alertedAgainst: string | null = null;
        if (best !== undefined) {
          if (!repeat) {
            best.alertedWith = here;
            best.alertedAt = ev.ts;
            alertedAgainst = there;
          }
          const current = toFix(ev, g, sessionId);
          const [from, to] = best.ts <= current.ts ? [best, current] : [current, best];
          const dt = to.ts - from.ts;
          const minutes = dt / 60_000;
          const when = dt === 0 ? 'at the same moment' : `${humanDuration(dt)} later`;
          const speedText = dt === 0 ? 'impossible at any speed' : `an implied ${humanSpeed(bestSpeed)}`;
          emit({
            detector: 'impossible_travel',
            key: ev.accountId,
            summary:
              `Account ${ev.accountId}: ${KIND_TEXT[from.kind]} from ${placeText(from)} then ${KIND_TEXT[to.kind]} from ${placeText(to)} ${when}: ` +
              `${humanDistance(bestEff)} apart after allowing for both locations' accuracy, ${speedText} against a limit of ${humanSpeed(maxSpeedKmh)}.`,
            evidence: {
              from: describeFix(from),
              to: describeFix(to),
              distanceKm: round(bestRaw),
              effectiveDistanceKm: round(bestEff),
              elapsedMinutes: round(minutes),
              speedKmh: dt === 0 ? null : round(bestSpeed, 0),
              maxSpeedKmh,
              minDistanceKm: bestFloor,
              distanceFloor: bestPrecise ? 'precise' : 'standard',
            },
            eventIds: [best.eventId, ev.eventId],
            // A repeat of the episode is still a risky login for account_takeover.
            signalOnly: repeat,
          });
        }

        if (same !== undefined) {
          // Heartbeats land here: overwrite in place, no allocation. A late fix must not
          // overwrite a newer one from the same place.
          if (ev.ts >= same.ts) setFix(same, ev, g, sessionId);
          if (alertedAgainst !== null) {
            same.alertedWith = alertedAgainst;
            same.alertedAt = ev.ts;
          }
          return fixes;
        }
        const fresh = toFix(ev, g, sessionId);
        if (alertedAgainst !== null) {
          fresh.alertedWith = alertedAgainst;
          fresh.alertedAt = ev.ts;
        }
        const next = fixes.concat(fresh);
        if (next.length > maxPlaces) {
          let oldest = 0;
          for (let i = 1; i < next.length; i++) if (next[i]!.ts < next[oldest]!.ts) oldest = i;
          next.splice(oldest, 1);
        }
        return next;
      },
    };
  },
});
