import { canonicalAddress } from './address.js';
import {
  ACCOUNT_CHANGES,
  PLAYBACK_ACTIONS,
  type AccountChange,
  type AccountUpdateEvent,
  type DecodeResult,
  type FraudEvent,
  type InvalidReason,
  type LoginEvent,
  type PlaybackAction,
  type PlaybackEvent,
} from './types.js';

export { isDottedQuad } from './address.js';

/*
 * The decoder is written by hand rather than with a schema library because it sits on the
 * per-event hot path: the replay target is within 2x of bare JSON.parse, and a generic
 * validator costs more than the parse itself. The contract is small enough to read here.
 */

/**
 * Event times outside years 1970 to 9999 (inclusive, UTC) are refused. Beyond ±8.64e15 ms a
 * Date is invalid, and alerts print `ts` as ISO text, so such an event crashed replay once it
 * reached an alert; 9999 is the last year ISO-8601 text can write in four digits, and an event
 * before 1970 would be a negative epoch, which the numeric form never allowed.
 */
export const MIN_TS = 0;
/** 9999-12-31T23:59:59.999Z */
export const MAX_TS = 253_402_300_799_999;

/**
 * Length limits on free strings, in UTF-16 code units (JavaScript's string length), generous for
 * real data. Every id becomes a key in detector state or an alert, so one record must not carry
 * megabytes into memory that lives for days.
 */
export const MAX_ID_LENGTH = 256;
export const MAX_USER_AGENT_LENGTH = 1024;

/** A value quoted in a message, cut short: messages go to stderr, logs and dead-letter headers. */
function quote(v: string): string {
  return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two ASCII digits at `i` as a number, or -1. */
function two(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * ISO-8601 date-time with an explicit zone (Z, ±hh:mm or ±hhmm), e.g. 2026-03-02T08:00:00.123Z,
 * to epoch milliseconds; NaN when malformed. A timestamp without a zone means different instants
 * on different machines, so it is rejected rather than guessed. Hand-written because a regex
 * check plus Date.parse cost a tenth of replay time; fractions beyond milliseconds are truncated.
 */
export function parseIsoWithZone(s: string): number {
  const n = s.length;
  if (n < 17 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58) return NaN;
  const y1 = two(s, 0);
  const y2 = two(s, 2);
  const month = two(s, 5);
  const day = two(s, 8);
  const hour = two(s, 11);
  const minute = two(s, 14);
  if (y1 < 0 || y2 < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59) return NaN;
  const year = y1 * 100 + y2;
  if (day > DAYS_IN_MONTH[month - 1]! || (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)))) return NaN;
  let i = 16;
  let second = 0;
  let ms = 0;
  if (s.charCodeAt(i) === 58) {
    second = two(s, i + 1);
    if (second < 0 || second > 59) return NaN;
    i += 3;
    if (s.charCodeAt(i) === 46) {
      i++;
      const start = i;
      let scale = 100;
      while (i < n) {
        const d = s.charCodeAt(i) - 48;
        if (d < 0 || d > 9) break;
        ms += d * scale;
        scale /= 10;
        i++;
      }
      if (i === start || i - start > 9) return NaN;
      ms = Math.floor(ms);
    }
  }
  let offsetMin: number;
  const z = s.charCodeAt(i);
  if (z === 90 && i + 1 === n) offsetMin = 0;
  else if (z === 43 || z === 45) {
    const oh = two(s, i + 1);
    const colon = s.charCodeAt(i + 3) === 58 ? 1 : 0;
    const om = two(s, i + 3 + colon);
    if (oh < 0 || oh > 23 || om < 0 || om > 59 || i + 5 + colon !== n) return NaN;
    offsetMin = (z === 45 ? -1 : 1) * (oh * 60 + om);
  } else return NaN;
  return (daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + ms - offsetMin * 60_000;
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (month 1–12). Integer arithmetic instead
 * of Date.UTC: it is cheaper per event, and Date.UTC reads years 0–99 as 1900–1999.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  // Count years from March, so the leap day falls at the end of the year.
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

const CHANGES: ReadonlySet<string> = new Set(ACCOUNT_CHANGES);
const ACTIONS: ReadonlySet<string> = new Set(PLAYBACK_ACTIONS);

class Invalid {
  constructor(
    readonly reason: InvalidReason,
    readonly message: string,
  ) {}
}

function fail(reason: InvalidReason, message: string): never {
  throw new Invalid(reason, message);
}

function tooLong(field: string, v: string, max: number): never {
  return fail('bad_value', `field "${field}" is ${v.length} characters long, over the limit of ${max}`);
}

function requiredString(obj: Record<string, unknown>, field: string, max: number): string {
  const v = obj[field];
  if (v === undefined || v === null) fail('missing_field', `missing field "${field}"`);
  if (typeof v !== 'string') fail('wrong_type', `field "${field}" must be a string`);
  if (v.length === 0) fail('bad_value', `field "${field}" must not be empty`);
  if (v.length > max) tooLong(field, v, max);
  return v;
}

function optionalString(obj: Record<string, unknown>, field: string, max: number): string | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail('wrong_type', `field "${field}" must be a string`);
  if (v.length > max) tooLong(field, v, max);
  return v.length === 0 ? undefined : v;
}

/**
 * Parses `ts`: ISO-8601 with a zone, or epoch milliseconds. Returns epoch milliseconds within
 * MIN_TS..MAX_TS.
 */
export function parseEventTime(v: unknown): number {
  if (v === undefined || v === null) fail('missing_field', 'missing field "ts"');
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < MIN_TS || v > MAX_TS) fail('bad_ts', `ts ${v} is not an integer of epoch milliseconds from ${MIN_TS} to ${MAX_TS} (years 1970 to 9999)`);
    return v;
  }
  if (typeof v !== 'string') fail('wrong_type', 'field "ts" must be an ISO-8601 string or epoch milliseconds');
  const ms = parseIsoWithZone(v);
  if (Number.isNaN(ms)) fail('bad_ts', `ts ${quote(v)} is not a valid ISO-8601 date-time with a zone`);
  // Four digits of year still reach past the range by the zone offset (9999-12-31T23:00-05:00).
  if (ms < MIN_TS || ms > MAX_TS) fail('bad_ts', `ts ${quote(v)} is outside years 1970 to 9999 (UTC)`);
  return ms;
}

function ipField(obj: Record<string, unknown>, required: boolean): string | undefined {
  const v = obj.ip;
  if (v === undefined || v === null) {
    if (required) fail('missing_field', 'missing field "ip"');
    return undefined;
  }
  if (typeof v !== 'string') fail('wrong_type', 'field "ip" must be a string');
  // Canonical, so every later use sees one spelling; a dotted quad (most events) comes back as it is.
  const ip = canonicalAddress(v);
  if (ip === undefined) {
    fail('bad_ip', v.includes('%') ? `ip ${quote(v)} has a zone id (%…): not accepted` : `ip ${quote(v)} is not an IPv4 or IPv6 address`);
  }
  return ip;
}

/*
 * The three event shapes, built in one place: the decoder and the decode thread's batches
 * (src/io/eventBatch.ts) both make events here, so every event of a type has the same fields in
 * the same order (one hidden class per type in V8, and the same JSON wherever an event is printed).
 */

export function loginEvent(
  eventId: string,
  ts: number,
  accountId: string,
  ip: string,
  deviceId: string | undefined,
  userAgent: string | undefined,
  success: boolean,
): LoginEvent {
  return { type: 'login', eventId, ts, accountId, ip, deviceId, userAgent, success };
}

export function playbackEvent(
  eventId: string,
  ts: number,
  accountId: string,
  ip: string,
  deviceId: string,
  userAgent: string | undefined,
  sessionId: string,
  action: PlaybackAction,
  titleId: string | undefined,
): PlaybackEvent {
  return { type: 'playback', eventId, ts, accountId, ip, deviceId, userAgent, sessionId, action, titleId };
}

export function accountUpdateEvent(
  eventId: string,
  ts: number,
  accountId: string,
  ip: string | undefined,
  deviceId: string | undefined,
  userAgent: string | undefined,
  change: AccountChange,
): AccountUpdateEvent {
  return { type: 'account_update', eventId, ts, accountId, ip, deviceId, userAgent, change };
}

function decodeObject(obj: Record<string, unknown>): FraudEvent {
  const eventId = requiredString(obj, 'eventId', MAX_ID_LENGTH);
  const type = obj.type;
  if (type === undefined || type === null) fail('missing_field', 'missing field "type"');
  if (typeof type !== 'string') fail('wrong_type', 'field "type" must be a string');
  const ts = parseEventTime(obj.ts);
  const accountId = requiredString(obj, 'accountId', MAX_ID_LENGTH);
  const userAgent = optionalString(obj, 'userAgent', MAX_USER_AGENT_LENGTH);

  switch (type) {
    case 'login': {
      const ip = ipField(obj, true) as string;
      const success = obj.success;
      if (success === undefined || success === null) fail('missing_field', 'missing field "success"');
      if (typeof success !== 'boolean') fail('wrong_type', 'field "success" must be a boolean');
      return loginEvent(eventId, ts, accountId, ip, optionalString(obj, 'deviceId', MAX_ID_LENGTH), userAgent, success);
    }
    case 'playback': {
      const ip = ipField(obj, true) as string;
      const deviceId = requiredString(obj, 'deviceId', MAX_ID_LENGTH);
      const sessionId = requiredString(obj, 'sessionId', MAX_ID_LENGTH);
      const action = requiredString(obj, 'action', MAX_ID_LENGTH);
      if (!ACTIONS.has(action)) fail('bad_value', `action ${quote(action)} is not one of ${PLAYBACK_ACTIONS.join(', ')}`);
      return playbackEvent(eventId, ts, accountId, ip, deviceId, userAgent, sessionId, action as PlaybackAction, optionalString(obj, 'titleId', MAX_ID_LENGTH));
    }
    case 'account_update': {
      const change = requiredString(obj, 'change', MAX_ID_LENGTH);
      if (!CHANGES.has(change)) fail('bad_value', `change ${quote(change)} is not one of ${ACCOUNT_CHANGES.join(', ')}`);
      return accountUpdateEvent(eventId, ts, accountId, ipField(obj, false), optionalString(obj, 'deviceId', MAX_ID_LENGTH), userAgent, change as AccountChange);
    }
    default:
      return fail('unknown_type', `unknown event type ${quote(type)}`);
  }
}

/** Validates an already-parsed value against the event contract. */
export function decodeValue(value: unknown): DecodeResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'not_an_object', message: 'record is not a JSON object' };
  }
  try {
    return { ok: true, event: decodeObject(value as Record<string, unknown>) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: err.reason, message: err.message };
    throw err;
  }
}

/** Decodes one record (a log line or a Kafka message value). Never throws on bad input. */
export function decodeEvent(text: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'invalid_json', message: `not JSON: ${(err as Error).message}` };
  }
  return decodeValue(value);
}
