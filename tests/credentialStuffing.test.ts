import { describe, expect, it } from 'vitest';
import { DETECTOR_INDEX } from '../src/detectors/registry.js';
import { Pipeline } from '../src/engine/pipeline.js';
import { decodeValue } from '../src/events/decode.js';
import { at, login, MIN, only, run, testLocator, type RawEvent } from './helpers.js';

const R = only(['credential_stuffing']);
const ATTACKER = '203.0.113.50';

/** `n` failed logins from `ip` against distinct accounts `${prefix}0…`, `stepMs` apart. */
function spray(ip: string, n: number, startMs: number, stepMs: number, prefix = 'victim-'): RawEvent[] {
  return Array.from({ length: n }, (_, i) => login(`${prefix}${i}`, startMs + i * stepMs, ip, false));
}

/** Swaps neighbours: every event moves by one step, within the lateness when steps are shorter. */
function swapPairs(evs: RawEvent[]): RawEvent[] {
  const out = [...evs];
  for (let i = 0; i + 1 < out.length; i += 2) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  return out;
}

describe('credential_stuffing: one address', () => {
  it('alerts on failures against 20 distinct accounts within 10 minutes', () => {
    const evs = spray(ATTACKER, 20, 0, 30_000); // the 20th at 570 s
    const alerts = run(evs, { rules: R }).of('credential_stuffing');
    expect(alerts).toHaveLength(1); // the network alert stays quiet: this address is judged on its own
    const a = alerts[0]!;
    expect(a.severity).toBe('high');
    expect(a.ip).toBe(ATTACKER);
    expect(a.accountId).toBeUndefined();
    expect(a.ts).toBe(at(570_000));
    expect(a.evidence).toEqual({
      scope: 'address',
      distinctAccounts: 20,
      distinctAccountsCapped: false,
      attempts: 20,
      failures: 20,
      failureRatio: 1,
      sampleAccounts: ['victim-10', 'victim-11', 'victim-12', 'victim-13', 'victim-14', 'victim-15', 'victim-16', 'victim-17', 'victim-18', 'victim-19'],
      minAccounts: 20,
      minFailureRatio: 0.8,
      window: '10m',
    });
    expect(a.eventIds).toEqual(evs.map((e) => e.eventId));
    expect(a.summary).toContain('20 distinct accounts');
  });

  it('stays quiet on 19 accounts, and on 20 accounts spread over more than the window', () => {
    expect(run(spray(ATTACKER, 19, 0, 30_000), { rules: R }).alerts).toHaveLength(0);
    // 35 s apart: at the 20th (665 s) the window starts at 65 s and holds the 18 failures from 70 s on.
    expect(run(spray(ATTACKER, 20, 0, 35_000), { rules: R }).alerts).toHaveLength(0);
  });

  it('needs a failure ratio of 0.8: 20 failures and 5 successes alert, 20 and 6 do not', () => {
    const mixed = (successes: number) => [
      ...spray(ATTACKER, 20, 0, 10_000),
      ...Array.from({ length: successes }, (_, i) => login(`user-${i}`, 5_000 + i * 10_000, ATTACKER, true)),
    ];
    const a = run(mixed(5), { rules: R }).of('credential_stuffing');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ distinctAccounts: 20, attempts: 25, failures: 20, failureRatio: 0.8 });
    expect(run(mixed(6), { rules: R }).alerts).toHaveLength(0); // 20 / 26 = 0.77
  });

  it('stays quiet on a NAT address: 200 accounts logging in, 25 of them after one typo', () => {
    const NAT = '198.51.100.200';
    const evs: RawEvent[] = [];
    for (let i = 0; i < 200; i++) {
      const t = i * 2_500; // 200 logins within 500 s
      if (i % 8 === 0) evs.push(login(`student-${i}`, t, NAT, false)); // 25 typos
      evs.push(login(`student-${i}`, t + 1_000, NAT, true));
    }
    const r = run(evs, { rules: R });
    expect(evs.filter((e) => e.success === false)).toHaveLength(25);
    expect(r.alerts).toHaveLength(0);
  });

  it('honours configured thresholds and window', () => {
    const r = only(['credential_stuffing'], { credential_stuffing: { minAccounts: 5, minFailureRatio: 0.5, window: '2m', prefixAggregation: false } });
    // Failures at 0 … 80 s, successes at 1 … 61 s: at the 5th failure, 5 of 10 attempts failed.
    const five = [...spray(ATTACKER, 5, 0, 20_000), ...Array.from({ length: 5 }, (_, i) => login(`user-${i}`, 1_000 + i * 15_000, ATTACKER, true))];
    const a = run(five, { rules: r }).of('credential_stuffing');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ distinctAccounts: 5, attempts: 10, failures: 5, failureRatio: 0.5, minAccounts: 5, window: '2m' });
    expect(run(spray(ATTACKER, 4, 0, 20_000), { rules: r }).alerts).toHaveLength(0);
    // 5 failures 40 s apart: at 160 s the 2 min window starts at 40 s and holds 4.
    expect(run(spray(ATTACKER, 5, 0, 40_000), { rules: r }).alerts).toHaveLength(0);
  });
});

describe('credential_stuffing: network prefix', () => {
  /** 60 failures against distinct accounts from 30 addresses of 203.0.113.0/24 (two each), 9 s apart. */
  function distributed(): RawEvent[] {
    return Array.from({ length: 60 }, (_, k) => login(`v-${k}`, k * 9_000, `203.0.113.${10 + (k % 30)}`, false));
  }

  it('alerts on a network whose addresses each stay below the address threshold', () => {
    const evs = distributed();
    const alerts = run(evs, { rules: R }).of('credential_stuffing');
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a.ip).toBe('203.0.113.0/24');
    expect(a.severity).toBe('high');
    expect(a.ts).toBe(at(29 * 9_000)); // the 30th account
    expect(a.evidence).toEqual({
      scope: 'network',
      prefix: '203.0.113.0/24',
      distinctAccounts: 30,
      distinctAccountsCapped: false,
      addressCount: 30,
      addresses: Array.from({ length: 20 }, (_, i) => `203.0.113.${20 + i}`),
      attempts: 30,
      failures: 30,
      failureRatio: 1,
      sampleAccounts: Array.from({ length: 10 }, (_, i) => `v-${20 + i}`),
      addressesJudgedAlone: [],
      minAccounts: 30,
      minAddresses: 5,
      minFailureRatio: 0.8,
      window: '10m',
    });
    expect(a.eventIds).toEqual(evs.slice(10, 30).map((e) => e.eventId));
  });

  it('stays quiet with prefix aggregation off, and below the network thresholds', () => {
    expect(run(distributed(), { rules: only(['credential_stuffing'], { credential_stuffing: { prefixAggregation: false } }) }).alerts).toHaveLength(0);
    expect(run(distributed().slice(0, 29), { rules: R }).alerts).toHaveLength(0);
    // 40 accounts from only 4 addresses (10 each, below the address threshold): too few addresses.
    const four = Array.from({ length: 40 }, (_, k) => login(`v-${k}`, k * 9_000, `203.0.113.${10 + (k % 4)}`, false));
    expect(run(four, { rules: R }).alerts).toHaveLength(0);
  });

  it('stays quiet on a campus network: many addresses, hundreds of successes, some typos', () => {
    const evs: RawEvent[] = [];
    for (let i = 0; i < 300; i++) {
      const ip = `198.51.100.${100 + (i % 50)}`;
      const t = i * 1_800; // 300 logins within 540 s
      if (i % 15 === 0 || i % 17 === 0) evs.push(login(`student-${i}`, t, ip, false));
      evs.push(login(`student-${i}`, t + 500, ip, true));
    }
    // 20 multiples of 15 and 18 of 17 below 300, two (0 and 255) of both: 36 typos; 36 / 336 fail.
    expect(evs.filter((e) => e.success === false)).toHaveLength(36);
    expect(run(evs, { rules: R }).alerts).toHaveLength(0);
  });

  it('does not report a single loud address again as its network', () => {
    // One address fails 25 accounts (0–240 s); then six neighbours fail one account each. Counted
    // naively the network would reach 30 accounts from 6 addresses at the 5th neighbour (290 s).
    const evs = [...spray('203.0.113.66', 25, 0, 10_000), ...Array.from({ length: 6 }, (_, i) => login(`other-${i}`, 250_000 + i * 10_000, `203.0.113.${70 + i}`, false))];
    const alerts = run(evs, { rules: R }).of('credential_stuffing');
    expect(alerts.map((a) => a.ip)).toEqual(['203.0.113.66']);
  });

  it('reports the spread part of an attack next to a loud address, naming the address', () => {
    const loud = spray('203.0.113.66', 25, 0, 10_000);
    const spread = Array.from({ length: 30 }, (_, i) => login(`other-${i}`, 255_000 + i * 5_000, `203.0.113.${100 + i}`, false));
    const alerts = run([...loud, ...spread], { rules: R }).of('credential_stuffing');
    expect(alerts.map((a) => a.ip)).toEqual(['203.0.113.66', '203.0.113.0/24']);
    const net = alerts[1]!;
    expect(net.ts).toBe(at(255_000 + 29 * 5_000));
    expect(net.evidence).toMatchObject({ distinctAccounts: 30, addressCount: 30, attempts: 55, failures: 55, addressesJudgedAlone: ['203.0.113.66'] });
    // Event ids come from the spread addresses only: the loud address has its own alert.
    expect(net.eventIds).toEqual(spread.slice(10).map((e) => e.eventId));
  });

  it('aggregates by the configured prefix lengths, IPv4 and IPv6', () => {
    const r = only(['credential_stuffing'], { credential_stuffing: { prefixV4: 16, prefixV6: 56, prefixMinAccounts: 6, prefixMinAddresses: 3 } });
    const v4 = Array.from({ length: 6 }, (_, k) => login(`v-${k}`, k * 10_000, `203.0.${k % 3}.7`, false));
    expect(run(v4, { rules: r }).of('credential_stuffing').map((a) => a.ip)).toEqual(['203.0.0.0/16']);
    const v6 = Array.from({ length: 6 }, (_, k) => login(`v-${k}`, k * 10_000, `2001:db8:1:${k % 3}a::${k + 1}`, false));
    expect(run(v6, { rules: r }).of('credential_stuffing').map((a) => a.ip)).toEqual(['2001:db8:1::/56']);
    // Default /48: 2001:db8:1:: and 2001:db8:2:: are different networks, 3 accounts each.
    const split = Array.from({ length: 6 }, (_, k) => login(`v-${k}`, k * 10_000, `2001:db8:${1 + (k % 2)}::${k + 1}`, false));
    const r48 = only(['credential_stuffing'], { credential_stuffing: { prefixMinAccounts: 6, prefixMinAddresses: 2 } });
    expect(run(split, { rules: r48 }).alerts).toHaveLength(0);
  });
});

describe('credential_stuffing: stream robustness and state', () => {
  it('gives the same alerts when events arrive out of order within the lateness', () => {
    const evs = [...spray(ATTACKER, 22, 0, 10_000), ...Array.from({ length: 60 }, (_, k) => login(`v-${k}`, k * 9_000, `198.51.100.${10 + (k % 30)}`, false))];
    const ordered = [...evs].sort((a, b) => Date.parse(String(a.ts)) - Date.parse(String(b.ts)));
    const inOrder = run(ordered, { rules: R }).alerts;
    expect(inOrder.map((a) => a.ip)).toEqual([ATTACKER, '198.51.100.0/24']);
    expect(run(swapPairs(ordered), { rules: R }).alerts).toEqual(inOrder);
    expect(run([...ordered].reverse(), { rules: R, latenessMs: 20 * MIN }).alerts).toEqual(inOrder);
  });

  it('lets a failure later than the lateness complete the attack it belongs to, and not an older one', () => {
    const nineteen = spray(ATTACKER, 19, 10_000, 10_000); // 10 … 190 s
    const late = login('victim-late', 0, ATTACKER, false);
    const r = run([...nineteen, late], { rules: R, latenessMs: 0 });
    expect(r.stats.late).toBe(1);
    const a = r.of('credential_stuffing');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ distinctAccounts: 20, attempts: 20, failures: 20 });
    expect(a[0]!.eventIds.at(-1)).toBe(late.eventId);
    // Stamped 11 min before the newest failure, it is outside the window: nothing to judge.
    const stale = login('victim-stale', 190_000 - 11 * MIN, ATTACKER, false);
    expect(run([...nineteen, stale], { rules: R, latenessMs: 0 }).alerts).toHaveLength(0);
  });

  it('counts a redelivered event (same eventId) once', () => {
    const nineteen = spray(ATTACKER, 19, 0, 10_000);
    expect(run([...nineteen, nineteen[3]!, nineteen[18]!], { rules: R }).alerts).toHaveLength(0);
    // 20 failures and 5 successes (ratio 0.8): redelivered successes must not dilute it.
    const successes = Array.from({ length: 5 }, (_, i) => login(`user-${i}`, 5_000 + i * 10_000, ATTACKER, true));
    const evs = [...spray(ATTACKER, 20, 0, 10_000), ...successes, ...successes];
    const a = run(evs, { rules: R }).of('credential_stuffing');
    expect(a).toHaveLength(1);
    expect(a[0]!.evidence).toMatchObject({ attempts: 25, failures: 20 });
  });

  it('keeps an address with only successes to a few numbers, and caps accounts under a long attack', () => {
    const alerts: unknown[] = [];
    const pipeline = new Pipeline({ rules: R, locator: testLocator(), latenessMs: 0, onAlert: (a) => alerts.push(a) });
    const push = (e: RawEvent) => pipeline.offer(decodeValue(e), 0, undefined);
    push(login('home-user', 0, '198.51.100.1', true));
    const slot = DETECTOR_INDEX.credential_stuffing!;
    const stateOf = (key: string) => pipeline.core.store('ip').get(key)?.states[slot];
    expect(stateOf('198.51.100.1')).toEqual({ slices: [Math.floor(Date.parse(at(0)) / 30_000), 1, 0] });
    expect(stateOf('198.51.100.0/24')).toEqual({ slices: [Math.floor(Date.parse(at(0)) / 30_000), 1, 0] });

    for (const e of spray(ATTACKER, 1000, 0, 500)) push(e); // 1000 accounts in 500 s
    pipeline.flush();
    const s = stateOf(ATTACKER) as { accounts: string[]; ids: string[]; slices: number[] };
    expect(s.accounts).toHaveLength(256);
    expect(s.accounts.at(-1)).toBe('victim-999');
    expect(s.ids).toHaveLength(20);
    expect(s.slices.length).toBeLessThanOrEqual(21 * 3);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s); // plain JSON data
    // Once the attack has left the window, the address is back to a single array.
    push(login('someone', 1_200_000, ATTACKER, true));
    expect(stateOf(ATTACKER)).toEqual({ slices: [Math.floor(Date.parse(at(1_200_000)) / 30_000), 1, 0] });
  });

  it('rejects out-of-range options', () => {
    expect(() => only(['credential_stuffing'], { credential_stuffing: { minFailureRatio: 1.5 } })).toThrow();
    expect(() => only(['credential_stuffing'], { credential_stuffing: { minFailureRatio: 0 } })).toThrow();
    expect(() => only(['credential_stuffing'], { credential_stuffing: { prefixV4: 40 } })).toThrow();
    expect(() => only(['credential_stuffing'], { credential_stuffing: { minAccounts: 1 } })).toThrow();
    expect(() => only(['credential_stuffing'], { credential_stuffing: { window: '2h' } })).toThrow();
  });
});
