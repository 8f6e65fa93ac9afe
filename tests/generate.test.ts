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
  type LabelsFile,
  MAX_DISORDER_MS,
  generateLog,
  generateToDir,
} from '../src/generate/generator.js';
import { CITIES, COARSE, COMMUTER_PAIRS, GEOIP_LITE_VERSION, SURGE_CLUSTERS, cityById } from '../src/generate/ipPool.js';
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

  it('labels cover all ten detectors, at least twice each, with keys and ranges that hold events', () => {
    for (const det of DETECTORS) {
      expect(labels.incidents.filter((i) => i.detector === det).length, det).toBeGreaterThanOrEqual(2);
    }
    const start = Date.parse(labels.start);
    const end = Date.parse(labels.end);
    const byKey = new Map<string, number[]>();
    for (const { ev } of decoded.valid) {
      for (const k of [ev.accountId, ev.ip]) {
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
    const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    expect(bytes).toBeLessThan(3_000_000);
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
