/**
 * Decoder fuzzing: valid events in every spelling the contract allows, each with the event it
 * must decode to, mixed with hostile lines (wrong shapes and types, huge strings, `__proto__`
 * keys, invalid UTF-8, numbers at the edges, near-valid events just outside the contract).
 */
import { isDeepStrictEqual } from 'node:util';
import { decodeEvent, MAX_ID_LENGTH, MAX_TS, MAX_USER_AGENT_LENGTH } from '../../src/events/decode.js';
import { canonicalAddress } from '../../src/events/address.js';
import { ACCOUNT_CHANGES, INVALID_REASONS, PLAYBACK_ACTIONS, type FraudEvent, type InvalidReason } from '../../src/events/types.js';
import type { Rng } from './prng.js';

type Raw = Record<string, unknown>;

/** An address in some spelling, and the one spelling it must decode to. */
function address(r: Rng): [text: string, canonical: string] {
  const octets = () => Array.from({ length: 4 }, () => r.int(256));
  const hex = (n: number, pad: boolean, upper: boolean) => {
    const h = n.toString(16);
    const t = pad ? h.padStart(4, '0') : h;
    return upper ? t.toUpperCase() : t;
  };
  switch (r.int(6)) {
    case 0:
    case 1: {
      const o = octets();
      return [o.join('.'), o.join('.')];
    }
    case 2: {
      // IPv4-mapped IPv6, dotted or hex, any case.
      const o = octets();
      const upper = r.chance(0.5);
      const text = r.chance(0.5)
        ? `::${upper ? 'FFFF' : 'ffff'}:${o.join('.')}`
        : `::${upper ? 'FFFF' : 'ffff'}:${hex((o[0]! << 8) | o[1]!, false, upper)}:${hex((o[2]! << 8) | o[3]!, false, upper)}`;
      return [text, o.join('.')];
    }
    default: {
      // IPv6, with zero runs of every length, written out in full, padded, upper case.
      const groups = Array.from({ length: 8 }, () => (r.chance(0.4) ? 0 : r.int(65_536)));
      const pad = r.chance(0.3);
      const upper = r.chance(0.3);
      const mapped = groups.slice(0, 6).every((g, i) => g === (i === 5 ? 0xffff : 0));
      const v4 = `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
      return [groups.map((g) => hex(g, pad, upper)).join(':'), mapped ? v4 : rfc5952(groups)];
    }
  }
}

/** RFC 5952 written out independently: lowercase, no leading zeros, the first longest run of 2+ zero groups as `::`. */
export function rfc5952(groups: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  return best === -1 ? hex.join(':') : `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

const ISO_ZONES: [string, number][] = [
  ['Z', 0],
  ['+00:00', 0],
  ['+01:00', 60],
  ['-05:30', -330],
  ['+1400', 840],
];

/** A time in some spelling and its epoch milliseconds, within the contract's range. */
function time(r: Rng): [unknown, number] {
  const ms = r.chance(0.05) ? r.pick([0, MAX_TS, 1, MAX_TS - 1]) : 1_600_000_000_000 + r.int(400_000_000_000);
  if (r.chance(0.4)) return [ms, ms];
  const [zone, offsetMin] = r.pick(ISO_ZONES);
  const local = ms + offsetMin * 60_000;
  if (local < 0 || local > MAX_TS) return [ms, ms];
  const iso = new Date(local).toISOString().slice(0, -1);
  return [`${iso}${zone}`, ms];
}

function id(r: Rng, prefix: string, max = MAX_ID_LENGTH): string {
  if (r.chance(0.02)) return prefix.padEnd(max, 'x');
  if (r.chance(0.05)) return `${prefix}-${r.pick(['é', '😀', '\u0000', '"', '\\', '\u2028', ' '])}-${r.int(1000)}`;
  return `${prefix}-${r.int(5000)}`;
}

export interface ValidCase {
  readonly raw: Raw;
  readonly expected: FraudEvent;
}

/** A valid event in a random spelling, and the event it must decode to. */
export function validEvent(r: Rng, n: number): ValidCase {
  const [ts, ms] = time(r);
  const [ipText, ip] = address(r);
  const eventId = `${id(r, 'e')}-${n}`.slice(-MAX_ID_LENGTH);
  const accountId = id(r, 'acc');
  const deviceId = r.chance(0.8) ? id(r, 'dev') : undefined;
  const userAgent = r.chance(0.3) ? id(r, 'Mozilla/5.0', MAX_USER_AGENT_LENGTH) : undefined;
  const extra: Raw = r.chance(0.1) ? { country: 'GB', nested: { a: [1, 2] }, n: 1e300 } : {};
  switch (r.int(3)) {
    case 0: {
      const success = r.chance(0.5);
      return {
        raw: { ...extra, eventId, type: 'login', ts, accountId, ip: ipText, deviceId, userAgent, success },
        expected: { type: 'login', eventId, ts: ms, accountId, ip, deviceId, userAgent, success },
      };
    }
    case 1: {
      const device = deviceId ?? id(r, 'dev');
      const sessionId = id(r, 's');
      const action = r.pick(PLAYBACK_ACTIONS);
      const titleId = r.chance(0.7) ? id(r, 't') : undefined;
      return {
        raw: { ...extra, eventId, type: 'playback', ts, accountId, ip: ipText, deviceId: device, userAgent, sessionId, action, titleId },
        expected: { type: 'playback', eventId, ts: ms, accountId, ip, deviceId: device, userAgent, sessionId, action, titleId },
      };
    }
    default: {
      const change = r.pick(ACCOUNT_CHANGES);
      const withIp = r.chance(0.6);
      return {
        raw: { ...extra, eventId, type: 'account_update', ts, accountId, ip: withIp ? ipText : undefined, deviceId, userAgent, change },
        expected: { type: 'account_update', eventId, ts: ms, accountId, ip: withIp ? ip : undefined, deviceId, userAgent, change },
      };
    }
  }
}

const FIELDS = ['eventId', 'type', 'ts', 'accountId', 'ip', 'deviceId', 'userAgent', 'success', 'sessionId', 'action', 'titleId', 'change'];

const EDGE_NUMBERS = [
  0, -0, 1, -1, 1.5, 0.1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 8.64e15, 8.64e15 + 1, -8.64e15, MAX_TS, MAX_TS + 1, 1e20, 1e300, -1e300,
  Number.MAX_VALUE, Number.MIN_VALUE, 5e-324,
];

const EDGE_STRINGS = [
  '', ' ', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'null', 'true', '0', '-1', '1e20', 'NaN', 'Infinity',
  '\u0000', '\ud800', '\udfff', '\ufeff', '\u2028', '💥', 'é'.normalize('NFD'), '\\', '"', '\n', '\t',
  '1969-12-31T23:59:59.999Z', '10000-01-01T00:00:00Z', '9999-12-31T23:59:59.999-00:01', '2026-03-02T08:00:00', '2026-02-29T00:00:00Z',
  '0000-01-01T00:00:00Z', '2026-03-02T08:00:00.1234567891Z', '2026-03-02T08:00:00+24:00',
  'fe80::1%eth0', '::ffff:1.2.3.4%0', '1.2.3.4%eth0', '::ffff:01.2.3.4', '1.2.3.04', '256.0.0.1', '1:2:3:4:5:6:7:8:9', '::g', '1.2.3.4/24', ':::',
  'login', 'playback', 'account_update', 'LOGIN', 'start', 'email', 'avatar',
];

function hugeString(r: Rng): string {
  const n = r.pick([MAX_ID_LENGTH + 1, MAX_USER_AGENT_LENGTH + 1, 10_000, 100_000, 1_000_000]);
  const unit = r.pick(['x', 'é', '😀', '\\', '0']);
  // Cut at n code units: an emoji may be left as a lone surrogate, which is hostile too.
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

function hostileValue(r: Rng, depth = 0): unknown {
  switch (r.int(10)) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
    case 3:
      return r.pick(EDGE_NUMBERS);
    case 4:
    case 5:
      return r.pick(EDGE_STRINGS);
    case 6:
      return r.chance(0.2) ? hugeString(r) : `${r.pick(EDGE_STRINGS)}${r.int(100)}`;
    case 7:
      return depth > 3 ? [] : Array.from({ length: r.int(4) }, () => hostileValue(r, depth + 1));
    case 8:
      return depth > 3 ? {} : Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick([...FIELDS, ...EDGE_STRINGS]), hostileValue(r, depth + 1)]));
    default:
      return undefined;
  }
}

/** Raw JSON text that JSON.stringify would not write: `__proto__` keys, repeated keys, special numbers. */
function trickyText(r: Rng, raw: Raw): string {
  const body = JSON.stringify(raw).slice(1, -1);
  const inner = JSON.stringify({ eventId: 'proto', type: 'login', ts: 1, accountId: 'p', ip: '1.2.3.4', success: true });
  switch (r.int(8)) {
    case 0:
      return `{"__proto__":${inner}}`;
    case 1:
      return `{"__proto__":${inner},${body}}`;
    case 2:
      // A repeated key: the last one wins in JSON.parse.
      return `{${body},"ts":${r.pick(['1e400', '-1e400', '-0', '1E+20', '253402300800000', '0.0', '1e-400'])}}`;
    case 3:
      return `{"constructor":{"prototype":{"eventId":"x"}},${body}}`;
    case 4:
      return `\ufeff{${body}}`;
    case 5:
      return `{${body}}${r.pick(['', ' ', '\t', ' x', ',', '}', '{}'])}`;
    case 6:
      return `{${body},"type":${r.pick(['null', '[]', '{}', '"login"', '"__proto__"', '1'])}}`;
    default:
      return `{${body},${JSON.stringify(r.pick(EDGE_STRINGS))}:${JSON.stringify(hostileValue(r))}}`;
  }
}

/** A line that is almost always invalid (a mutation may leave an event valid: that is allowed). */
export function hostileLine(r: Rng, n: number): string {
  const base = validEvent(r, n).raw;
  switch (r.int(12)) {
    case 0:
    case 1:
    case 2: {
      // One field of a valid event set to something hostile (or removed).
      const field = r.chance(0.9) ? r.pick(FIELDS) : r.pick(EDGE_STRINGS);
      return JSON.stringify({ ...base, [field]: hostileValue(r) });
    }
    case 3: {
      // Several fields at once.
      const raw = { ...base };
      for (let i = 0, k = 2 + r.int(4); i < k; i++) raw[r.pick(FIELDS)] = hostileValue(r);
      return JSON.stringify(raw);
    }
    case 4:
      return trickyText(r, base);
    case 5:
      // Not an object.
      return JSON.stringify(r.chance(0.5) ? hostileValue(r) : [base]) ?? 'undefined';
    case 6:
      // Deep nesting.
      return r.chance(0.5) ? `${'['.repeat(10_000)}${']'.repeat(10_000)}` : `{"eventId":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}`;
    case 7: {
      // Random bytes, decoded as a log is (invalid UTF-8 becomes U+FFFD).
      const bytes = Buffer.from(Array.from({ length: 1 + r.int(200) }, () => r.int(256)));
      return bytes.toString('utf8');
    }
    case 8: {
      // A valid line cut short, or with bytes flipped.
      const text = JSON.stringify(base);
      if (r.chance(0.5)) return text.slice(0, r.int(text.length));
      const chars = [...text];
      for (let i = 0, k = 1 + r.int(3); i < k; i++) chars[r.int(chars.length)] = String.fromCharCode(r.int(128));
      return chars.join('');
    }
    case 9:
      // Near-valid: just outside the contract in one way.
      return JSON.stringify({
        ...base,
        ...r.pick<Raw>([
          { ts: r.pick([MAX_TS + 1, -1, 1e20, 8.64e15 + 1, '1969-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999-00:01']) },
          { eventId: 'e'.repeat(MAX_ID_LENGTH + 1) },
          { accountId: 'a'.repeat(MAX_ID_LENGTH + 1) },
          { userAgent: 'u'.repeat(MAX_USER_AGENT_LENGTH + 1) },
          { ip: r.pick(['fe80::1%eth0', '::ffff:1.2.3.4%1', '1.2.3.4 ', '::ffff:1.2.3.256']) },
          { type: r.pick(['Login', 'logout', '']) },
        ]),
      });
    case 10:
      return r.pick(['', ' ', 'null', 'true', '{}', '[]', '""', '{"a":1}', '\u0000', '{"eventId":"e"}', 'NaN', '{"eventId":"e","type":"login"']);
    default:
      return JSON.stringify(Object.fromEntries(FIELDS.filter(() => r.chance(0.6)).map((f) => [f, hostileValue(r)])));
  }
}

export interface DecoderFuzzSummary {
  lines: number;
  valid: number;
  invalid: Partial<Record<InvalidReason, number>>;
}

const REASONS: ReadonlySet<string> = new Set(INVALID_REASONS);

function fail(message: string): never {
  throw new Error(message);
}

/** Events compare without their absent optional fields (`{deviceId: undefined}` is `{}`). */
function same(a: unknown, b: unknown): boolean {
  const strip = (v: unknown) => (v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) : v);
  return isDeepStrictEqual(strip(a), strip(b));
}

/** What every valid event must satisfy whatever line it came from. */
function checkInvariants(ev: FraudEvent, line: string): void {
  const where = () => `line ${JSON.stringify(line.slice(0, 300))}`;
  if (!Number.isInteger(ev.ts) || ev.ts < 0 || ev.ts > MAX_TS) fail(`valid event with ts ${ev.ts}: ${where()}`);
  for (const f of ['eventId', 'accountId', 'deviceId', 'sessionId', 'titleId'] as const) {
    const v = (ev as unknown as Record<string, unknown>)[f];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID_LENGTH)) fail(`valid event with ${f} of length ${String(v).length}: ${where()}`);
  }
  if (ev.userAgent !== undefined && ev.userAgent.length > MAX_USER_AGENT_LENGTH) fail(`valid event with a long userAgent: ${where()}`);
  if (ev.ip !== undefined && canonicalAddress(ev.ip) !== ev.ip) fail(`valid event with a non-canonical ip ${ev.ip}: ${where()}`);
}

/**
 * Decodes `lines` mixed lines from `r` in batches and checks: decodeEvent never throws; every
 * line gets exactly one outcome (an event, or one known reason with a message); each valid
 * event generated decodes to exactly its expected event, whether decoded alone or among the
 * hostile lines; and every event decoded from any line keeps the contract's invariants.
 */
export function fuzzDecoder(r: Rng, lines: number, onBatch?: (done: number) => void): DecoderFuzzSummary {
  const summary: DecoderFuzzSummary = { lines: 0, valid: 0, invalid: {} };
  const BATCH = 2_000;
  for (let start = 0; start < lines; start += BATCH) {
    const n = Math.min(BATCH, lines - start);
    const mixed: string[] = [];
    const validAt: number[] = [];
    const expected: FraudEvent[] = [];
    for (let i = 0; i < n; i++) {
      if (r.chance(0.35)) {
        const c = validEvent(r, start + i);
        validAt.push(mixed.length);
        expected.push(c.expected);
        mixed.push(JSON.stringify(c.raw));
      } else {
        mixed.push(hostileLine(r, start + i));
      }
    }
    const outcomes = mixed.map((line) => {
      let result;
      try {
        result = decodeEvent(line);
      } catch (err) {
        fail(`decodeEvent threw ${(err as Error).stack}\n  on line ${JSON.stringify(line.slice(0, 300))}`);
      }
      if (result.ok) {
        if (!result.event || typeof result.event !== 'object') fail(`ok without an event on line ${JSON.stringify(line.slice(0, 300))}`);
        checkInvariants(result.event, line);
        summary.valid++;
      } else {
        if (!REASONS.has(result.reason) || typeof result.message !== 'string' || result.message.length === 0) {
          fail(`bad outcome ${JSON.stringify(result).slice(0, 300)} on line ${JSON.stringify(line.slice(0, 300))}`);
        }
        if (result.message.length > 1000) fail(`a ${result.message.length}-character message on line ${JSON.stringify(line.slice(0, 100))}`);
        summary.invalid[result.reason] = (summary.invalid[result.reason] ?? 0) + 1;
      }
      summary.lines++;
      return result;
    });
    // The valid events among the hostile lines, and the same lines decoded alone.
    const alone = validAt.map((i) => decodeEvent(mixed[i]!));
    validAt.forEach((i, k) => {
      const among = outcomes[i]!;
      const want = expected[k]!;
      if (!among.ok || !same(among.event, want)) {
        fail(`valid line ${mixed[i]!.slice(0, 300)}\n  expected ${JSON.stringify(want)}\n  got ${JSON.stringify(among).slice(0, 500)}`);
      }
      const single = alone[k]!;
      if (!single.ok || !same(single.event, among.event)) fail(`line ${mixed[i]!.slice(0, 300)} decodes differently alone than among hostile lines`);
    });
    onBatch?.(summary.lines);
  }
  return summary;
}
