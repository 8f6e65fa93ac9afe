import { z } from 'zod';
import { duration, formatDuration, parseDuration } from '../config/duration.js';
import type { FraudEvent } from '../events/types.js';
import { humanCount, humanDuration } from '../format/human.js';
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

/*
 * The account's login history, one flat array of exact size:
 *
 *   [firstTs, logins, country, lastSeen, country, lastSeen, …]
 *
 * when it started, how many successful logins since, and the countries seen with their latest
 * login time (at most `maxCountries` ≤ 64 pairs, in the order first seen), each country as a
 * number (see countryCode). Every account that logged in within the history window (90 days)
 * holds it: an array of numbers only stores its times unboxed, so an account with one country
 * costs 80 B, where an object with two arrays cost ~190 B.
 */
type State = (number | string)[];

/**
 * A country as the state keeps it: a two-letter code (all that geolocation gives) as its two
 * char codes, c₀ × 65536 + c₁, so the array holds numbers only and no string per account. Any
 * other text is kept as it is.
 */
function countryCode(country: string): number | string {
  return country.length === 2 ? country.charCodeAt(0) * 65536 + country.charCodeAt(1) : country;
}

function countryText(code: number | string): string {
  return typeof code === 'number' ? String.fromCharCode(Math.floor(code / 65536), code % 65536) : code;
}

const FIRST_TS = 0;
const LOGINS = 1;
/** Index of the first (country, lastSeen) pair. */
const FIRST = 2;

/** The state without the pairs `drop` says to drop (a new array of exact size), or undefined when no country is left. */
function withoutPairs(s: State, drop: (lastSeen: number, at: number) => boolean): State | undefined {
  const kept: State = [s[FIRST_TS]!, s[LOGINS]!];
  for (let at = FIRST; at < s.length; at += 2) if (!drop(s[at + 1] as number, at)) kept.push(s[at]!, s[at + 1]!);
  return kept.length === FIRST ? undefined : kept.slice();
}

/** The countries of the state, in order. */
function countriesOf(s: State): string[] {
  const out: string[] = [];
  for (let at = FIRST; at < s.length; at += 2) out.push(countryText(s[at]!));
  return out;
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
      stateVersion: 2,
      retentionMs: historyMs,
      consumes: ['login'],
      keyOf: (ev: FraudEvent) => (ev.type === 'login' && ev.success ? ev.accountId : undefined),
      onEvent(ev, state, ctx, emit) {
        const g = ctx.geo;
        if (g === null) return state;
        const country = g.country;
        const code = countryCode(country);

        let s = state;
        if (s !== undefined) {
          // Forget countries not used within the horizon; an account that forgot them all is new again.
          const cutoff = ev.ts - historyMs;
          let stale = false;
          for (let at = FIRST + 1; at < s.length; at += 2) if ((s[at] as number) < cutoff) stale = true;
          if (stale) s = withoutPairs(s, (lastSeen) => lastSeen < cutoff);
        }
        if (s === undefined) return [ev.ts, 1, code, ev.ts];

        let known = FIRST;
        while (known < s.length && s[known] !== code) known += 2;
        if (known < s.length) {
          if (ev.ts > (s[known + 1] as number)) s[known + 1] = ev.ts;
        } else {
          const firstTs = s[FIRST_TS] as number;
          const logins = s[LOGINS] as number;
          const historyAgeMs = ev.ts - firstTs;
          if (logins >= minLogins || historyAgeMs >= minHistoryMs) {
            const city = g.city ? `${g.city}, ` : '';
            const countries = countriesOf(s);
            emit({
              detector: 'unfamiliar_location',
              key: ev.accountId,
              summary:
                `Successful login on account ${ev.accountId} from ${city}${country} (${ev.ip}), a country not seen in its ` +
                `${humanCount(logins)} logins over ${humanDuration(historyAgeMs)} (known: ${countries.join(', ')}).`,
              evidence: {
                country,
                region: g.region,
                city: g.city,
                ip: ev.ip,
                knownCountries: countries,
                historyLogins: logins,
                historyDays: round(historyAgeMs / DAY_MS),
                firstLoginAt: new Date(firstTs).toISOString(),
                minLogins,
                minHistory: formatDuration(minHistoryMs),
              },
              eventIds: [ev.eventId],
            });
          }
          // Learned after the alert: the traveller's second login from there is not news.
          // concat, not push: a pushed array reserves room for 16 more, and most accounts never get one.
          s = s.concat(code, ev.ts);
          if (s.length - FIRST > 2 * maxCountries) {
            let stalest = FIRST;
            for (let at = FIRST + 2; at < s.length; at += 2) if ((s[at + 1] as number) < (s[stalest + 1] as number)) stalest = at;
            s = withoutPairs(s, (_, at) => at === stalest)!;
          }
        }
        if (ev.ts < (s[FIRST_TS] as number)) s[FIRST_TS] = ev.ts;
        s[LOGINS] = (s[LOGINS] as number) + 1;
        return s;
      },
    };
  },
});
