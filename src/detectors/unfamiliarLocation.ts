import { z } from 'zod';
import { duration, formatDuration, parseDuration } from '../config/duration.js';
import type { FraudEvent } from '../events/types.js';
import { round } from '../windows/baseline.js';
import { defineDetector, type Detector } from './types.js';

const DAY_MS = 86_400_000;

const options = z.strictObject({
  /** Successful logins after which the account's countries are considered learned. Default 5. */
  minLogins: z.number().int().min(1).max(1000).default(5),
  /** Time since the account's first login after which its countries are considered learned, whatever the count. Default 7d. */
  minHistory: duration('1h', '365d').default('7d'),
  /**
   * How long a country is remembered after the account's latest login from it. An account silent
   * for this long starts learning afresh. Default 90d.
   */
  historyWindow: duration('1d', '365d').default('90d'),
  /** Countries remembered per account; above it the least recently seen is forgotten. Default 16. */
  maxCountries: z.number().int().min(1).max(64).default(16),
});

/**
 * The account's login history: when it started, how many successful logins since, and the
 * countries seen with their latest login time (parallel arrays, at most `maxCountries` ≤ 64).
 */
interface State {
  firstTs: number;
  logins: number;
  countries: string[];
  lastSeen: number[];
}

/**
 * unfamiliar_location: a successful login from a country the account has never used, once the
 * account has enough history to know its usual countries. Context for an analyst (low), and a
 * risk signal account_takeover builds on.
 */
export const unfamiliarLocation = defineDetector({
  id: 'unfamiliar_location',
  keyKind: 'account',
  defaultSeverity: 'low',
  description: 'A successful login from a country never seen for an account that has a learning history.',
  options,
  create(o): Detector<State> {
    const minLogins = o.minLogins;
    const minHistoryMs = parseDuration(o.minHistory);
    const historyMs = parseDuration(o.historyWindow);
    const maxCountries = o.maxCountries;
    return {
      id: 'unfamiliar_location',
      keyKind: 'account',
      stateVersion: 1,
      retentionMs: historyMs,
      keyOf: (ev: FraudEvent) => (ev.type === 'login' && ev.success ? ev.accountId : undefined),
      onEvent(ev, state, ctx, emit) {
        const g = ctx.geo;
        if (g === null) return state;
        const country = g.country;

        let s = state;
        if (s !== undefined) {
          // Forget countries not used within the horizon; an account that forgot them all is new again.
          const cutoff = ev.ts - historyMs;
          for (let i = s.countries.length - 1; i >= 0; i--) {
            if (s.lastSeen[i]! < cutoff) {
              s.countries.splice(i, 1);
              s.lastSeen.splice(i, 1);
            }
          }
          if (s.countries.length === 0) s = undefined;
        }
        if (s === undefined) return { firstTs: ev.ts, logins: 1, countries: [country], lastSeen: [ev.ts] };

        const known = s.countries.indexOf(country);
        if (known >= 0) {
          if (ev.ts > s.lastSeen[known]!) s.lastSeen[known] = ev.ts;
        } else {
          const historyAgeMs = ev.ts - s.firstTs;
          if (s.logins >= minLogins || historyAgeMs >= minHistoryMs) {
            const city = g.city ? `${g.city}, ` : '';
            emit({
              detector: 'unfamiliar_location',
              key: ev.accountId,
              summary:
                `Successful login on account ${ev.accountId} from ${city}${country} (${ev.ip}), a country not seen in its ` +
                `${s.logins} logins over ${round(historyAgeMs / DAY_MS)} days (known: ${s.countries.join(', ')}).`,
              evidence: {
                country,
                region: g.region,
                city: g.city,
                ip: ev.ip,
                knownCountries: s.countries.slice(),
                historyLogins: s.logins,
                historyDays: round(historyAgeMs / DAY_MS),
                firstLoginAt: new Date(s.firstTs).toISOString(),
                minLogins,
                minHistory: formatDuration(minHistoryMs),
              },
              eventIds: [ev.eventId],
            });
          }
          // Learned after the alert: the traveller's second login from there is not news.
          // concat, not push: a pushed array reserves room for 16 more, and most accounts never get one.
          s.countries = s.countries.concat(country);
          s.lastSeen = s.lastSeen.concat(ev.ts);
          if (s.countries.length > maxCountries) {
            let stalest = 0;
            for (let i = 1; i < s.lastSeen.length; i++) if (s.lastSeen[i]! < s.lastSeen[stalest]!) stalest = i;
            s.countries.splice(stalest, 1);
            s.lastSeen.splice(stalest, 1);
          }
        }
        if (ev.ts < s.firstTs) s.firstTs = ev.ts;
        s.logins++;
        return s;
      },
    };
  },
});
