import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { canonicalAddress } from '../src/events/address.js';
import { decodeEvent, isDottedQuad, MAX_ID_LENGTH, MAX_TS, MAX_USER_AGENT_LENGTH, parseIsoWithZone } from '../src/events/decode.js';
// RFC 5952 written out independently of the code under test (shared with the decoder fuzz).
import { rfc5952 } from './fuzz/events.js';

const ok = (o: Record<string, unknown>) => decodeEvent(JSON.stringify(o));
const base = { eventId: 'e1', type: 'login', ts: '2026-03-02T08:00:00Z', accountId: 'a1', ip: '198.51.100.1', success: true };

describe('event contract v1', () => {
  it('accepts each type and normalises ts to epoch milliseconds', () => {
    const l = ok(base);
    expect(l).toMatchObject({ ok: true, event: { type: 'login', ts: Date.UTC(2026, 2, 2, 8), success: true } });
    const p = ok({ eventId: 'e2', type: 'playback', ts: 1772438400000, accountId: 'a1', ip: '2001:db8::1', deviceId: 'd', sessionId: 's', action: 'heartbeat' });
    expect(p).toMatchObject({ ok: true, event: { ts: 1772438400000, action: 'heartbeat', titleId: undefined } });
    const u = ok({ eventId: 'e3', type: 'account_update', ts: '2026-03-02T09:00:00.123+01:00', accountId: 'a1', change: 'email' });
    expect(u).toMatchObject({ ok: true, event: { ts: Date.UTC(2026, 2, 2, 8, 0, 0, 123), ip: undefined } });
  });

  it('ignores unknown extra fields', () => {
    expect(ok({ ...base, country: 'GB', nested: { a: 1 } }).ok).toBe(true);
  });

  const cases: [string, string, string][] = [
    ['not JSON', '{"eventId": "e1",', 'invalid_json'],
    ['an array', '[1,2]', 'not_an_object'],
    ['a number', '42', 'not_an_object'],
    ['no eventId', JSON.stringify({ ...base, eventId: undefined }), 'missing_field'],
    ['numeric accountId', JSON.stringify({ ...base, accountId: 7 }), 'wrong_type'],
    ['success as a string', JSON.stringify({ ...base, success: 'true' }), 'wrong_type'],
    ['no success', JSON.stringify({ ...base, success: undefined }), 'missing_field'],
    ['ts without a zone', JSON.stringify({ ...base, ts: '2026-03-02T08:00:00' }), 'bad_ts'],
    ['ts not a date', JSON.stringify({ ...base, ts: '2026-13-45T08:00:00Z' }), 'bad_ts'],
    ['fractional epoch', JSON.stringify({ ...base, ts: 1.5 }), 'bad_ts'],
    ['bad ip', JSON.stringify({ ...base, ip: '300.1.1.1' }), 'bad_ip'],
    ['login without ip', JSON.stringify({ ...base, ip: undefined }), 'missing_field'],
    ['unknown type', JSON.stringify({ ...base, type: 'logout' }), 'unknown_type'],
    ['bad action', JSON.stringify({ eventId: 'e', type: 'playback', ts: 1, accountId: 'a', ip: '198.51.100.1', deviceId: 'd', sessionId: 's', action: 'pause' }), 'bad_value'],
    ['playback without device', JSON.stringify({ eventId: 'e', type: 'playback', ts: 1, accountId: 'a', ip: '198.51.100.1', sessionId: 's', action: 'start' }), 'missing_field'],
    ['unknown change', JSON.stringify({ eventId: 'e', type: 'account_update', ts: 1, accountId: 'a', change: 'avatar' }), 'bad_value'],
    ['empty accountId', JSON.stringify({ ...base, accountId: '' }), 'bad_value'],
  ];
  it.each(cases)('rejects %s with a reason', (_name, line, reason) => {
    const r = decodeEvent(line);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe(reason);
      expect(r.message.length).toBeGreaterThan(5);
    }
  });

  it('allows account_update without ip, and validates it when present', () => {
    expect(ok({ eventId: 'e', type: 'account_update', ts: 1, accountId: 'a', change: 'phone', ip: 'nope' })).toMatchObject({ ok: false, reason: 'bad_ip' });
  });
});

describe('ISO-8601 parsing', () => {
  it('agrees with Date.parse on valid forms, to the millisecond', () => {
    const forms = [
      '2026-03-02T08:00:00Z',
      '2026-03-02T08:00Z',
      '2026-03-02T08:00:00.1Z',
      '2026-03-02T08:00:00.123Z',
      '2026-03-02T23:59:59.999+05:30',
      '2026-03-02T00:00:00-0800',
      '2024-02-29T12:00:00Z',
      '1999-12-31T23:59:59.5-01:00',
    ];
    for (const f of forms) expect(parseIsoWithZone(f)).toBe(Date.parse(f));
    expect(parseIsoWithZone('2026-03-02T08:00:00.123456789Z')).toBe(Date.UTC(2026, 2, 2, 8, 0, 0, 123));
  });

  it('agrees with Date.parse on random instants from year 0 to 9999, and on every day of years around leap-rule edges', () => {
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const maxMs = Date.parse('9999-12-31T23:59:59.999Z');
    const minMs = Date.parse('0000-01-01T00:00:00.000Z');
    const instants = Array.from({ length: 20_000 }, () => minMs + Math.floor((rnd(2 ** 30) / 2 ** 30) * (maxMs - minMs)));
    for (const year of [0, 4, 99, 100, 400, 1900, 1969, 1970, 2000, 2024, 2100]) {
      const start = Date.parse(`${String(year).padStart(4, '0')}-01-01T00:00:00Z`);
      for (let d = 0; d < 366; d++) instants.push(start + d * 86_400_000 + rnd(86_400_000));
    }
    for (const t of instants) {
      const iso = new Date(t).toISOString();
      expect(parseIsoWithZone(iso), iso).toBe(t);
    }
    // Years before 100 are years of the Common Era, not 1900 + year (Date.UTC's reading).
    expect(parseIsoWithZone('0050-06-01T00:00:00Z')).toBe(Date.parse('0050-06-01T00:00:00Z'));
  });

  it.each(['2026-03-02T08:00:00', '2026-03-02 08:00:00Z', '2025-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-03-02T24:00:00Z', '2026-03-02T08:60:00Z', '2026-03-02T08:00:00.Z', '2026-03-02T08:00:00Zjunk', '2026-03-02T08:00:00+25:00', '2026-3-2T08:00:00Z', ''])(
    'rejects %s',
    (s) => expect(parseIsoWithZone(s)).toBeNaN(),
  );
});

describe('IPv4 fast path', () => {
  it('accepts exactly what node:net isIP accepts as IPv4', () => {
    const fixed = [
      '0.0.0.0', '255.255.255.255', '1.2.3.4', '10.0.0.1', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.02.3.4', '1.2.3.04',
      '1..3.4', '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '1.2.3.4a', '1234.1.1.1', '::1', '::ffff:1.2.3.4', '', '1.2.3.255', '300.300.300.300',
    ];
    // Random strings over the characters that matter, biased towards near-misses.
    let seed = 11;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const alphabet = '0123456789....:a ';
    const random = Array.from({ length: 20_000 }, () => Array.from({ length: 7 + rnd(9) }, () => alphabet[rnd(alphabet.length)]).join(''));
    const octet = () => String(rnd(300));
    const quads = Array.from({ length: 5_000 }, () => [octet(), octet(), octet(), octet()].join('.'));
    for (const s of [...fixed, ...random, ...quads]) expect(isDottedQuad(s), s).toBe(isIP(s) === 4);
    expect(quads.filter((q) => isIP(q) === 4).length).toBeGreaterThan(1000);
  });
});

describe('event time range', () => {
  const at = (ts: unknown) => decodeEvent(JSON.stringify({ ...base, ts }));

  it('accepts years 1970 to 9999, as epoch milliseconds or ISO text', () => {
    expect(MAX_TS).toBe(Date.parse('9999-12-31T23:59:59.999Z'));
    for (const [ts, ms] of [
      [0, 0],
      [MAX_TS, MAX_TS],
      ['1970-01-01T00:00:00Z', 0],
      ['1970-01-01T01:00:00+01:00', 0],
      ['9999-12-31T23:59:59.999Z', MAX_TS],
      ['9999-12-31T23:59:59.999+01:00', MAX_TS - 3_600_000],
    ] as const) {
      expect(at(ts), String(ts)).toMatchObject({ ok: true, event: { ts: ms } });
    }
  });

  it.each([1e20, 8.64e15 + 1, MAX_TS + 1, -1, -8.64e15, 2 ** 53, '1969-12-31T23:59:59.999Z', '1970-01-01T00:00:00+00:01', '9999-12-31T23:59:59.999-00:01', '0001-01-01T00:00:00Z'])(
    'rejects %s as bad_ts',
    (ts) => expect(at(ts)).toMatchObject({ ok: false, reason: 'bad_ts' }),
  );

  it('quotes at most a short prefix of a bad value in the message', () => {
    const huge = 'x'.repeat(1_000_000);
    for (const line of [
      JSON.stringify({ ...base, ts: huge }),
      JSON.stringify({ ...base, type: huge }),
      JSON.stringify({ ...base, ip: huge }),
      JSON.stringify({ eventId: 'e', type: 'account_update', ts: 1, accountId: 'a', change: huge.slice(0, 200) }),
    ]) {
      const r = decodeEvent(line);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message.length).toBeLessThan(200);
    }
  });
});

describe('length limits on ids and free strings', () => {
  const playback = { eventId: 'e', type: 'playback', ts: 1, accountId: 'a', ip: '198.51.100.1', deviceId: 'd', sessionId: 's', action: 'start', titleId: 't' };
  const update = { eventId: 'e', type: 'account_update', ts: 1, accountId: 'a', change: 'email', deviceId: 'd' };
  const fields: [string, string, Record<string, unknown>, number][] = [
    ['eventId', 'login', base, MAX_ID_LENGTH],
    ['accountId', 'login', base, MAX_ID_LENGTH],
    ['deviceId', 'login', base, MAX_ID_LENGTH],
    ['userAgent', 'login', base, MAX_USER_AGENT_LENGTH],
    ['deviceId', 'playback', playback, MAX_ID_LENGTH],
    ['sessionId', 'playback', playback, MAX_ID_LENGTH],
    ['titleId', 'playback', playback, MAX_ID_LENGTH],
    ['userAgent', 'playback', playback, MAX_USER_AGENT_LENGTH],
    ['deviceId', 'account_update', update, MAX_ID_LENGTH],
    ['accountId', 'account_update', update, MAX_ID_LENGTH],
  ];
  it('has the documented limits', () => {
    expect([MAX_ID_LENGTH, MAX_USER_AGENT_LENGTH]).toEqual([256, 1024]);
  });

  it.each(fields)('%s of a %s event: the limit is accepted, one more is bad_value naming the field and the limit', (field, _type, event, max) => {
    expect(ok({ ...event, [field]: 'x'.repeat(max) })).toMatchObject({ ok: true, event: { [field]: 'x'.repeat(max) } });
    const r = ok({ ...event, [field]: 'x'.repeat(max + 1) });
    expect(r).toMatchObject({ ok: false, reason: 'bad_value' });
    if (!r.ok) {
      expect(r.message).toContain(`"${field}"`);
      expect(r.message).toContain(String(max));
    }
  });
});

describe('canonical addresses', () => {
  const ipOf = (ip: string) => {
    const r = ok({ ...base, ip });
    return r.ok ? r.event.ip : r.reason;
  };

  it.each([
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:1.2.3.4', '1.2.3.4'],
    ['::ffff:102:304', '1.2.3.4'],
    ['0:0:0:0:0:ffff:0102:0304', '1.2.3.4'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    // The deprecated IPv4-compatible form is not IPv4-mapped: it stays the IPv6 address it is.
    ['::1.2.3.4', '::102:304'],
    ['::102:304', '::102:304'],
    ['64:ff9b::198.51.100.1', '64:ff9b::c633:6401'],
    ['198.51.100.1', '198.51.100.1'],
  ])('%s becomes %s', (ip, canonical) => expect(ipOf(ip)).toBe(canonical));

  it.each(['fe80::1%eth0', 'fe80::1%1', '::ffff:1.2.3.4%0', '1.2.3.4%eth0', '::ffff:01.2.3.4', '1:2:3:4:5:6:7:8:9', `${'0:'.repeat(50)}1`, '1.2.3.4/32', ''])(
    'rejects %s as bad_ip',
    (ip) => expect(ipOf(ip)).toBe('bad_ip'),
  );

  it('gives one spelling to every spelling of random addresses, in RFC 5952 form, and agrees with isIP on validity', () => {
    let seed = 23;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let k = 0; k < 5_000; k++) {
      // Groups biased towards zero so that runs of every length occur.
      const groups = Array.from({ length: 8 }, () => (rnd(3) === 0 ? rnd(65_536) : 0));
      const mapped = rnd(5) === 0;
      if (mapped) groups.splice(0, 6, 0, 0, 0, 0, 0, 0xffff);
      const expected = mapped ? `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}` : rfc5952(groups);
      const spellings = [
        groups.map((g) => g.toString(16).padStart(4, '0')).join(':'),
        groups.map((g) => g.toString(16).toUpperCase()).join(':'),
        ipaddr.fromByteArray(groups.flatMap((g) => [g >> 8, g & 255])).toString(),
        `${groups.slice(0, 6).map((g) => g.toString(16)).join(':')}:${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`,
        expected,
      ];
      for (const s of spellings) {
        expect(isIP(s), s).not.toBe(0);
        expect(canonicalAddress(s), s).toBe(expected);
      }
    }
    // Random strings over the characters of addresses: valid exactly when isIP says so (no zone).
    const alphabet = '0123456789abcdefABCDEF::::..%';
    for (let k = 0; k < 50_000; k++) {
      const s = Array.from({ length: 2 + rnd(30) }, () => alphabet[rnd(alphabet.length)]).join('');
      const c = canonicalAddress(s);
      expect(c !== undefined, s).toBe(isIP(s) !== 0 && !s.includes('%'));
      if (c !== undefined) expect(canonicalAddress(c), s).toBe(c);
    }
  });
});

