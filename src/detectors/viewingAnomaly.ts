import { z } from 'zod';
import { duration, parseDuration } from '../config/duration.js';
import type { FraudEvent, PlaybackEvent } from '../events/types.js';
import { humanDuration, humanNumber } from '../format/human.js';
import { robustScore, round, shrinkToPrior, withScaleFloor, type Shrunk } from '../windows/baseline.js';
import { defineDetector, type Detector, type Emit, type Severity } from './types.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/*
 * Viewing per hour and per day is kept in "unit strings": one char per hour (or day), its char
 * code the viewing in fixed units, 240 units being the whole hour (15 s each) or day (6 min
 * each). That is plain JSON data at one byte a bucket. With sparse number buckets
 * (src/windows/buckets.ts) the same history measured 1.6 KB per daily viewer on the V8 heap,
 * mostly array growth room; this state measures 260–360 B. The hour and the day being counted
 * stay exact numbers, and the strings are rebuilt only when an hour or a day closes.
 */
const HOUR_UNIT_MS = 15_000;
const DAY_UNIT_MS = 360_000;
/** Units a day's peak may take (one char code); a longer window gets coarser units. */
const PEAK_UNITS = 240;

function toUnits(ms: number, unitMs: number): number {
  return Math.min(255, Math.round(ms / unitMs));
}

/**
 * Closes the bucket being counted (`closedMs`) onto `units`, followed by `gap` empty buckets,
 * keeping the last `keep`. Leading empty buckets are dropped: a missing bucket is an empty one.
 */
function closeBucket(units: string, closedMs: number, gap: number, keep: number, unitMs: number): string {
  const codes: number[] = [];
  if (gap < keep) {
    for (let i = 0; i < units.length; i++) codes.push(units.charCodeAt(i));
    codes.push(toUnits(closedMs, unitMs));
  }
  for (let i = 0; i < gap && i < keep; i++) codes.push(0);
  let from = Math.max(0, codes.length - keep);
  while (from < codes.length && codes[from] === 0) from++;
  return from === codes.length ? '' : String.fromCharCode(...codes.slice(from));
}

/** `units` with `ms` more in bucket `at` (a late event), unchanged when `at` is older than what is kept. */
function addUnits(units: string, at: number, ms: number, unitMs: number): string {
  if (at < 0) return units;
  const codes: number[] = [];
  for (let i = 0; i < units.length; i++) codes.push(units.charCodeAt(i));
  codes[at] = Math.min(255, codes[at]! + Math.round(ms / unitMs));
  return String.fromCharCode(...codes);
}

const options = z.strictObject({
  /**
   * The sliding window viewing time is summed over, in whole hours (rounded up): the current
   * hour and the ones before it. Also the repeat-suppression period. At least 3h, one hour
   * more than the longest sessionTimeout, so that all newly counted time falls in the window.
   * Default 24h.
   */
  window: duration('3h', '72h').default('24h'),
  /**
   * Viewing time within the window above which the account alerts whatever its history (more
   * than a person can watch in a day). Default 16h.
   */
  absoluteCap: duration('1h', '72h').default('16h'),
  /**
   * Longest gap between two events of one session that still counts as viewing; a longer gap
   * (a paused or dead player) does not count. Default 15m.
   */
  sessionTimeout: duration('1m', '2h').default('15m'),
  /**
   * Whole days before the window that form the account's baseline: for each, the most viewing
   * any trailing window (24 h) ending on that UTC day held, so the baseline measures what the
   * judged value measures. Default 28d.
   */
  baselineWindow: duration('7d', '90d').default('28d'),
  /**
   * Days with viewing after which the account is judged against its own habit alone; until
   * then its baseline is shrunk toward the population's prior (priorMedian, priorSpread,
   * priorWeight), or, with priorWeight 0, only absoluteCap applies. Default 7.
   */
  minHistoryDays: z.number().int().min(1).max(90).default(7),
  /**
   * The population's typical peak viewing in a window: what a young account's baseline is shrunk
   * toward. Default 2h.
   */
  priorMedian: duration('0s', '72h').default('2h'),
  /**
   * How widely accounts' habits differ: the prior's spread. With no history of its own an
   * account alerts below the cap only above priorMedian + zThreshold × priorSpread (17 h by
   * default, above the cap: a new account is never judged by others' habits alone). Default 3h.
   */
  priorSpread: duration('1m', '72h').default('3h'),
  /**
   * What the prior is worth, in days of the account's own history: with n own days (fewer than
   * minHistoryDays) the baseline is (priorWeight × prior + n × own) / (priorWeight + n), for the
   * median and the spread alike. 0 turns priors off (young accounts: the cap only). Default 1.
   */
  priorWeight: z.number().min(0).max(30).default(1),
  /** Viewing time within the window below which the baseline never alerts, however light the habit. Default 6h. */
  minViewing: duration('0s', '72h').default('6h'),
  /**
   * Robust z at or above which viewing is far above the habit: (viewing − median) /
   * max(1.4826 × MAD, minScale), over the baseline's days with viewing. Below highZThreshold
   * the alert is medium. Default 5.
   */
  zThreshold: z.number().min(1).max(100).default(5),
  /**
   * Robust z at or above which the alert takes the configured severity (high by default), as
   * the absolute cap always does: the more surprising, the higher. At or below zThreshold every
   * baseline alert takes the configured severity. Default 8.
   */
  highZThreshold: z.number().min(1).max(100).default(8),
  /**
   * Floor of the baseline's spread, so a perfectly regular viewer (MAD 0) does not turn a small
   * change into an infinite z. Default 1h.
   */
  minScale: duration('1m', '24h').default('1h'),
  /**
   * Floor of the baseline's spread as a share of its median: days vary more on a heavier habit,
   * so a 4 h viewer is not judged by a 1 h viewer's spread (a young account's few days
   * especially: four evenings that happened to be alike say little about the fifth). 0: none.
   * Default 0.35.
   */
  minScaleShare: z.number().min(0).max(5).default(0.35),
  /**
   * The same floor while the account has fewer than minHistoryDays viewing days: five weekdays
   * that happened to be alike say nothing of its first weekend, when two long evenings can share
   * one 24 h window. A young account's jump from a light habit (1 h a day to 9 h) is still far
   * above it: the floor scales with the habit. Default 0.5.
   */
  youngScaleShare: z.number().min(0).max(5).default(0.5),
  /**
   * Sessions tracked at once per account (memory bound); past it the least recently active is
   * forgotten, and its next event opens it afresh. Default 8.
   */
  maxSessions: z.number().int().min(1).max(64).default(8),
});

type Options = z.output<typeof options>;

/*
 * Sessions seen within the session timeout, flat in one exact-size array, a tuple each:
 * [sessionId, time of its latest event, eventId of its first event seen (cited in alerts), …].
 * One array instead of an array of objects: most accounts streaming have one session open.
 */
type Sessions = (string | number)[];
const SESSION = 3;
const ID = 0;
const TIME = 1;
const FIRST_EVENT = 2;

const HOURS_PER_DAY = 24;

interface State {
  /** Open sessions (see Sessions), in the order they opened, at most maxSessions; null when none. */
  s: Sessions | null;
  /**
   * Time already counted as viewing within the last session timeout, as merged [start, end]
   * pairs ascending (at most 2 × maxSessions pairs); null when none. A new stretch of a session
   * counts only where it falls outside them: that is what makes concurrent screens count once.
   */
  c: number[] | null;
  /** Latest event time seen (late events do not move it). */
  n: number;
  /**
   * The last alert, -1 when none (repeat suppression): 2 × its time, plus 1 when it was at the
   * configured severity (the cap, or z at or above highZThreshold) rather than medium. One
   * number, so that graded alerts cost no field of their own on every viewer's state.
   */
  a: number;
  /** The hour being counted (index since the epoch) and its viewing so far (ms). */
  hi: number;
  hm: number;
  /** Closed hours before `hi` that the window can still reach, a unit string ending with hour hi − 1. */
  hs: string;
  /**
   * The peak so far (ms) of the UTC day being counted (the day of hour `hi`): the most viewing
   * the trailing window held when measured on that day (after each counted stretch).
   */
  dm: number;
  /**
   * Peaks of the closed days before the day being counted that the baseline can still reach, a
   * unit string ending with the day before it (units of window / 240, at least 6 min).
   */
  ds: string;
  /**
   * Cached viewing threshold (ms) of the baseline ending on day `bd`; bt -1 = too little history,
   * bd -1 = none yet. Rounded up to a whole ms: viewing is whole ms, so `viewed >= bt` is the same
   * comparison, and a small integer needs no number box of its own.
   */
  bd: number;
  bt: number;
}

interface Check {
  viewed: number;
  startHour: number;
}

/**
 * viewing_anomaly: far more viewing in the last day than the account's own habit, or more than
 * anyone watches. Viewing time is wall time with at least one session playing (concurrent
 * screens count once), between consecutive events of a session no more than the session
 * timeout apart; a stop ends the session.
 *
 * Like with like: the baseline is not the account's daily totals but, for each recent UTC day,
 * the most viewing the same trailing window held when measured that day. A window spanning two
 * long evenings is then compared with the account's other two-evening windows, not with single
 * calendar days, and where the account's local day begins no longer matters.
 *
 * Young accounts (fewer than minHistoryDays viewing days) are judged against their own days
 * shrunk toward a population prior (priorMedian, priorSpread, priorWeight): a jump from 1 h to
 * 9 h after three days stands out, while a new account that watches 9 h from its first day does
 * not (the prior alone puts the threshold above the cap).
 *
 * Severity follows surprise: medium from zThreshold, the configured severity (high) from
 * highZThreshold and at the cap.
 *
 * Repeats: at most one alert per account per window (24 h), except one rise from medium to
 * high. A binge stays above the threshold for hours and the sliding sum wobbles around it as
 * hours roll off, so "re-alert after it dips below" would re-alert on the same viewing; a binge
 * still going a window later alerts again.
 */
export const viewingAnomaly = defineDetector({
  id: 'viewing_anomaly',
  keyKind: 'account',
  defaultSeverity: 'high',
  // A jump in viewing lasts days: findings on the following days are the same episode.
  defaultCooldown: '3d',
  description:
    "Viewing time (all screens counted once) in a sliding window (24 h) above an absolute cap, or far above the account's own peak window of recent days (robust z; young accounts shrunk toward a population prior), medium then high as the surprise grows.",
  options,
  create(o: Options): Detector<State> {
    const windowHours = Math.ceil(parseDuration(o.window) / HOUR_MS);
    const windowMs = windowHours * HOUR_MS;
    const windowText = `${windowHours}h`;
    const capMs = parseDuration(o.absoluteCap);
    const timeoutMs = parseDuration(o.sessionTimeout);
    const baselineDays = Math.floor(parseDuration(o.baselineWindow) / DAY_MS);
    const minViewingMs = parseDuration(o.minViewing);
    const minScaleHours = parseDuration(o.minScale) / HOUR_MS;
    const { minHistoryDays, zThreshold, highZThreshold, maxSessions, priorWeight } = o;
    const prior = { median: parseDuration(o.priorMedian) / HOUR_MS, scale: parseDuration(o.priorSpread) / HOUR_MS, weight: priorWeight };
    const peakUnitMs = Math.max(DAY_UNIT_MS, Math.ceil(windowMs / PEAK_UNITS));
    const maxSegmentNumbers = 4 * maxSessions;
    // Closed hours the window can reach: all but the current one.
    const keepHours = windowHours - 1;
    // Closed days the baseline can reach: it ends the day before the window starts.
    const keepDays = baselineDays + Math.ceil(windowHours / 24) + 1;

    /** The last day of the baseline: the day before the one the window starts in. */
    function historyEnd(startHour: number): number {
      return Math.floor((startHour * HOUR_MS) / DAY_MS) - 1;
    }

    function addToHour(s: State, hour: number, ms: number): void {
      if (hour === s.hi) s.hm += ms;
      else if (hour > s.hi) {
        s.hs = closeBucket(s.hs, s.hm, hour - s.hi - 1, keepHours, HOUR_UNIT_MS);
        // A new UTC day: the day being counted closes with its peak.
        const day = Math.floor(hour / HOURS_PER_DAY);
        const counted = countedDay(s);
        if (day > counted) {
          s.ds = closeBucket(s.ds, s.dm, day - counted - 1, keepDays, peakUnitMs);
          s.dm = 0;
        }
        s.hi = hour;
        s.hm = ms;
      } else s.hs = addUnits(s.hs, s.hs.length - (s.hi - hour), ms, HOUR_UNIT_MS);
    }

    /** The UTC day being counted: the day of the hour being counted. */
    function countedDay(s: State): number {
      return Math.floor(s.hi / HOURS_PER_DAY);
    }

    /**
     * Raises the counted day's peak to what the window ending at the hour being counted holds
     * now. Measured after every counted stretch, so a day's peak is the most any window ending
     * that day held while it was watched: the same quantity the judged window is.
     */
    function notePeak(s: State): number {
      const viewed = viewedSince(s, s.hi - windowHours + 1);
      if (viewed > s.dm) s.dm = viewed;
      return viewed;
    }

    function addViewing(s: State, from: number, to: number): void {
      for (let x = from; x < to; ) {
        const hour = Math.floor(x / HOUR_MS);
        const end = Math.min(to, (hour + 1) * HOUR_MS);
        addToHour(s, hour, end - x);
        x = end;
      }
    }

    /** Counts the part of [from, to] not yet counted, and marks [from, to] counted. */
    function credit(s: State, from: number, to: number): void {
      const c = (s.c ??= []);
      let i = 0;
      while (i < c.length && c[i + 1]! < from) i += 2;
      const first = i;
      let lo = from;
      let hi = to;
      let cursor = from;
      for (; i < c.length && c[i]! <= to; i += 2) {
        if (c[i]! > cursor) addViewing(s, cursor, c[i]!);
        if (c[i + 1]! > cursor) cursor = c[i + 1]!;
        if (c[i]! < lo) lo = c[i]!;
        if (c[i + 1]! > hi) hi = c[i + 1]!;
      }
      if (cursor < to) addViewing(s, cursor, to);
      // Nearly always the stretch extends the one pair it touches: update it in place.
      if (i - first === 2) {
        c[first] = lo;
        c[first + 1] = hi;
      } else c.splice(first, i - first, lo, hi);
      // Merging the two oldest pairs marks the gap between them counted: it can only undercount.
      if (c.length > maxSegmentNumbers) c.splice(1, 2);
    }

    /** Forgets sessions and counted time that the latest time `s.n` makes irrelevant. */
    function expire(s: State): void {
      const cutoff = s.n - timeoutMs;
      if (s.s !== null) {
        const sessions = s.s;
        let kept = 0;
        for (let i = 0; i < sessions.length; i += SESSION) if ((sessions[i + TIME] as number) >= cutoff) kept += SESSION;
        if (kept === 0) s.s = null;
        else if (kept < sessions.length) {
          const open: Sessions = new Array(kept);
          let at = 0;
          for (let i = 0; i < sessions.length; i += SESSION) {
            if ((sessions[i + TIME] as number) < cutoff) continue;
            open[at++] = sessions[i + ID]!;
            open[at++] = sessions[i + TIME]!;
            open[at++] = sessions[i + FIRST_EVENT]!;
          }
          s.s = open;
        }
      }
      // A stretch starts at most a timeout before its end, and ends no earlier than `n` from now on.
      if (s.c !== null) {
        let n = 0;
        while (n < s.c.length && s.c[n + 1]! < cutoff) n += 2;
        if (n === s.c.length) s.c = null;
        else if (n > 0) s.c.splice(0, n);
      }
    }

    function open(s: State, ev: PlaybackEvent): void {
      if (s.s === null) {
        s.s = [ev.sessionId, ev.ts, ev.eventId];
        return;
      }
      let sessions = s.s;
      if (sessions.length >= maxSessions * SESSION) {
        let lru = 0;
        for (let i = SESSION; i < sessions.length; i += SESSION) if ((sessions[i + TIME] as number) < (sessions[lru + TIME] as number)) lru = i;
        sessions = without(sessions, lru);
      }
      // Exact-size arrays: a pushed array keeps room for 16 more elements.
      s.s = sessions.concat(ev.sessionId, ev.ts, ev.eventId);
    }

    /** The sessions without the one at `at` (a new array of exact size). */
    function without(sessions: Sessions, at: number): Sessions {
      return sessions.slice(0, at).concat(sessions.slice(at + SESSION));
    }

    function close(s: State, at: number): void {
      s.s = s.s!.length === SESSION ? null : without(s.s!, at);
      // Nothing playing: the counted pairs wait for the timeout in an exact-size copy, without
      // the growth room the splices left (most accounts spend most of the time here).
      if (s.s === null && s.c !== null) s.c = s.c.slice();
    }

    /**
     * Viewing (ms) in the hours from `startHour` on. Called right after counting time, which lies
     * within a session timeout of the latest event and so inside the window (it is at least 3 h,
     * the timeout at most 2 h): the hour being counted is in the window, and the days being
     * counted are after the baseline's, which therefore holds closed days only and never changes
     * under a late event.
     */
    function viewedSince(s: State, startHour: number): number {
      let ms = s.hm;
      const firstHour = s.hi - s.hs.length;
      for (let j = Math.max(0, startHour - firstHour); j < s.hs.length; j++) ms += s.hs.charCodeAt(j) * HOUR_UNIT_MS;
      return ms;
    }

    /** Peak viewing (hours) of the baseline's days with viewing. */
    function history(s: State, startHour: number): number[] {
      const to = historyEnd(startHour);
      const from = to - baselineDays + 1;
      const out: number[] = [];
      const firstDay = countedDay(s) - s.ds.length;
      for (let j = Math.max(0, from - firstDay); j < s.ds.length && firstDay + j <= to; j++) {
        const units = s.ds.charCodeAt(j);
        if (units > 0) out.push((units * peakUnitMs) / HOUR_MS);
      }
      return out;
    }

    /**
     * The baseline and the score of `viewedHours` against it: the account's own robust score
     * once it has minHistoryDays, before that its own shrunk toward the prior (empirical Bayes
     * with a fixed population prior; undefined when priors are off).
     */
    function score(hist: number[], viewedHours: number): Shrunk | undefined {
      if (hist.length < minHistoryDays && priorWeight === 0) return undefined;
      const raw = robustScore(hist, viewedHours, minScaleHours);
      const young = hist.length < minHistoryDays;
      const own = withScaleFloor(raw, viewedHours, (young ? Math.max(o.minScaleShare, o.youngScaleShare) : o.minScaleShare) * raw.median);
      return shrinkToPrior(own, hist.length, viewedHours, hist.length >= minHistoryDays ? undefined : prior);
    }

    /**
     * Viewing (ms) at which the baseline's z reaches zThreshold; Infinity with priors off and too
     * little history. The history changes only when its last day does (see viewedSince), so it
     * is cached by that day rather than re-sorted per heartbeat.
     */
    function baselineThreshold(s: State, startHour: number): number {
      const to = historyEnd(startHour);
      if (s.bd !== to) {
        const r = score(history(s, startHour), 0);
        s.bt = r === undefined ? -1 : Math.ceil((r.median + zThreshold * r.scale) * HOUR_MS);
        s.bd = to;
      }
      return s.bt < 0 ? Number.POSITIVE_INFINITY : s.bt;
    }

    /**
     * Medium under highZThreshold; at or above it the configured severity (high by default).
     * A detector does not see its configured severity, so the lower grade is fixed, as
     * brute_force's critical is.
     */
    function graded(z: number | undefined): Severity | undefined {
      return z === undefined || z >= highZThreshold ? undefined : 'medium';
    }

    function report(s: State, ev: PlaybackEvent, check: Check, reason: 'absolute_cap' | 'baseline', hist: number[], score: Shrunk | undefined, emit: Emit): void {
      const hours = round(check.viewed / HOUR_MS);
      const capHours = round(capMs / HOUR_MS);
      const baseline =
        score === undefined
          ? null
          : {
              medianHours: round(score.median),
              madHours: round(score.mad, 2),
              scaleHours: round(score.scale, 2),
              z: round(score.z),
              zThreshold,
              highZThreshold,
              ...(score.priorShare > 0 ? { ownMedianHours: round(score.ownMedian), priorShare: round(score.priorShare, 2) } : {}),
            };
      const young = score !== undefined && score.priorShare > 0 ? `, shrunk toward the population's ${humanDuration(prior.median * HOUR_MS)} for a young account` : '';
      const summary =
        reason === 'absolute_cap'
          ? `Account ${ev.accountId} watched ${humanDuration(check.viewed)} in the last ${windowText} (all screens counted once), above the ${humanDuration(capMs)} cap.`
          : `Account ${ev.accountId} watched ${humanDuration(check.viewed)} in the last ${windowText} (all screens counted once) against a usual peak of ${humanDuration(score!.median * HOUR_MS)} in any ${windowText} on its ${hist.length} recent viewing days${young} (robust z ${humanNumber(score!.z)}, threshold ${zThreshold}, high from ${highZThreshold}).`;
      const eventIds: string[] = [];
      const sessions = s.s ?? [];
      for (let i = FIRST_EVENT; i < sessions.length; i += SESSION) if (sessions[i] !== ev.eventId) eventIds.push(sessions[i] as string);
      eventIds.push(ev.eventId);
      const severity = reason === 'baseline' ? graded(score?.z) : undefined;
      emit({
        detector: 'viewing_anomaly',
        ...(severity !== undefined ? { severity } : {}),
        key: ev.accountId,
        summary,
        evidence: {
          reason,
          hours,
          window: windowText,
          windowStart: new Date(check.startHour * HOUR_MS).toISOString(),
          absoluteCapHours: capHours,
          minHours: round(minViewingMs / HOUR_MS),
          historyDays: hist.length,
          minHistoryDays,
          baseline,
          openSessions: sessions.length / SESSION,
        },
        eventIds,
      });
    }

    /** `viewedAtHi`: the window ending at the hour being counted, just measured by notePeak. */
    function check(s: State, ev: PlaybackEvent, emit: Emit, viewedAtHi: number): void {
      // After an alert, the rest of the window alerts again only to rise from medium to high:
      // viewing climbs through zThreshold first, so the first alert is nearly always medium.
      let riseOnly = false;
      if (s.a >= 0 && s.n - Math.floor(s.a / 2) < windowMs) {
        if (s.a % 2 === 1) return;
        riseOnly = true;
      }
      const nowHour = Math.floor(s.n / HOUR_MS);
      const startHour = nowHour - windowHours + 1;
      const viewed = nowHour === s.hi ? viewedAtHi : viewedSince(s, startHour);
      let reason: 'absolute_cap' | 'baseline';
      if (viewed > capMs) reason = 'absolute_cap';
      else if (viewed >= minViewingMs && viewed >= baselineThreshold(s, startHour)) reason = 'baseline';
      else return;
      const hist = history(s, startHour);
      const r = score(hist, viewed / HOUR_MS);
      // The cached threshold and the score agree except within rounding of the boundary.
      if (reason === 'baseline' && (r === undefined || r.z < zThreshold)) return;
      const high = reason === 'absolute_cap' || graded(r?.z) === undefined;
      if (riseOnly && !high) return;
      s.a = 2 * s.n + (high ? 1 : 0);
      report(s, ev, { viewed, startHour }, reason, hist, r, emit);
    }

    return {
      id: 'viewing_anomaly',
      keyKind: 'account',
      // 3: the day series holds each day's peak window, not its total.
      stateVersion: 3,
      retentionMs: windowMs + (baselineDays + 1) * DAY_MS,
      consumes: ['playback'],
      keyOf: (ev: FraudEvent) => (ev.type === 'playback' ? ev.accountId : undefined),
      onEvent(ev, state, _ctx, emit) {
        if (ev.type !== 'playback') return state;
        // A stop with nothing open closes nothing and counts nothing.
        if (state === undefined && ev.action === 'stop') return undefined;
        const s: State = state ?? {
          s: null,
          c: null,
          n: ev.ts,
          a: -1,
          hi: Math.floor(ev.ts / HOUR_MS),
          hm: 0,
          hs: '',
          dm: 0,
          ds: '',
          bd: -1,
          bt: -1,
        };
        if (ev.ts >= s.n) {
          s.n = ev.ts;
          expire(s);
        }
        let credited = false;
        let at = -1;
        if (s.s !== null) {
          for (let i = 0; i < s.s.length; i += SESSION) {
            if (s.s[i + ID] === ev.sessionId) {
              at = i;
              break;
            }
          }
        }
        if (at >= 0) {
          const sessions = s.s!;
          const last = sessions[at + TIME] as number;
          // An event at or before the session's latest (late, or a duplicate time) adds nothing.
          // The gap is within the timeout: longer-silent sessions were expired, and late events
          // are no older than the latest time, whose expiry every open session survived.
          if (ev.ts > last) {
            credit(s, last, ev.ts);
            credited = true;
            sessions[at + TIME] = ev.ts;
          }
          if (ev.action === 'stop' && ev.ts === sessions[at + TIME]) close(s, at);
        } else if (ev.action !== 'stop' && ev.ts >= s.n - timeoutMs) {
          // A start, or a heartbeat of a session not open (start missed or forgotten), opens it and
          // counting starts here. Not one more than a timeout behind the latest event: what was
          // counted back then is forgotten, and counting it again could count time twice.
          open(s, ev);
        }
        if (credited) {
          check(s, ev, emit, notePeak(s));
        }
        if (s.s === null && s.c === null && s.hm === 0 && s.hs === '' && s.dm === 0 && s.ds === '') return undefined;
        return s;
      },
    };
  },
});
