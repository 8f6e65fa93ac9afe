import { z } from 'zod';
import { duration, formatDuration, parseDuration } from '../config/duration.js';
import type { FraudEvent } from '../events/types.js';
import { networkPrefix } from '../geo/distance.js';
import { round } from '../windows/baseline.js';
import { defineDetector, type Detector } from './types.js';

/*
 * login_risk: Freeman et al., "Who Are You? A Statistical Approach to Measuring User
 * Authenticity" (NDSS 2016). Each successful login is scored by a likelihood ratio, attacker
 * against owner, multiplied over its features (naive Bayes):
 *
 *   score = Σ_k log2( p(x_k | attacker) / p(x_k | account) )
 *
 * Freeman models the attacker by the population: p(x | attacker) = p(x), the share of all
 * logins showing the value. A population table learned from the stream would differ between
 * exactly-once tasks (each sees only its own partitions' accounts) and would depend on which
 * task saw an account first, so alerts would depend on the partitioning, not only on the log.
 * fraudwatch therefore takes the population term as a fixed smoothed prior per feature, q_k,
 * from the rules: "a login drawn from the population shows this particular value with
 * probability q_k" (about one over the number of values the population spreads over: a device
 * id is almost never anyone else's, a country is shared by many). It is frozen input, like
 * every other rule, so every task, replay and restart computes the same score.
 *
 * The account's term is its own history, counts with exponential decay in event time,
 * smoothed towards the prior (additive smoothing with weight α):
 *
 *   p(x | account) = (c(x) + α·q) / (N + α)
 *
 * where c(x) is the decayed count of logins that showed x and N the decayed count of all the
 * account's logins that showed the feature. A value new to the account (c = 0) contributes
 * log2((N + α) / α): more surprising the more history says otherwise, and independent of q.
 * A familiar value contributes log2(q·(N + α) / (c + α·q)) ≈ log2(q / share), negative: a
 * device the account always uses pulls a login far below any threshold, a common country
 * hardly at all. The hour of day is read in the account's local time (see tzHours below) and
 * smoothed over the neighbouring hours, so a login at 20:10 after many at 19:50 is not new.
 */

const FEATURES = ['network', 'country', 'city', 'userAgent', 'device', 'hour'] as const;
type Feature = (typeof FEATURES)[number];
const F_NETWORK = 0;
const F_COUNTRY = 1;
const F_CITY = 2;
const F_USER_AGENT = 3;
const F_DEVICE = 4;
const F_HOUR = 5;

const HOUR_MS = 3_600_000;

const priors = z
  .strictObject({
    /** Share of the population's logins from one /24 (IPv4) or /48 (IPv6) network. Default 0.001. */
    network: z.number().gt(0).max(1).default(0.001),
    /** Share of the population's logins from one country. Default 0.2. */
    country: z.number().gt(0).max(1).default(0.2),
    /** Share of the population's logins from one city. Default 0.05. */
    city: z.number().gt(0).max(1).default(0.05),
    /** Share of the population's logins from one user agent family (app or browser, and OS). Default 0.15. */
    userAgent: z.number().gt(0).max(1).default(0.15),
    /** Share of the population's logins from one device id. Default 0.0001. */
    device: z.number().gt(0).max(1).default(0.0001),
    /** Share of the population's logins in one local hour of the day. Default 1/24. */
    hour: z.number().gt(0).max(1).default(0.0417),
  })
  .prefault({});

const options = z.strictObject({
  /** Score (bits, log2 of the likelihood ratio) at which a login alerts at medium. Default 7. */
  mediumScore: z.number().min(-100).max(200).default(7),
  /** Score at which it alerts at high. Default 13. */
  highScore: z.number().min(-100).max(200).default(13),
  /** Decayed count of successful logins the account needs before its logins are judged. Default 8. */
  minLogins: z.number().min(1).max(1000).default(8),
  /** Half-life of the history's counts, in event time: habits of last season weigh less. Default 30d. */
  halfLife: duration('1d', '365d').default('30d'),
  /** An account silent this long is forgotten and learns afresh. Default 90d. */
  historyWindow: duration('1d', '365d').default('90d'),
  /** Additive smoothing weight α: how many logins' worth of the prior an account's history starts with. Default 1. */
  smoothing: z.number().gt(0).max(100).default(1),
  /** Values kept per feature and account (hours of the day have 24 at most); the least weighty is forgotten first. Default 6. */
  maxValues: z.number().int().min(2).max(24).default(6),
  /** IPv4 network prefix length of the network feature. Default 24. */
  prefixV4: z.number().int().min(8).max(32).default(24),
  /** IPv6 network prefix length of the network feature. Default 48. */
  prefixV6: z.number().int().min(16).max(128).default(48),
  /** The population term: fixed per-feature priors (see the file comment and docs/rules.md). */
  priors,
});

export type LoginRiskOptions = z.output<typeof options>;

/*
 * State: one flat array of numbers of exact size (stored unboxed, as unfamiliar_location's):
 *
 *   [lastTs, tzHours, entry, entry, …]
 *
 * lastTs is the event time the counts were decayed to; tzHours the account's UTC offset in
 * whole hours, TZ_UNKNOWN until a login is geolocated. Each entry packs one (feature, value,
 * count) into one double, exact up to 2^53:
 *
 *   entry = (feature · 2^24 + valueHash) · 2^COUNT_BITS + round(count · COUNT_SCALE)
 *
 * valueHash is 24 bits of FNV-1a of the value's text (the hour itself for hours): values are
 * compared within one account's few entries, where a collision has odds of about 1 in 10^6.
 * A new account's first login costs 8 numbers: about 100 B with the array itself.
 */
type State = number[];
const LAST_TS = 0;
const TZ = 1;
const FIRST = 2;
const TZ_UNKNOWN = 99;
const COUNT_BITS = 26;
const COUNT_RANGE = 2 ** COUNT_BITS;
const COUNT_SCALE = 256;
const COUNT_MAX = COUNT_RANGE - 1;
const HASH_RANGE = 2 ** 24;

function fnv1a24(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & 0xffffff;
}

const keyOfEntry = (e: number): number => Math.floor(e / COUNT_RANGE);
/**
 * `e % COUNT_RANGE`, exactly (e is a non-negative integer below 2^53 and COUNT_RANGE a power of
 * two, so every step is exact), without the floating-point remainder: V8 calls out to C for a
 * double `%`, and this ran several times per entry and login (the largest self cost of login_risk).
 */
const countOfEntry = (e: number): number => e - Math.floor(e / COUNT_RANGE) * COUNT_RANGE;
const featureOfKey = (k: number): number => Math.floor(k / HASH_RANGE);

/**
 * The family of a user agent: the client (app or browser, without its version) and the OS, so
 * that an update of the app or the browser is not a new family and a new phone of another make
 * is. A small hand-written parser: the log's clients are the service's own apps
 * ("Streamly/8.3 (iPhone; iOS 17.2)"), browsers and scripts, and a family needs no more.
 */
export function userAgentFamily(ua: string): string {
  const s = ua.toLowerCase();
  let os = 'other';
  if (s.includes('iphone') || s.includes('ios ')) os = 'ios';
  else if (s.includes('ipad')) os = 'ipados';
  else if (s.includes('android tv')) os = 'androidtv';
  else if (s.includes('android')) os = 'android';
  else if (s.includes('tvos')) os = 'tvos';
  else if (s.includes('tizen')) os = 'tizen';
  else if (s.includes('webos')) os = 'webos';
  else if (s.includes('windows')) os = 'windows';
  else if (s.includes('mac os') || s.includes('macintosh')) os = 'macos';
  else if (s.includes('cros')) os = 'chromeos';
  else if (s.includes('linux')) os = 'linux';
  let client: string;
  if (s.includes('edg/')) client = 'edge';
  else if (s.includes('opr/')) client = 'opera';
  else if (s.includes('firefox/')) client = 'firefox';
  else if (s.includes('chrome/')) client = 'chrome';
  else if (s.includes('safari/')) client = 'safari';
  else {
    // The product token, as apps and scripts send it: "Streamly/8.3", "curl/8.4.0".
    const slash = s.indexOf('/');
    const space = s.indexOf(' ');
    const end = slash >= 0 && (space < 0 || slash < space) ? slash : space >= 0 ? space : s.length;
    client = s.slice(0, Math.min(end, 32)) || 'unknown';
  }
  return `${client}/${os}`;
}

/** One feature of one login: its text (for the evidence) and the key it is counted under. */
interface Observed {
  feature: number;
  value: string;
  key: number;
}

export interface Contribution {
  readonly feature: Feature;
  readonly value: string;
  readonly new: boolean;
  /** Bits this feature adds to the score (negative: familiar). */
  readonly contribution: number;
}

export const loginRisk = defineDetector({
  id: 'login_risk',
  keyKind: 'account',
  defaultSeverity: 'medium',
  description: "A successful login whose network, place, user agent family, device and local hour are unlikely for the account's own history (Freeman et al. likelihood ratios).",
  defaultCooldown: '6h',
  options,
  create(o): Detector<State> {
    const halfLifeMs = parseDuration(o.halfLife);
    const historyMs = parseDuration(o.historyWindow);
    const alpha = o.smoothing;
    const maxValues = o.maxValues;
    const prior = [o.priors.network, o.priors.country, o.priors.city, o.priors.userAgent, o.priors.device, o.priors.hour];
    const v4Bits = o.prefixV4;
    const v6Bits = o.prefixV6;
    /** A UA family per distinct user agent string: few distinct strings, many logins. */
    const familyCache = new Map<string, string>();
    const family = (ua: string): string => {
      let f = familyCache.get(ua);
      if (f === undefined) {
        f = userAgentFamily(ua);
        if (familyCache.size >= 4096) familyCache.clear();
        familyCache.set(ua, f);
      }
      return f;
    };

    /** Each feature's total count in the state being scored (one pass over it, not one per feature). */
    const featureTotals: number[] = FEATURES.map(() => 0);
    /*
     * One login's features and their contributions, in scoring order: scratch reused by every
     * login (onEvent never runs re-entrantly), so a login allocates nothing to be scored, and the
     * evidence is built only for the few that alert. The allocations were the largest of replay.
     */
    const seen: Observed[] = FEATURES.map(() => ({ feature: 0, value: '', key: 0 }));
    /** Bits each feature of `seen` contributed, NaN when the account has no history of it. */
    const bitsOf: number[] = FEATURES.map(() => Number.NaN);
    let seenCount = 0;
    const observe = (feature: number, value: string, hash = fnv1a24(value)): void => {
      const x = seen[seenCount++]!;
      x.feature = feature;
      x.value = value;
      x.key = feature * HASH_RANGE + hash;
    };

    /** Multiplies every count by the decay since lastTs; drops entries that decayed to nothing. */
    function decay(s: State, ts: number): State {
      const dt = ts - s[LAST_TS]!;
      // A late event (older than the counts) is counted at the counts' time: decay never runs backwards.
      if (dt <= 0) return s;
      s[LAST_TS] = ts;
      const factor = Math.pow(2, -dt / halfLifeMs);
      let emptied = false;
      for (let i = FIRST; i < s.length; i++) {
        const e = s[i]!;
        const c = Math.round(countOfEntry(e) * factor);
        if (c === 0) emptied = true;
        s[i] = keyOfEntry(e) * COUNT_RANGE + c;
      }
      return emptied ? s.filter((e, i) => i < FIRST || countOfEntry(e) > 0) : s;
    }

    return {
      id: 'login_risk',
      keyKind: 'account',
      stateVersion: 1,
      retentionMs: historyMs,
      consumes: ['login'],
      keyOf: (ev: FraudEvent) => (ev.type === 'login' && ev.success ? ev.accountId : undefined),
      onEvent(ev, state, ctx, emit) {
        if (ev.type !== 'login') return state;
        const g = ctx.geo;
        let s = state;
        if (s !== undefined && ev.ts - s[LAST_TS]! > historyMs) s = undefined;
        if (s === undefined) s = [ev.ts, TZ_UNKNOWN];
        else s = decay(s, ev.ts);
        // Local time: the offset of the account's first geolocated login, from its longitude
        // (15° an hour). It stays fixed, so a traveller's hours abroad read as at home, which is
        // what the owner's habit is about; the country and city say where they are.
        // `+ 0`: west of Greenwich by under 7.5° rounds to -0, which a JSON snapshot would restore as 0.
        if (s[TZ] === TZ_UNKNOWN && g !== null) s[TZ] = Math.max(-12, Math.min(14, Math.round(g.lon / 15))) + 0;
        const tz = s[TZ] === TZ_UNKNOWN ? 0 : s[TZ]!;
        const localHour = Math.floor((((ev.ts + tz * HOUR_MS) % 86_400_000) + 86_400_000) % 86_400_000 / HOUR_MS);

        seenCount = 0;
        observe(F_NETWORK, networkPrefix(ev.ip, v4Bits, v6Bits));
        if (g !== null) {
          observe(F_COUNTRY, g.country);
          if (g.city !== '') observe(F_CITY, `${g.city}, ${g.region}, ${g.country}`);
        }
        if (ev.userAgent !== undefined) observe(F_USER_AGENT, family(ev.userAgent));
        if (ev.deviceId !== undefined) observe(F_DEVICE, ev.deviceId);
        observe(F_HOUR, String(localHour), localHour);

        // Per feature: the value's count, and the feature's total (N), before this login.
        totals(s, featureTotals);
        const logins = featureTotals[F_HOUR]!;
        if (logins / COUNT_SCALE >= o.minLogins) {
          let score = 0;
          for (let i = 0; i < seenCount; i++) {
            const x = seen[i]!;
            const n = featureTotals[x.feature]! / COUNT_SCALE;
            bitsOf[i] = Number.NaN;
            if (n === 0) continue;
            let c: number;
            if (x.feature === F_HOUR) {
              // Hours are a circle, and habits are not exact: half the hour's count plus a quarter of each neighbour's.
              c = (0.5 * count(s, x.key) + 0.25 * count(s, F_HOUR * HASH_RANGE + ((localHour + 1) % 24)) + 0.25 * count(s, F_HOUR * HASH_RANGE + ((localHour + 23) % 24))) / COUNT_SCALE;
            } else {
              c = count(s, x.key) / COUNT_SCALE;
            }
            const q = prior[x.feature]!;
            const bits = Math.log2((q * (n + alpha)) / (c + alpha * q));
            score += bits;
            bitsOf[i] = bits;
          }
          if (score >= o.mediumScore) {
            const parts: Contribution[] = [];
            for (let i = 0; i < seenCount; i++) {
              const x = seen[i]!;
              if (!Number.isNaN(bitsOf[i]!)) parts.push({ feature: FEATURES[x.feature]!, value: x.value, new: count(s, x.key) === 0, contribution: round(bitsOf[i]!) });
            }
            const high = score >= o.highScore;
            const fresh = parts.filter((p) => p.new).map((p) => p.feature);
            emit({
              detector: 'login_risk',
              severity: high ? 'high' : 'medium',
              key: ev.accountId,
              summary:
                `Login on account ${ev.accountId} from ${ev.ip} scores ${round(score)} bits against its own history of ` +
                `${round(logins / COUNT_SCALE)} logins (${high ? 'high' : 'medium'} from ${high ? o.highScore : o.mediumScore}); ` +
                `new to the account: ${fresh.length > 0 ? fresh.join(', ') : 'nothing'}.`,
              evidence: {
                score: round(score),
                features: parts,
                historyLogins: round(logins / COUNT_SCALE),
                localHour,
                utcOffsetHours: tz,
                mediumScore: o.mediumScore,
                highScore: o.highScore,
                halfLife: formatDuration(halfLifeMs),
              },
              eventIds: [ev.eventId],
            });
          }
        }

        // Learned after scoring, alert or not (as Freeman's model does): the same device's next login is familiar.
        for (let i = 0; i < seenCount; i++) s = add(s, seen[i]!.key, maxValues);
        return s;
      },
    };
  },
});

function count(s: State, key: number): number {
  for (let i = FIRST; i < s.length; i++) if (keyOfEntry(s[i]!) === key) return countOfEntry(s[i]!);
  return 0;
}

/** Fills `out` with each feature's total count: the sum of its entries' counts, in state order. */
function totals(s: State, out: number[]): void {
  out.fill(0);
  for (let i = FIRST; i < s.length; i++) {
    const e = s[i]!;
    const k = keyOfEntry(e);
    out[featureOfKey(k)]! += e - k * COUNT_RANGE;
  }
}

/** Counts one login under `key`; a new value past `maxValues` of its feature replaces the least weighty one. */
function add(s: State, key: number, maxValues: number): State {
  const feature = featureOfKey(key);
  let values = 0;
  let weakest = -1;
  for (let i = FIRST; i < s.length; i++) {
    const k = keyOfEntry(s[i]!);
    if (k === key) {
      s[i] = k * COUNT_RANGE + Math.min(COUNT_MAX, countOfEntry(s[i]!) + COUNT_SCALE);
      return s;
    }
    if (featureOfKey(k) !== feature) continue;
    values++;
    if (weakest < 0 || countOfEntry(s[i]!) < countOfEntry(s[weakest]!)) weakest = i;
  }
  const entry = key * COUNT_RANGE + COUNT_SCALE;
  // Hours have 24 values at most and are few per account: they are never evicted.
  if (feature !== F_HOUR && values >= maxValues) {
    s[weakest] = entry;
    return s;
  }
  // concat, not push: a pushed array reserves spare room, and most accounts add a value rarely.
  return s.concat(entry);
}
