import { z } from 'zod';
import { duration, formatDuration, parseDuration } from '../config/duration.js';
import type { FraudEvent } from '../events/types.js';
import { humanCount } from '../format/human.js';
import { cityKey, isPreciseFix, networkPrefix } from '../geo/distance.js';
import type { GeoPoint } from '../geo/locator.js';
import { defineDetector, type Detector, type Finding } from './types.js';

const DAY_MS = 86_400_000;
/**
 * A household's streaming days are a bit mask (bit i = i days before its latest day). 31 bits
 * keep the mask a small integer in V8 and exact under bitwise operators; it is also why
 * `window` stops at 31 days.
 */
const MASK_DAYS = 31;

const options = z.strictObject({
  /**
   * How far back households are counted: this many whole UTC days, ending with the day of the
   * latest event (a fraction of a day is dropped). Default 30d; at most 31d.
   */
  window: duration('2d', '31d').default('30d'),
  /**
   * Recurring households within the window, the account holder's home included, that make it
   * sharing. Default 3 (home + two other places that each recur).
   */
  minHouseholds: z.number().int().min(2).max(32).default(3),
  /**
   * Distinct UTC days within the window on which a household must have streamed to count
   * (and see minSpanDays). Default 2.
   */
  minDaysPerHousehold: z.number().int().min(1).max(31).default(2),
  /**
   * Days that must lie between a household's first and last streaming day within the window
   * for it to count. This tells a place that keeps coming back (a second home, a friend's flat)
   * from a trip: a trip of up to minSpanDays consecutive days never counts, however many trips
   * there are, while two streaming days a week or more apart do. 0 turns it off (any
   * minDaysPerHousehold days count, consecutive or not: the rule of the first version).
   * Default 7.
   */
  minSpanDays: z.number().int().min(0).max(30).default(7),
  /**
   * A location names a household by its city only when the fix names a city with an accuracy
   * radius up to this (km); a coarser fix says too little, and the address's network prefix
   * names the household instead. Default 100.
   */
  maxAccuracyKm: z.number().min(1).max(1000).default(100),
  /** Prefix length (bits) that names an IPv4 household when the location is coarse. Default 24. */
  ipv4PrefixBits: z.number().int().min(8).max(32).default(24),
  /** Prefix length (bits) that names an IPv6 household when the location is coarse. Default 48. */
  ipv6PrefixBits: z.number().int().min(16).max(128).default(48),
  /**
   * Households remembered per account (memory bound); past it the least recently seen is
   * forgotten. Raised to minHouseholds if set lower. Default 12.
   */
  maxHouseholds: z.number().int().min(2).max(64).default(12),
});

type Options = z.output<typeof options>;

/*
 * The state is one flat array: [alertDay, alertCount, (key, mask, time, eventId) per household].
 * Every account that streamed within the window (30 days) holds it, and most have one or two
 * households: a tuple in the array instead of an object per household (and a wrapper object
 * around their array) halves it.
 *
 * - alertDay, alertCount: UTC day of the last alert (-1: none) and the number of households it
 *   counted (repeat suppression).
 * - key: city key ("GB/ENG/London", interned: shared by every account in the city) or network:
 *   a number for IPv4 (see ipv4Network), CIDR text ("2001:db8:1::/48") otherwise.
 * - mask: streaming days, bit i set = streamed on the UTC day i days before the day of `time`.
 * - time: of the latest event seen there; eventId: its id, cited in alerts.
 *
 * Households are unordered; at most maxHouseholds of them.
 */
type State = (string | number)[];

const ALERT_DAY = 0;
const ALERT_COUNT = 1;
/** Index of the first household, and the size of a household tuple. */
const FIRST = 2;
const STRIDE = 4;
/** Offsets within a household tuple. */
const KEY = 0;
const MASK = 1;
const TIME = 2;
const EVENT = 3;

/**
 * The IPv4 network of dotted IPv4 text as a number, `index × 64 + bits` (index: the address's
 * top `bits` bits), or undefined for anything else (IPv6, IPv4-mapped IPv6), which takes the
 * general path. A number, not CIDR text: it costs nothing in the state (a /24 key is a small
 * integer) nor per heartbeat from a coarsely located address, and networkText rebuilds the text
 * for alerts. The prefix length is part of it so that a key kept across a change of
 * ipv4PrefixBits never equals a key of the new length.
 */
function ipv4Network(ip: string, bits: number): number | undefined {
  let value = 0;
  let octet = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      value = value * 256 + octet;
      octet = 0;
      dots++;
    } else if (c >= 48 && c <= 57) octet = octet * 10 + (c - 48);
    else return undefined;
  }
  if (dots !== 3) return undefined;
  return ((value * 256 + octet) >>> (32 - bits)) * 64 + bits;
}

/** The CIDR text of an ipv4Network key: what networkPrefix gives for the address. */
function networkText(key: number): string {
  const bits = key % 64;
  const shift = 32 - bits;
  const net = (((key - bits) / 64) << shift) >>> 0;
  return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${bits}`;
}

/** A household as text: its city key or network prefix. */
function householdText(key: string | number): string {
  return typeof key === 'number' ? networkText(key) : key;
}

function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function isoDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** A city key is "country/region/city"; a CIDR prefix has a single slash. */
function kindOf(household: string): 'place' | 'network' {
  return household.indexOf('/') === household.lastIndexOf('/') ? 'network' : 'place';
}

/** A recurring household as the alert shows it. */
interface Recurring {
  key: string;
  time: number;
  eventId: string;
  days: number;
  firstDay: number;
  lastDay: number;
}

/**
 * account_sharing: the account streams, over weeks, from more homes than one subscriber has.
 * A household is a city (precise fix) or a network prefix (coarse fix), and it counts only
 * when its streaming recurs (days spread over a span), so trips and one-off visits do not.
 *
 * Defaults: 3 households (home included), each on 2+ days at least 7 days apart. Four
 * households with two scattered days each still alert, and so do two extra places that keep
 * coming back; trips of up to a week, however many, and one-off visits never count. Requiring
 * 3 days per household instead would miss four households seen on two days each.
 *
 * Repeats: one alert when the count of recurring households reaches minHouseholds, another
 * each time it grows, otherwise at most one per window while the sharing goes on (the
 * engine's cooldown alone would re-alert every 30 minutes for a month).
 */
export const accountSharing = defineDetector({
  id: 'account_sharing',
  keyKind: 'account',
  defaultSeverity: 'medium',
  // Sharing is a pattern of weeks: findings days apart are the same episode.
  defaultCooldown: '7d',
  description:
    'Playback within a window (30 d) from several households (a city, or a network prefix where the location is coarse), each streaming on days spread over a week or more.',
  options,
  create(o: Options): Detector<State> {
    const windowDays = Math.min(MASK_DAYS, Math.floor(parseDuration(o.window) / DAY_MS));
    const windowText = formatDuration(windowDays * DAY_MS);
    const { minHouseholds, minDaysPerHousehold, minSpanDays, maxAccuracyKm, ipv4PrefixBits, ipv6PrefixBits } = o;
    const maxHouseholds = Math.max(o.maxHouseholds, minHouseholds);

    function householdOf(ip: string, geo: GeoPoint | null): string | number {
      if (isPreciseFix(geo, maxAccuracyKm)) return cityKey(geo)!;
      const v4 = ipv4Network(ip, ipv4PrefixBits);
      if (v4 !== undefined) return v4;
      // IPv6, or IPv4 written otherwise (IPv4-mapped IPv6): an IPv4 network gets the same key as
      // from dotted text, so that a dual-stack household stays one household.
      const prefix = networkPrefix(ip, ipv4PrefixBits, ipv6PrefixBits);
      return ipv4Network(prefix.slice(0, prefix.indexOf('/')), ipv4PrefixBits) ?? prefix;
    }

    function latestDay(s: State, day: number): number {
      let latest = day;
      for (let i = FIRST + TIME; i < s.length; i += STRIDE) latest = Math.max(latest, Math.floor((s[i] as number) / DAY_MS));
      return latest;
    }

    /** Records `day` in the household at `at`; true when it is a day not seen there before. */
    function addDay(s: State, at: number, day: number, ev: FraudEvent): boolean {
      const time = s[at + TIME] as number;
      const lastDay = Math.floor(time / DAY_MS);
      let added: boolean;
      if (day > lastDay) {
        const shift = day - lastDay;
        s[at + MASK] = shift >= MASK_DAYS ? 1 : (((s[at + MASK] as number) << shift) | 1) & 0x7fffffff;
        added = true;
      } else {
        // Late event: an earlier day of the mask. Older than the mask is older than any window.
        const age = lastDay - day;
        if (age >= MASK_DAYS) return false;
        const bit = 1 << age;
        const mask = s[at + MASK] as number;
        added = (mask & bit) === 0;
        s[at + MASK] = mask | bit;
      }
      if (ev.ts >= time) {
        s[at + TIME] = ev.ts;
        s[at + EVENT] = ev.eventId;
      }
      return added;
    }

    /**
     * Drops days (and households) that left the window and returns the recurring households, and
     * the state (a shorter copy when households were dropped). Runs only when a household gained
     * a day: nothing else can make one recur.
     */
    function recurring(s: State, today: number, out: Recurring[]): State {
      let kept = FIRST;
      for (let at = FIRST; at < s.length; at += STRIDE) {
        const lastDay = Math.floor((s[at + TIME] as number) / DAY_MS);
        const daysLeft = windowDays - (today - lastDay);
        if (daysLeft <= 0) continue;
        let mask = s[at + MASK] as number;
        if (daysLeft < MASK_DAYS) mask &= (1 << daysLeft) - 1;
        s[kept + KEY] = s[at + KEY]!;
        s[kept + MASK] = mask;
        s[kept + TIME] = s[at + TIME]!;
        s[kept + EVENT] = s[at + EVENT]!;
        kept += STRIDE;
        const days = popcount(mask);
        const span = 31 - Math.clz32(mask);
        if (days >= minDaysPerHousehold && span >= minSpanDays) {
          out.push({ key: householdText(s[at + KEY]!), time: s[at + TIME] as number, eventId: s[at + EVENT] as string, days, firstDay: lastDay - span, lastDay });
        }
      }
      return kept < s.length ? s.slice(0, kept) : s;
    }

    function finding(accountId: string, rec: Recurring[], others: number, ev: FraudEvent): Finding {
      rec.sort((a, b) => a.firstDay - b.firstDay || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const households = rec.map((r) => ({
        household: r.key,
        kind: kindOf(r.key),
        days: r.days,
        firstDay: isoDay(r.firstDay),
        lastDay: isoDay(r.lastDay),
        lastSeenAt: new Date(r.time).toISOString(),
      }));
      // One event per household (its latest), oldest first, the trigger (its household's latest) last.
      const eventIds = rec
        .filter((r) => r.eventId !== ev.eventId)
        .sort((a, b) => a.time - b.time)
        .map((r) => r.eventId);
      eventIds.push(ev.eventId);
      const rule = minSpanDays > 0 ? `each on ${minDaysPerHousehold}+ days spread over ${minSpanDays}+ days` : `each on ${minDaysPerHousehold}+ days`;
      const list = rec.map((r) => `${r.key} (${r.days} days)`).join(', ');
      return {
        detector: 'account_sharing',
        key: accountId,
        summary: `Account ${accountId} streamed from ${humanCount(rec.length)} households within ${windowText}, ${rule} (threshold ${minHouseholds}): ${list}.`,
        evidence: {
          households,
          count: rec.length,
          otherHouseholds: others,
          minHouseholds,
          minDaysPerHousehold,
          minSpanDays,
          window: windowText,
        },
        eventIds,
      };
    }

    return {
      id: 'account_sharing',
      keyKind: 'account',
      stateVersion: 2,
      retentionMs: windowDays * DAY_MS,
      // Stops add no place or day that the session's start and heartbeats did not.
      consumes: ['playback'],
      keyOf: (ev: FraudEvent) => (ev.type === 'playback' && ev.action !== 'stop' ? ev.accountId : undefined),
      onEvent(ev, state, ctx, emit) {
        if (ev.type !== 'playback') return state;
        const key = householdOf(ev.ip, ctx.geo);
        const day = Math.floor(ev.ts / DAY_MS);
        let s: State = state ?? [-1, 0];
        let at = FIRST;
        while (at < s.length && s[at + KEY] !== key) at += STRIDE;
        if (at < s.length) {
          // Heartbeats on a day already recorded (nearly all events) end here.
          if (!addDay(s, at, day, ev)) return s;
        } else {
          // A late event from a place not seen within the window adds nothing.
          if (latestDay(s, day) - day >= windowDays) return state;
          if (s.length - FIRST >= maxHouseholds * STRIDE) {
            let lru = FIRST;
            for (let i = FIRST + STRIDE; i < s.length; i += STRIDE) if ((s[i + TIME] as number) < (s[lru + TIME] as number)) lru = i;
            s[lru + KEY] = key;
            s[lru + MASK] = 1;
            s[lru + TIME] = ev.ts;
            s[lru + EVENT] = ev.eventId;
          } else {
            // A new array of the exact size: a pushed one keeps room for 16 more, 128 B per account.
            s = s.concat(key, 1, ev.ts, ev.eventId);
          }
        }

        // The window ends with the latest day seen, not the day of a late event.
        const today = latestDay(s, day);
        const rec: Recurring[] = [];
        s = recurring(s, today, rec);
        const count = rec.length;
        if (count < minHouseholds) return s;
        const repeat = (s[ALERT_DAY] as number) >= 0 && count <= (s[ALERT_COUNT] as number) && today - (s[ALERT_DAY] as number) < windowDays;
        if (repeat) return s;
        s[ALERT_DAY] = today;
        s[ALERT_COUNT] = count;
        emit(finding(ev.accountId, rec, (s.length - FIRST) / STRIDE - count, ev));
        return s;
      },
    };
  },
});
