import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../src/events/decode.js';
import type { FraudEvent } from '../src/events/types.js';
import { haversineKm } from '../src/geo/distance.js';
import { DEMO_OPTIONS } from '../src/generate/demo.js';
import {
  DETECTORS,
  type GenerateOptions,
  INCIDENT_CLASSES,
  type Incident,
  type LabelsFile,
  MAX_DISORDER_MS,
  generateLog,
  generateToDir,
} from '../src/generate/generator.js';
import { CITIES, COARSE, COMMUTER_PAIRS, GEOIP_LITE_VERSION, type PoolCity, SHORT_HOP_PAIRS, SURGE_CLUSTERS, cityById } from '../src/generate/ipPool.js';
import { Rng } from '../src/generate/random.js';

interface GeoipLookup {
  country: string;
  region: string;
  city: string;
  ll: [number | null, number | null];
  area?: number;
}
const require = createRequire(import.meta.url);

function run(opts: GenerateOptions): { lines: string[]; labels: LabelsFile } {
  const { lines, labels } = generateLog(opts);
  return { lines: [...lines], labels };
}

interface Decoded {
  valid: { line: string; ev: FraudEvent }[];
  invalid: string[];
}

function decodeAll(lines: readonly string[]): Decoded {
  const out: Decoded = { valid: [], invalid: [] };
  for (const line of lines) {
    const r = decodeEvent(line);
    if (r.ok) out.valid.push({ line, ev: r.event });
    else out.invalid.push(line);
  }
  return out;
}

const keyOf = (k: { accountId: string } | { ip: string }) => ('accountId' in k ? k.accountId : k.ip);

describe('generator: determinism', () => {
  const opts: GenerateOptions = { seed: 11, accounts: 200, days: 10 };

  it('same seed and options give identical bytes; another seed does not', () => {
    const a = run(opts);
    const b = run(opts);
    expect(a.lines.join('\n')).toBe(b.lines.join('\n'));
    expect(JSON.stringify(a.labels)).toBe(JSON.stringify(b.labels));
    const c = run({ ...opts, seed: 12 });
    expect(c.lines.join('\n')).not.toBe(a.lines.join('\n'));
    expect(JSON.stringify(c.labels.incidents)).not.toBe(JSON.stringify(a.labels.incidents));
  });

  it('the generator never calls Math.random', async () => {
    const dir = new URL('../src/generate/', import.meta.url);
    for (const f of await readdir(dir)) {
      const src = await readFile(new URL(f, dir), 'utf8');
      expect(src, f).not.toMatch(/Math\.random/);
    }
  });

  it('Rng streams are keyed, bounded and reproducible', () => {
    const a = Rng.derive(1, 'x');
    const b = Rng.derive(1, 'x');
    const xs = Array.from({ length: 1000 }, () => a.int(3, 7));
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.int(3, 7)));
    expect(Math.min(...xs)).toBe(3);
    expect(Math.max(...xs)).toBe(7);
    expect(Rng.derive(1, 'y').u32()).not.toBe(Rng.derive(1, 'x').u32());
  });
});

describe('generator: a 200-account, 14-day log', () => {
  const opts: GenerateOptions = { seed: 5, accounts: 200, days: 14 };
  let lines: string[];
  let labels: LabelsFile;
  let decoded: Decoded;

  beforeAll(() => {
    ({ lines, labels } = run(opts));
    decoded = decodeAll(lines);
  });

  it('every line is a valid event or one of the counted invalid lines', () => {
    expect(labels.invalidLines).toBeGreaterThan(0);
    expect(decoded.invalid.length).toBe(labels.invalidLines);
    expect(lines.length).toBe(labels.events + labels.duplicateLines + labels.invalidLines);
  });

  it('duplicates are exact repeats of an earlier line, placed within a few seconds', () => {
    const first = new Map<string, string>();
    let dups = 0;
    for (const { line, ev } of decoded.valid) {
      const prev = first.get(ev.eventId);
      if (prev === undefined) first.set(ev.eventId, line);
      else {
        dups++;
        expect(line).toBe(prev);
      }
    }
    expect(dups).toBe(labels.duplicateLines);
    expect(first.size).toBe(labels.events);
    expect(dups / labels.events).toBeGreaterThan(0.0005);
    expect(dups / labels.events).toBeLessThan(0.005);
  });

  it('the log is in time order except for a little disorder of at most 10 s', () => {
    let maxTs = -Infinity;
    let displaced = 0;
    let worst = 0;
    for (const { ev } of decoded.valid) {
      if (ev.ts < maxTs) {
        displaced++;
        worst = Math.max(worst, maxTs - ev.ts);
      }
      maxTs = Math.max(maxTs, ev.ts);
    }
    expect(worst).toBeLessThanOrEqual(MAX_DISORDER_MS);
    expect(worst).toBe(labels.maxDisorderMs);
    expect(displaced).toBeGreaterThan(0);
    expect(displaced / decoded.valid.length).toBeLessThan(0.02);
    const start = Date.parse(labels.start);
    const end = Date.parse(labels.end);
    for (const { ev } of decoded.valid) expect(ev.ts >= start && ev.ts < end).toBe(true);
  });

  it('uses both timestamp forms, all three event types and both address families', () => {
    const numeric = decoded.valid.filter(({ line }) => /"ts":\d/.test(line)).length;
    expect(numeric / decoded.valid.length).toBeGreaterThan(0.003);
    expect(numeric / decoded.valid.length).toBeLessThan(0.03);
    expect(decoded.valid.some(({ line }) => /"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/.test(line))).toBe(true);
    const types = new Set(decoded.valid.map(({ ev }) => ev.type));
    expect([...types].sort()).toEqual(['account_update', 'login', 'playback']);
    expect(decoded.valid.some(({ ev }) => ev.ip?.includes(':'))).toBe(true);
    expect(decoded.valid.some(({ ev }) => ev.type === 'playback' && ev.action === 'heartbeat')).toBe(true);
  });

  it('labels cover every detector, at least twice each, with keys and ranges that hold events', () => {
    for (const det of DETECTORS) {
      expect(labels.incidents.filter((i) => i.detector === det).length, det).toBeGreaterThanOrEqual(2);
    }
    const start = Date.parse(labels.start);
    const end = Date.parse(labels.end);
    const byKey = new Map<string, number[]>();
    for (const { ev } of decoded.valid) {
      // An IPv4 address also counts for its /24: network incidents (distributed stuffing) are keyed by it.
      const net = ev.ip !== undefined && !ev.ip.includes(':') ? `${ev.ip.slice(0, ev.ip.lastIndexOf('.'))}.0/24` : undefined;
      for (const k of [ev.accountId, ev.ip, net]) {
        if (k === undefined) continue;
        let l = byKey.get(k);
        if (!l) byKey.set(k, (l = []));
        l.push(ev.ts);
      }
    }
    for (const inc of labels.incidents) {
      const s = Date.parse(inc.start);
      const e = Date.parse(inc.end);
      expect(s <= e && s >= start && e < end, inc.id).toBe(true);
      const ts = byKey.get(keyOf(inc.key)) ?? [];
      expect(ts.filter((t) => t >= s && t <= e).length, `${inc.id} ${inc.detector}`).toBeGreaterThan(0);
    }
    const ids = [...labels.incidents.map((i) => i.id), ...labels.traps.map((t) => t.id)];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('labels every trap class with the detectors that must stay quiet', () => {
    const classes = new Set(labels.traps.map((t) => t.class));
    for (const c of ['country_level_ips', 'plausible_flight', 'family_screens', 'shared_nat', 'one_trip_abroad', 'heavy_viewer', 'mistyper', 'commuter', 'new_account']) {
      expect(classes.has(c), c).toBe(true);
    }
    for (const t of labels.traps) {
      expect(t.quietDetectors.length).toBeGreaterThan(0);
      for (const d of [...t.quietDetectors, ...t.mayAlsoFire]) expect(DETECTORS as readonly string[]).toContain(d);
    }
  });

  it('a shared NAT address carries 50+ accounts within ten minutes, mostly successes', () => {
    const nat = labels.traps.find((t) => t.class === 'shared_nat')!;
    const ip = keyOf(nat.key);
    const logins = decoded.valid.map(({ ev }) => ev).filter((ev): ev is FraudEvent & { type: 'login' } => ev.type === 'login' && ev.ip === ip);
    const firstMorning = logins.filter((ev) => ev.ts - logins[0]!.ts < 10 * 60_000);
    expect(new Set(firstMorning.filter((ev) => ev.success).map((ev) => ev.accountId)).size).toBeGreaterThanOrEqual(50);
    expect(firstMorning.filter((ev) => !ev.success).length).toBeLessThan(10);
  });

  it('no background account has more than four devices streaming at once', () => {
    const incidentAccounts = new Set(labels.incidents.filter((i) => i.detector === 'concurrent_streams').map((i) => keyOf(i.key)));
    const active = new Map<string, Map<string, number>>();
    for (const { ev } of decoded.valid) {
      if (ev.type !== 'playback' || incidentAccounts.has(ev.accountId)) continue;
      let sessions = active.get(ev.accountId);
      if (!sessions) active.set(ev.accountId, (sessions = new Map()));
      if (ev.action === 'stop') sessions.delete(`${ev.deviceId}|${ev.sessionId}`);
      else sessions.set(`${ev.deviceId}|${ev.sessionId}`, ev.ts);
      const devices = new Set<string>();
      for (const [k, last] of sessions) if (ev.ts - last <= 15 * 60_000) devices.add(k.split('|')[0]!);
      expect(devices.size, ev.accountId).toBeLessThanOrEqual(4);
    }
  });
});

describe('generator: options', () => {
  it('noise off gives a clean, sorted, duplicate-free log', () => {
    const { lines, labels } = run({ seed: 3, accounts: 60, days: 6, noise: false });
    const d = decodeAll(lines);
    expect(d.invalid.length).toBe(0);
    expect(labels.invalidLines + labels.duplicateLines + labels.maxDisorderMs).toBe(0);
    expect(new Set(d.valid.map(({ ev }) => ev.eventId)).size).toBe(lines.length);
    for (let i = 1; i < d.valid.length; i++) expect(d.valid[i]!.ev.ts).toBeGreaterThanOrEqual(d.valid[i - 1]!.ev.ts);
  });

  it('incidents off leaves the traps but injects nothing', () => {
    const { labels } = run({ seed: 3, accounts: 120, days: 12, incidents: false });
    expect(labels.incidents).toEqual([]);
    expect(labels.traps.length).toBeGreaterThan(0);
  });

  it('rejects nonsense options', () => {
    expect(() => generateLog({ seed: 1.5, accounts: 10, days: 1 })).toThrow(/seed/);
    expect(() => generateLog({ seed: 1, accounts: 0, days: 1 })).toThrow(/accounts/);
    expect(() => generateLog({ seed: 1, accounts: 10, days: 1, start: '2026-01-05T00:00:00' })).toThrow(/zone/);
    expect(() => generateLog({ seed: 1, accounts: 10, days: 1, backgroundViewing: 2 })).toThrow(/backgroundViewing/);
  });

  it('the demo preset has an incident for every detector and stays small', () => {
    const { lines, labels } = run(DEMO_OPTIONS);
    for (const det of DETECTORS) expect(labels.incidents.some((i) => i.detector === det), det).toBe(true);
    // Every class but the one-day viewing jump (too few accounts for two viewing incidents), and every trap class.
    const classes = new Set(labels.incidents.map((i) => i.class));
    for (const cls of Object.keys(INCIDENT_CLASSES)) expect(classes.has(cls as Incident['class']), cls).toBe(cls !== 'viewing_jump');
    expect(new Set(labels.traps.map((t) => t.class))).toEqual(new Set(TRAP_CLASSES));
    const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    // The detection-fidelity viewing traps (long evenings, young heavy viewers) stream at full length.
    expect(bytes).toBeLessThan(3_500_000);
  });

  it('generateToDir writes exactly what generateLog streams', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fraudwatch-generate-'));
    try {
      const opts: GenerateOptions = { seed: 9, accounts: 40, days: 5 };
      const r = await generateToDir(opts, dir);
      const { lines, labels } = run(opts);
      expect(await readFile(join(dir, 'events.jsonl'), 'utf8')).toBe(lines.map((l) => `${l}\n`).join(''));
      expect(JSON.parse(await readFile(join(dir, 'labels.json'), 'utf8'))).toEqual(labels);
      expect(r).toEqual({
        events: labels.events,
        invalid: labels.invalidLines,
        duplicates: labels.duplicateLines,
        incidents: labels.incidents.length,
        traps: labels.traps.length,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const TRAP_CLASSES = [
  'campus_network',
  'commuter',
  'country_level_ips',
  'family_screens',
  'heavy_evening',
  'heavy_viewer',
  'home_move',
  'mistyper',
  'new_account',
  'new_account_viewer',
  'one_trip_abroad',
  'phone_upgrade',
  'owner_mistypes',
  'plausible_flight',
  'repeat_trip',
  'shared_nat',
  'travel_logins',
  'two_trips_abroad',
  'young_heavy_viewer',
];

const aton = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);

/** The pool city an IPv4 address was handed out from (the table is checked against geoip-lite below). */
function placeOf(ip: string): PoolCity | undefined {
  if (ip.includes(':')) return CITIES.find((c) => c.v6.some((p) => ip.startsWith(p.replace(/::\/48$/, ':'))));
  const n = aton(ip);
  return CITIES.find((c) => c.v4.some(([a, b]) => n >= aton(a) && n <= aton(b)));
}

/** Sums viewing per local day (of the session's start): stop − start of each session, or its last event − start. */
function dailyViewing(evs: readonly FraudEvent[], utcOffset: number): Map<number, number> {
  const sessions = new Map<string, { start: number; end: number }>();
  for (const ev of evs) {
    if (ev.type !== 'playback') continue;
    const s = sessions.get(ev.sessionId);
    if (!s) sessions.set(ev.sessionId, { start: ev.ts, end: ev.ts });
    else s.end = Math.max(s.end, ev.ts);
  }
  const days = new Map<number, number>();
  for (const { start, end } of sessions.values()) {
    const d = Math.floor((start + utcOffset * HOUR) / DAY);
    days.set(d, (days.get(d) ?? 0) + (end - start));
  }
  return days;
}

describe('generator: incident classes, and the detection-depth classes of issue 7', () => {
  // Every class at least twice from 200 accounts and 21 days (the README's scale promise).
  const opts: GenerateOptions = { seed: 21, accounts: 200, days: 21 };
  let labels: LabelsFile;
  let events: FraudEvent[];
  const byAccount = new Map<string, FraudEvent[]>();

  beforeAll(() => {
    const r = run(opts);
    labels = r.labels;
    const seen = new Set<string>();
    events = [];
    for (const { ev } of decodeAll(r.lines).valid) {
      if (seen.has(ev.eventId)) continue;
      seen.add(ev.eventId);
      events.push(ev);
    }
    events.sort((a, b) => a.ts - b.ts);
    for (const ev of events) {
      let l = byAccount.get(ev.accountId);
      if (!l) byAccount.set(ev.accountId, (l = []));
      l.push(ev);
    }
  });

  const ofClass = (cls: Incident['class']) => {
    const list = labels.incidents.filter((i) => i.class === cls);
    expect(list.length, cls).toBeGreaterThanOrEqual(2);
    return list;
  };
  const inRange = (l: { start: string; end: string }, t: number) => t >= Date.parse(l.start) && t <= Date.parse(l.end);
  const accountOf = (l: { key: Incident['key'] }) => (l.key as { accountId: string }).accountId;
  const during = (inc: Incident) => (byAccount.get(accountOf(inc)) ?? []).filter((ev) => inRange(inc, ev.ts));
  const failures = (evs: readonly FraudEvent[]) => evs.filter((ev) => ev.type === 'login' && !ev.success).map((ev) => ev.ts);
  /** Most timestamps (sorted) within any window of `ms` starting at one of them. */
  const most = (ts: readonly number[], ms: number) => Math.max(0, ...ts.map((t, i) => ts.filter((u, j) => j >= i && u < t + ms).length));

  it('gives every incident a class, labelled with the class\'s detector, every class at least twice', () => {
    for (const inc of labels.incidents) expect(inc.detector, inc.id).toBe(INCIDENT_CLASSES[inc.class]);
    for (const cls of Object.keys(INCIDENT_CLASSES) as Incident['class'][]) ofClass(cls);
    expect(new Set(labels.traps.map((t) => t.class))).toEqual(new Set(TRAP_CLASSES));
  });

  it('keeps the counts of the classes that predate issue 7 (4 each at 960 accounts, viewing split 2 + 2)', () => {
    // Labels are complete before the log is read: this plans 960 accounts without writing them.
    const big = generateLog({ seed: 42, accounts: 960, days: 30 }).labels.incidents;
    const count = (cls: string) => big.filter((i) => i.class === cls).length;
    for (const cls of ['impossible_travel_login', 'geo_surge', 'brute_force_burst', 'stuffing_single_ip', 'unfamiliar_location', 'login_rate_spike', 'concurrent_streams', 'sharing_households', 'account_takeover']) {
      expect(count(cls), cls).toBe(4);
    }
    expect([count('viewing_binge'), count('viewing_jump')]).toEqual([2, 2]);
    for (const cls of ['slow_brute_force', 'slow_guessing', 'distributed_stuffing', 'short_hop', 'stolen_session_stream', 'viewing_habit_jump', 'sharing_recurrent']) {
      expect(count(cls), cls).toBe(4);
    }
  });

  it('slow attacks never reach 10 failures in 10 minutes; slow brute force reaches 30 in a day, slow guessing 15 to 29', () => {
    for (const inc of ofClass('slow_brute_force')) {
      const f = failures(during(inc));
      expect(most(f, 10 * MINUTE), inc.id).toBeLessThan(10);
      expect(most(f, DAY), inc.id).toBeGreaterThanOrEqual(30);
      expect(inc.mayAlsoFire).toEqual(['login_rate_anomaly']);
    }
    for (const inc of ofClass('slow_guessing')) {
      const f = failures(during(inc));
      expect(most(f, 10 * MINUTE), inc.id).toBeLessThan(10);
      expect(most(f, DAY), inc.id).toBeGreaterThanOrEqual(15);
      expect(most(f, DAY), inc.id).toBeLessThan(30);
    }
  });

  it('distributed stuffing: one /24 of 5+ addresses, each under 20 accounts, 30+ accounts within ten minutes, mostly failures', () => {
    for (const inc of ofClass('distributed_stuffing')) {
      const cidr = (inc.key as { ip: string }).ip;
      expect(cidr).toMatch(/^\d+\.\d+\.\d+\.0\/24$/);
      const prefix = cidr.slice(0, cidr.lastIndexOf('.') + 1);
      const logins = events.filter((ev): ev is FraudEvent & { type: 'login' } => ev.type === 'login' && ev.ip.startsWith(prefix));
      // The network is the attack's alone: nothing else ever comes from it.
      expect(logins.every((ev) => inRange(inc, ev.ts)), inc.id).toBe(true);
      expect(logins.at(-1)!.ts - logins[0]!.ts).toBeLessThan(10 * MINUTE);
      const perIp = new Map<string, Set<string>>();
      for (const ev of logins) perIp.set(ev.ip, (perIp.get(ev.ip) ?? new Set()).add(ev.accountId));
      expect(perIp.size).toBeGreaterThanOrEqual(5);
      for (const accounts of perIp.values()) expect(accounts.size).toBeLessThan(20);
      const failed = logins.filter((ev) => !ev.success);
      expect(new Set(failed.map((ev) => ev.accountId)).size).toBeGreaterThanOrEqual(30);
      expect(failed.length / logins.length).toBeGreaterThanOrEqual(0.8);
    }
  });

  it('short hops: two precise cities of one country, 150–450 km apart beyond both radii, minutes apart, faster than a plane', () => {
    for (const inc of ofClass('short_hop')) {
      const logins = during(inc).filter((ev) => ev.type === 'login' && ev.success);
      expect(logins.length, inc.id).toBe(2);
      const [a, b] = logins.map((ev) => placeOf(ev.ip!)!) as [PoolCity, PoolCity];
      expect(a.country).toBe(b.country);
      expect(Math.max(a.area, b.area)).toBeLessThanOrEqual(50);
      const eff = haversineKm(a.lat, a.lon, b.lat, b.lon) - a.area - b.area;
      expect(eff).toBeGreaterThanOrEqual(150);
      expect(eff).toBeLessThanOrEqual(450);
      const hours = (logins[1]!.ts - logins[0]!.ts) / HOUR;
      expect(hours * 60).toBeLessThan(30);
      expect(eff / hours).toBeGreaterThan(900);
    }
  });

  it('stolen sessions: a stream 4000+ km away overlaps the owner\'s home stream, and that address never logs in', () => {
    for (const inc of ofClass('stolen_session_stream')) {
      const evs = (byAccount.get(accountOf(inc)) ?? []).filter((ev) => ev.ts >= Date.parse(inc.start) - 2 * HOUR && ev.ts <= Date.parse(inc.end));
      const sessions = new Map<string, { ip: string; start: number; end: number }>();
      for (const ev of evs) {
        if (ev.type !== 'playback') continue;
        const s = sessions.get(ev.sessionId);
        if (!s) sessions.set(ev.sessionId, { ip: ev.ip, start: ev.ts, end: ev.ts });
        else s.end = ev.ts;
      }
      expect(sessions.size, inc.id).toBe(2);
      const [own, thief] = [...sessions.values()].sort((x, y) => x.start - y.start) as [{ ip: string; start: number; end: number }, { ip: string; start: number; end: number }];
      const [p, q] = [placeOf(own.ip)!, placeOf(thief.ip)!];
      expect(haversineKm(p.lat, p.lon, q.lat, q.lon)).toBeGreaterThanOrEqual(4000);
      expect(thief.start).toBeLessThan(own.end);
      expect(events.some((ev) => ev.type === 'login' && ev.ip === thief.ip)).toBe(false);
    }
  });

  it('habit jumps: about an hour a day for a week and more, then 8.5 h or more (under 16) on each of 3–4 days', () => {
    for (const inc of ofClass('viewing_habit_jump')) {
      const evs = byAccount.get(accountOf(inc))!;
      const home = placeOf(evs.find((ev) => ev.type === 'playback')!.ip!)!;
      const days = dailyViewing(evs, home.utcOffset);
      const start = Math.floor((Date.parse(inc.start) + home.utcOffset * HOUR) / DAY);
      const before = [...days].filter(([d]) => d < start).map(([, ms]) => ms / HOUR);
      expect(before.length, inc.id).toBeGreaterThanOrEqual(8);
      for (const h of before) expect(h).toBeLessThan(1.5);
      const jump = [...days].filter(([d, ms]) => d >= start && ms >= 8.5 * HOUR).map(([, ms]) => ms / HOUR);
      expect(jump.length, inc.id).toBeGreaterThanOrEqual(3);
      expect(jump.length, inc.id).toBeLessThanOrEqual(4);
      for (const h of jump) expect(h).toBeLessThan(16);
    }
  });

  it('recurrent sharing: home and just two other cities, each streaming on days at least a week apart', () => {
    for (const inc of ofClass('sharing_recurrent')) {
      const places = new Map<string, Set<number>>();
      for (const ev of byAccount.get(accountOf(inc))!) {
        if (ev.type !== 'playback') continue;
        const id = placeOf(ev.ip)!.id;
        places.set(id, (places.get(id) ?? new Set()).add(Math.floor(ev.ts / DAY)));
      }
      expect(places.size, inc.id).toBe(3);
      for (const [id, d] of places) {
        const span = Math.max(...d) - Math.min(...d);
        expect(span, `${inc.id} ${id}`).toBeGreaterThanOrEqual(7);
      }
      expect([...places.values()].filter((d) => d.size >= 3).length).toBeGreaterThanOrEqual(2);
    }
  });

  it('campus network trap: 30+ accounts succeed within ten minutes from one /24, typos from 5+ addresses, mostly successes', () => {
    const trap = labels.traps.find((t) => t.class === 'campus_network')!;
    const cidr = (trap.key as { ip: string }).ip;
    const prefix = cidr.slice(0, cidr.lastIndexOf('.') + 1);
    const logins = events.filter((ev): ev is FraudEvent & { type: 'login' } => ev.type === 'login' && ev.ip.startsWith(prefix));
    const afternoons = new Map<number, (FraudEvent & { type: 'login' })[]>();
    for (const ev of logins) {
      const d = Math.floor(ev.ts / DAY);
      afternoons.set(d, [...(afternoons.get(d) ?? []), ev]);
    }
    expect(afternoons.size).toBeGreaterThanOrEqual(4);
    for (const burst of afternoons.values()) {
      expect(burst.at(-1)!.ts - burst[0]!.ts).toBeLessThan(10 * MINUTE);
      expect(new Set(burst.filter((ev) => ev.success).map((ev) => ev.accountId)).size).toBeGreaterThanOrEqual(30);
      const failed = burst.filter((ev) => !ev.success);
      expect(new Set(failed.map((ev) => ev.ip)).size).toBeGreaterThanOrEqual(5);
      expect(new Set(failed.map((ev) => ev.accountId)).size).toBeLessThan(30);
      expect(failed.length / burst.length).toBeLessThan(0.5);
    }
  });

  it('two-trip trap: two countries, each hotel streaming on 2–3 consecutive days', () => {
    const trips = labels.traps.filter((t) => t.class === 'two_trips_abroad');
    const accounts = new Set(trips.map(accountOf));
    expect(accounts.size).toBeGreaterThanOrEqual(2);
    for (const acc of accounts) {
      const mine = trips.filter((t) => accountOf(t) === acc);
      expect(mine.length, acc).toBe(2);
      const home = placeOf(byAccount.get(acc)!.find((ev) => ev.type === 'login')!.ip!)!;
      const countries = mine.map((t) => {
        const abroad = byAccount.get(acc)!.filter((ev) => ev.type === 'playback' && inRange(t, ev.ts) && placeOf(ev.ip)!.country !== home.country);
        const days = new Set(abroad.map((ev) => Math.floor(ev.ts / DAY)));
        expect(days.size, `${acc} ${t.id}`).toBeGreaterThanOrEqual(1);
        expect(Math.max(...days) - Math.min(...days), `${acc} ${t.id}`).toBeLessThanOrEqual(2);
        return new Set(abroad.map((ev) => placeOf(ev.ip!)!.country));
      });
      expect(countries.map((c) => c.size)).toEqual([1, 1]);
      expect([...countries[0]!][0]).not.toBe([...countries[1]!][0]);
    }
  });

  it('new-account viewer trap: nothing before the trap starts, then 8.5 h or more every day', () => {
    const traps = labels.traps.filter((t) => t.class === 'new_account_viewer');
    expect(traps.length).toBeGreaterThanOrEqual(2);
    for (const t of traps) {
      const evs = byAccount.get(accountOf(t))!;
      expect(evs[0]!.ts).toBeGreaterThanOrEqual(Date.parse(t.start));
      const home = placeOf(evs.find((ev) => ev.type === 'playback')!.ip!)!;
      const days = [...dailyViewing(evs, home.utcOffset).values()].map((ms) => ms / HOUR);
      expect(days.length, t.id).toBeGreaterThanOrEqual(5);
      // The log may end in the middle of its last day.
      for (const h of days.slice(0, -1)) expect(h).toBeGreaterThanOrEqual(8.5);
    }
  });
});

describe('generator: detection fidelity classes and traps', () => {
  const opts: GenerateOptions = { seed: 23, accounts: 400, days: 21 };
  let labels: LabelsFile;
  const byAccount = new Map<string, FraudEvent[]>();

  beforeAll(() => {
    const r = run(opts);
    labels = r.labels;
    const seen = new Set<string>();
    for (const { ev } of decodeAll(r.lines).valid) {
      if (seen.has(ev.eventId)) continue;
      seen.add(ev.eventId);
      let l = byAccount.get(ev.accountId);
      if (!l) byAccount.set(ev.accountId, (l = []));
      l.push(ev);
    }
    for (const l of byAccount.values()) l.sort((a, b) => a.ts - b.ts);
  });

  const accountOf = (l: { key: Incident['key'] }) => (l.key as { accountId: string }).accountId;
  const ofClass = (cls: string) => {
    const list = labels.incidents.filter((i) => i.class === cls);
    expect(list.length, cls).toBeGreaterThanOrEqual(2);
    return list;
  };
  const trapsOf = (cls: string) => {
    const list = labels.traps.filter((t) => t.class === cls);
    expect(list.length, cls).toBeGreaterThanOrEqual(2);
    return list;
  };
  const logins = (acc: string) => byAccount.get(acc)!.filter((ev): ev is FraudEvent & { type: 'login' } => ev.type === 'login');

  it('young viewing jumps: 3–6 viewing days of about an hour, then three days of 9 h or more', () => {
    for (const inc of ofClass('viewing_young_jump')) {
      const evs = byAccount.get(accountOf(inc))!;
      const home = placeOf(evs.find((ev) => ev.type === 'playback')!.ip!)!;
      const days = dailyViewing(evs, home.utcOffset);
      const start = Math.floor((Date.parse(inc.start) + home.utcOffset * HOUR) / DAY);
      const before = [...days].filter(([d]) => d < start).map(([, ms]) => ms / HOUR);
      expect(before.length, inc.id).toBeGreaterThanOrEqual(3);
      expect(before.length, inc.id).toBeLessThanOrEqual(6);
      for (const h of before) expect(h).toBeLessThan(1.5);
      expect([...days].filter(([d, ms]) => d >= start && ms >= 9 * HOUR).length, inc.id).toBe(3);
    }
  });

  it('young login spikes: 20+ attempts within an hour, less than two days after the account\'s first event', () => {
    for (const inc of ofClass('login_rate_young_spike')) {
      const evs = logins(accountOf(inc));
      const spike = evs.filter((ev) => ev.ts >= Date.parse(inc.start) && ev.ts <= Date.parse(inc.end));
      expect(spike.length, inc.id).toBeGreaterThanOrEqual(20);
      expect(spike.at(-1)!.ts - spike[0]!.ts).toBeLessThan(HOUR);
      const first = byAccount.get(accountOf(inc))![0]!.ts;
      expect(spike[0]!.ts - first, inc.id).toBeLessThan(2 * DAY);
    }
  });

  it('interleaved bursts: 12+ failures from one address within ten minutes, never 10 between two successes, the owner\'s successes from another address', () => {
    for (const inc of ofClass('brute_force_interleaved')) {
      const evs = logins(accountOf(inc)).filter((ev) => ev.ts >= Date.parse(inc.start) && ev.ts <= Date.parse(inc.end));
      const failed = evs.filter((ev) => !ev.success);
      expect(failed.length, inc.id).toBeGreaterThanOrEqual(12);
      expect(new Set(failed.map((ev) => ev.ip)).size).toBe(1);
      expect(failed.at(-1)!.ts - failed[0]!.ts).toBeLessThan(10 * MINUTE);
      const owner = evs.filter((ev) => ev.success && ev.ip !== failed[0]!.ip);
      expect(owner.length, inc.id).toBeGreaterThanOrEqual(1);
      let run = 0;
      for (const ev of evs) {
        run = ev.success ? 0 : run + 1;
        expect(run, inc.id).toBeLessThan(10);
      }
    }
    const attackerGotIn = (inc: Incident) => {
      const evs = logins(accountOf(inc)).filter((ev) => ev.ts >= Date.parse(inc.start) && ev.ts <= Date.parse(inc.end));
      const attacker = evs.find((ev) => !ev.success)!.ip;
      return evs.some((ev) => ev.success && ev.ip === attacker);
    };
    const critical = ofClass('brute_force_interleaved').filter(attackerGotIn);
    expect(critical.length).toBeGreaterThanOrEqual(1);
  });

  it('spread guessing: 40+ addresses in several countries, at most two failures each', () => {
    for (const inc of ofClass('spread_guessing')) {
      const failed = logins(accountOf(inc)).filter((ev) => !ev.success && ev.ts >= Date.parse(inc.start) && ev.ts <= Date.parse(inc.end));
      const perIp = new Map<string, number>();
      for (const ev of failed) perIp.set(ev.ip, (perIp.get(ev.ip) ?? 0) + 1);
      expect(perIp.size, inc.id).toBeGreaterThanOrEqual(40);
      expect(Math.max(...perIp.values())).toBeLessThanOrEqual(2);
      expect(new Set([...perIp.keys()].map((ip) => placeOf(ip)!.country)).size).toBeGreaterThanOrEqual(5);
    }
  });

  it('owner mistypes: 10+ failures within ten minutes, never 10 before a success sharing the address or the device', () => {
    for (const t of trapsOf('owner_mistypes')) {
      const evs = logins(accountOf(t)).filter((ev) => ev.ts >= Date.parse(t.start) && ev.ts <= Date.parse(t.end));
      const failed = evs.filter((ev) => !ev.success);
      expect(failed.length, t.id).toBeGreaterThanOrEqual(10);
      expect(evs.at(-1)!.ts - evs[0]!.ts).toBeLessThan(10 * MINUTE);
      // Counting as a source-aware rule does: a success clears failures from its address or device.
      let open: (FraudEvent & { type: 'login' })[] = [];
      for (const ev of evs) {
        if (ev.success) open = open.filter((f) => f.ip !== ev.ip && f.deviceId !== ev.deviceId);
        else open.push(ev);
        expect(open.length, t.id).toBeLessThan(10);
      }
    }
  });

  it('heavy evenings: every day, the start wandering over 3 h or more, some 24 h windows above 8 h', () => {
    for (const t of trapsOf('heavy_evening')) {
      const starts = byAccount.get(accountOf(t))!.filter((ev) => ev.type === 'playback' && ev.action === 'start').map((ev) => ev.ts);
      expect(starts.length, t.id).toBeGreaterThanOrEqual(15);
      const hours = starts.map((ts) => (ts % DAY) / HOUR);
      // Spread of start times within a day (a wrap past midnight counts as the short way round).
      const sorted = [...hours].sort((a, b) => a - b);
      const gaps = sorted.map((h, i) => (i === 0 ? sorted[0]! + 24 - sorted.at(-1)! : h - sorted[i - 1]!));
      expect(24 - Math.max(...gaps), t.id).toBeGreaterThanOrEqual(3);
    }
  });

  it('young heavy viewers: nothing before the trap starts, then 5 h or more on every full day', () => {
    for (const t of trapsOf('young_heavy_viewer')) {
      const evs = byAccount.get(accountOf(t))!;
      expect(evs[0]!.ts).toBeGreaterThanOrEqual(Date.parse(t.start));
      const home = placeOf(evs.find((ev) => ev.type === 'playback')!.ip!)!;
      const days = [...dailyViewing(evs, home.utcOffset).values()].map((ms) => ms / HOUR);
      expect(days.length, t.id).toBeGreaterThanOrEqual(3);
      for (const h of days.slice(0, -1)) expect(h).toBeGreaterThanOrEqual(5);
    }
  });
});

describe('ipPool: every entry still resolves as the table says', () => {
  let geoip: { lookup(ip: string): GeoipLookup | null };
  const v4 = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const ntoa = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

  beforeAll(() => {
    const pkg = require('geoip-lite/package.json') as { version: string };
    expect(pkg.version).toBe(GEOIP_LITE_VERSION);
    geoip = require('geoip-lite') as typeof geoip;
  });

  it('city ranges: first, middle and last address name the city, precisely', () => {
    expect(CITIES.length).toBeGreaterThanOrEqual(50);
    expect(new Set(CITIES.map((c) => c.country)).size).toBeGreaterThanOrEqual(25);
    for (const c of CITIES) {
      expect(c.area, c.id).toBeLessThanOrEqual(100);
      expect(c.v4.length, c.id).toBeGreaterThanOrEqual(3);
      for (const [first, last] of c.v4) {
        expect(v4(last) - v4(first), `${c.id} ${first}`).toBeGreaterThanOrEqual(255);
        for (const ip of [first, ntoa(Math.floor((v4(first) + v4(last)) / 2)), last]) {
          const g = geoip.lookup(ip);
          expect(g && { country: g.country, region: g.region, city: g.city, ll: g.ll, area: g.area }, `${c.id} ${ip}`).toEqual({
            country: c.country,
            region: c.region,
            city: c.city,
            ll: [c.lat, c.lon],
            area: c.area,
          });
        }
      }
      for (const prefix of c.v6) {
        const base = prefix.replace(/::\/48$/, '');
        for (const ip of [`${base}::1`, `${base}:ffff:ffff:ffff:ffff:ffff`, `${base}:1234:5678:9abc:def0:1`]) {
          const g = geoip.lookup(ip);
          expect(g && { country: g.country, city: g.city, ll: g.ll, area: g.area }, `${c.id} ${ip}`).toEqual({
            country: c.country,
            city: c.city,
            ll: [c.lat, c.lon],
            area: c.area,
          });
        }
      }
    }
    expect(CITIES.filter((c) => c.v6.length > 0).length).toBeGreaterThanOrEqual(5);
  });

  it('coarse ranges have no city and a radius of 500 km or more', () => {
    expect(COARSE.length).toBeGreaterThanOrEqual(5);
    for (const c of COARSE) {
      for (const [first, last] of c.v4) {
        for (const ip of [first, last]) {
          const g = geoip.lookup(ip)!;
          expect({ country: g.country, city: g.city, ll: g.ll, area: g.area }, `${c.id} ${ip}`).toEqual({ country: c.country, city: '', ll: [c.lat, c.lon], area: c.area });
          expect(g.area).toBeGreaterThanOrEqual(500);
        }
      }
    }
  });

  it('short-hop pairs: precise cities of one country, 150–450 km apart beyond both radii', () => {
    for (const [a, b] of SHORT_HOP_PAIRS) {
      const x = cityById(a);
      const y = cityById(b);
      expect(x.country, `${a}-${b}`).toBe(y.country);
      expect(Math.max(x.area, y.area), `${a}-${b}`).toBeLessThanOrEqual(50);
      const eff = haversineKm(x.lat, x.lon, y.lat, y.lon) - x.area - y.area;
      expect(eff, `${a}-${b}`).toBeGreaterThanOrEqual(150);
      expect(eff, `${a}-${b}`).toBeLessThanOrEqual(450);
    }
  });

  it('commuter pairs are neighbours in one country; surge clusters span countries within 500 km', () => {
    for (const [a, b] of COMMUTER_PAIRS) {
      const x = cityById(a);
      const y = cityById(b);
      expect(x.country).toBe(y.country);
      const d = haversineKm(x.lat, x.lon, y.lat, y.lon);
      expect(d, `${a}-${b}`).toBeGreaterThan(10);
      expect(d, `${a}-${b}`).toBeLessThan(80);
    }
    for (const cluster of SURGE_CLUSTERS) {
      const cities = cluster.map(cityById);
      expect(new Set(cities.map((c) => c.country)).size).toBeGreaterThanOrEqual(4);
      for (const x of cities) for (const y of cities) expect(haversineKm(x.lat, x.lon, y.lat, y.lon), `${x.id}-${y.id}`).toBeLessThan(500);
    }
  });
});
