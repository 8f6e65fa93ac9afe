import { z } from 'zod';
import { duration, formatDuration, parseDuration } from '../config/duration.js';
import type { FraudEvent } from '../events/types.js';
import { humanDuration } from '../format/human.js';
import { round } from '../windows/baseline.js';
import { defineDetector, type Detector } from './types.js';

/** Countries held per account. Above it the least recently seen goes: a bound under attack traffic. */
const MAX_COUNTRIES = 16;

const options = z.strictObject({
  /** Distinct countries of successful logins within `window` that raise an alert. Default 3. */
  minCountries: z.number().int().min(2).max(MAX_COUNTRIES).default(3),
  /** The sliding event-time window the countries must fall in. Default 1h. */
  window: duration('1m', '24h').default('1h'),
});

/**
 * One country seen within the window: its first and latest login there. Only those two are
 * kept, so when the first slides out of the window while later ones remain, the latest stands
 * in for it (the logins in between are not remembered).
 */
interface CountrySeen {
  country: string;
  firstTs: number;
  firstIp: string;
  firstId: string;
  lastTs: number;
  lastIp: string;
  lastId: string;
}

/**
 * At most MAX_COUNTRIES entries, one per country, in no particular order. The array is the
 * state (no wrapper), grown by concat so it has no spare capacity: most accounts have one entry.
 */
type State = CountrySeen[];

/** Shared, never mutated: the loop below only splices arrays that have entries. */
const NO_COUNTRIES: CountrySeen[] = [];

function clockTime(ts: number): string {
  return new Date(ts).toISOString().slice(11, 16);
}

/**
 * geo_surge: successful logins on one account from several countries within a short window,
 * which one person cannot produce. Country-level geolocation is enough: the country is known.
 */
export const geoSurge = defineDetector({
  id: 'geo_surge',
  keyKind: 'account',
  defaultSeverity: 'high',
  description: 'Successful logins on one account from N or more distinct countries within a window.',
  options,
  create(o): Detector<State> {
    const windowMs = parseDuration(o.window);
    const minCountries = o.minCountries;
    return {
      id: 'geo_surge',
      keyKind: 'account',
      stateVersion: 2,
      retentionMs: windowMs,
      consumes: ['login'],
      keyOf: (ev: FraudEvent) => (ev.type === 'login' && ev.success ? ev.accountId : undefined),
      onEvent(ev, state, ctx, emit) {
        const g = ctx.geo;
        if (g === null || ev.type !== 'login') return state;
        const countries: CountrySeen[] = state ?? NO_COUNTRIES;

        // The window ends at the newest login held, so a late login is judged against the
        // same window as the logins around it, and one older than that window changes nothing.
        let newest = ev.ts;
        for (let i = 0; i < countries.length; i++) if (countries[i]!.lastTs > newest) newest = countries[i]!.lastTs;
        const cutoff = newest - windowMs;
        if (ev.ts < cutoff) return state;

        let entry: CountrySeen | undefined;
        for (let i = countries.length - 1; i >= 0; i--) {
          const c = countries[i]!;
          if (c.lastTs < cutoff) {
            countries.splice(i, 1);
            continue;
          }
          if (c.firstTs < cutoff) {
            c.firstTs = c.lastTs;
            c.firstIp = c.lastIp;
            c.firstId = c.lastId;
          }
          if (c.country === g.country) entry = c;
        }

        if (entry !== undefined) {
          if (ev.ts < entry.firstTs) {
            entry.firstTs = ev.ts;
            entry.firstIp = ev.ip;
            entry.firstId = ev.eventId;
          }
          if (ev.ts >= entry.lastTs) {
            entry.lastTs = ev.ts;
            entry.lastIp = ev.ip;
            entry.lastId = ev.eventId;
          }
          // Only a country joining the window grows the surge; a repeat login is no new evidence
          // and would mark the owner's own logins as risky for account_takeover.
          return countries;
        }

        const seen: CountrySeen = { country: g.country, firstTs: ev.ts, firstIp: ev.ip, firstId: ev.eventId, lastTs: ev.ts, lastIp: ev.ip, lastId: ev.eventId };
        // One country is no surge (minCountries ≥ 2): the common case, a home login, stops here.
        if (countries.length === 0) return [seen];
        const next = countries.concat(seen);
        if (next.length > MAX_COUNTRIES) {
          let stalest = 0;
          for (let i = 1; i < next.length; i++) if (next[i]!.lastTs < next[stalest]!.lastTs) stalest = i;
          next.splice(stalest, 1);
        }

        if (next.length >= minCountries) {
          const ordered = next.slice().sort((a, b) => a.firstTs - b.firstTs || (a.country < b.country ? -1 : 1));
          const spanMs = ordered[ordered.length - 1]!.firstTs - ordered[0]!.firstTs;
          const eventIds: string[] = [];
          for (const c of ordered) if (c.firstId !== ev.eventId) eventIds.push(c.firstId);
          eventIds.push(ev.eventId);
          emit({
            detector: 'geo_surge',
            key: ev.accountId,
            summary:
              `Successful logins on account ${ev.accountId} from ${ordered.length} countries within ${humanDuration(spanMs)} ` +
              `(threshold ${minCountries} in ${formatDuration(windowMs)}): ` +
              ordered.map((c) => `${c.country} at ${clockTime(c.firstTs)} UTC from ${c.firstIp}`).join(', ') +
              '.',
            evidence: {
              countries: ordered.map((c) => ({ country: c.country, firstAt: new Date(c.firstTs).toISOString(), ip: c.firstIp })),
              distinctCountries: ordered.length,
              spanMinutes: round(spanMs / 60_000),
              minCountries,
              window: formatDuration(windowMs),
            },
            eventIds,
          });
        }
        return next;
      },
    };
  },
});
