/**
 * Hot reload of an mmdb in a long-lived locator and in the daemon, at unit level: the daemon is
 * constructed (its pipeline, metrics and geo binding) but never started, so no broker is needed.
 */
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRules, type Rules } from '../src/config/rules.js';
import { resolveDaemonConfig } from '../src/daemon/config.js';
import { Daemon } from '../src/daemon/daemon.js';
import type { DaemonMetrics } from '../src/daemon/metrics.js';
import { LiveLocator } from '../src/geo/live.js';
import { StreamsRunner } from '../src/streams/runner.js';
import { cityRecord, writeMmdb } from './geoMmdbWriter.js';

const IP = '81.2.69.160';
const LONDON = cityRecord({ country: 'GB', region: 'ENG', city: 'London', lat: 51.5074, lon: -0.1278, radius: 20 });
const PARIS = cityRecord({ country: 'FR', region: 'IDF', city: 'Paris', lat: 48.8566, lon: 2.3522, radius: 20 });
const BERLIN = cityRecord({ country: 'DE', region: 'BE', city: 'Berlin', lat: 52.52, lon: 13.405, radius: 20 });
const E1 = Date.UTC(2026, 8, 15) / 1000;
const E2 = Date.UTC(2026, 8, 22) / 1000;
const E3 = Date.UTC(2026, 8, 29) / 1000;
const db = (record: Record<string, unknown>, epoch: number) => writeMmdb([{ cidr: '81.2.69.0/24', record }], { buildEpoch: epoch });

type Line = Record<string, unknown> & { msg: string };

function capture(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  return { log, lines };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Replaces the file as weekly updates do: a new file written beside it, renamed over it. */
function replace(path: string, bytes: Buffer | string): void {
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

const open: LiveLocator[] = [];
afterEach(() => {
  for (const l of open.splice(0)) l.close();
});

async function live(path: string, log: Logger, fixed = false): Promise<LiveLocator> {
  const l = await LiveLocator.open({ provider: 'mmdb', path }, log, { debounceMs: 50, fixed });
  open.push(l);
  l.watch();
  return l;
}

describe('a locator that follows its database file', () => {
  it('swaps in a replaced file, keeps the old database when the replacement is corrupt, and takes the next good one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-geo-live-'));
    const path = join(dir, 'GeoLite2-City.mmdb');
    writeFileSync(path, db(LONDON, E1));
    const { log, lines } = capture();
    const locator = await live(path, log);
    expect(locator.lookup(IP)?.city).toBe('London');
    const swaps: string[] = [];
    locator.onSwap((info, previous) => swaps.push(`${previous.build} -> ${info.build}`));

    replace(path, db(PARIS, E2));
    await until('the swap', () => swaps.length === 1);
    // The cache was cleared: the same address now answers from the new data.
    expect(locator.lookup(IP)?.city).toBe('Paris');
    expect(locator.info.build).toBe('2026-09-22T00:00:00Z');
    expect(swaps).toEqual(['2026-09-15T00:00:00Z -> 2026-09-22T00:00:00Z']);
    expect(lines.find((l) => l.msg === 'geolocation database reloaded')).toMatchObject({ provider: 'mmdb', build: '2026-09-22T00:00:00Z', path, trigger: 'file change' });

    replace(path, Buffer.from('a half-written download'));
    await until('the rejection', () => lines.some((l) => l.code === 'FW_GEO_DB'));
    const rejected = lines.find((l) => l.code === 'FW_GEO_DB')!;
    expect(rejected).toMatchObject({ level: 50, path, msg: 'geolocation database rejected; the one in use stays' });
    expect(rejected.reason).toBe('not a MaxMind DB file (no metadata section: truncated, or another format)');
    expect(String(rejected.inUse)).toContain('2026-09-22T00:00:00Z');
    expect(locator.lookup(IP)?.city).toBe('Paris');
    expect(swaps).toHaveLength(1);

    replace(path, db(BERLIN, E3));
    await until('the next swap', () => swaps.length === 2);
    expect(locator.lookup(IP)?.city).toBe('Berlin');
  });

  it('an explicit check (SIGHUP) finds a changed file without any file event, and ignores an unchanged one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-geo-check-'));
    const path = join(dir, 'city.mmdb');
    writeFileSync(path, db(LONDON, E1));
    const { log, lines } = capture();
    const locator = await LiveLocator.open({ provider: 'mmdb', path }, log);
    open.push(locator);
    await locator.check('SIGHUP');
    expect(lines.filter((l) => l.msg === 'geolocation database reloaded')).toHaveLength(0);
    replace(path, db(PARIS, E2));
    await locator.check('SIGHUP');
    expect(locator.lookup(IP)?.city).toBe('Paris');
    expect(lines.find((l) => l.msg === 'geolocation database reloaded')).toMatchObject({ trigger: 'SIGHUP' });
  });
});

describe('the daemon follows the database (unit level, never started)', () => {
  const view = (d: Daemon) => d as unknown as { pipeline: { rules: Rules }; metrics: DaemonMetrics; lock: Promise<unknown> };

  it('a swap changes rulesVersion, fraudwatch_geo_info and fraudwatch_rules_info; a corrupt file changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-geo-daemon-'));
    const path = join(dir, 'GeoLite2-City.mmdb');
    writeFileSync(path, db(LONDON, E1));
    const { log, lines } = capture();
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, `geo:\n  provider: mmdb\n  path: ${JSON.stringify(path)}\n`);
    const rules = parseRules(`geo:\n  provider: mmdb\n  path: ${JSON.stringify(path)}\n`, file);
    const locator = await live(path, log);
    const daemon = view(new Daemon(resolveDaemonConfig({ httpPort: '0', rules: file }, {}), rules, locator, log));
    const metrics = async () => daemon.metrics.registry.metrics();

    expect(daemon.pipeline.rules.version).toBe(rules.version);
    expect(await metrics()).toContain('fraudwatch_geo_info{provider="mmdb",build="2026-09-15T00:00:00Z"} 1');
    expect(await metrics()).toContain(`fraudwatch_rules_info{version="${rules.version}"} 1`);

    replace(path, db(PARIS, E2));
    await until('the new rules', () => daemon.pipeline.rules.version !== rules.version);
    const v2 = daemon.pipeline.rules.version;
    const text = await metrics();
    expect(text).toContain('fraudwatch_geo_info{provider="mmdb",build="2026-09-22T00:00:00Z"} 1');
    expect(text).not.toContain('build="2026-09-15T00:00:00Z"');
    expect(text).toContain(`fraudwatch_rules_info{version="${v2}"} 1`);
    expect(text).not.toContain(`version="${rules.version}"`);
    expect(daemon.pipeline.rules.geo.build).toBe('2026-09-22T00:00:00Z');
    // The version is the one a fresh parse against the new file gives: replay of the same data agrees.
    expect(v2).toBe(parseRules(`geo:\n  provider: mmdb\n  path: ${JSON.stringify(path)}\n`, 'rules.yaml').version);
    expect(lines.find((l) => l.msg === 'geolocation database reloaded')).toMatchObject({ build: '2026-09-22T00:00:00Z' });
    expect(lines.find((l) => l.msg === 'rules version follows the geolocation data')).toMatchObject({ rulesVersion: v2 });

    // The rules file did not change: a reload says so, though the data under them did.
    await (daemon as unknown as Daemon).reloadRules('SIGHUP');
    expect(lines.filter((l) => l.msg === 'rules unchanged')).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'rules reloaded')).toHaveLength(0);
    expect(daemon.pipeline.rules.version).toBe(v2);

    replace(path, 'garbage');
    await until('the rejection', () => lines.some((l) => l.code === 'FW_GEO_DB'));
    await daemon.lock;
    expect(daemon.pipeline.rules.version).toBe(v2);
    expect(await metrics()).toContain('fraudwatch_geo_info{provider="mmdb",build="2026-09-22T00:00:00Z"} 1');
  });

  it('--geo-db over rules without a geo setting: the version names the mmdb, and a reload of unchanged rules is "unchanged"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-geo-flag-'));
    const path = join(dir, 'city.mmdb');
    const rulesFile = join(dir, 'rules.yaml');
    writeFileSync(path, db(LONDON, E1));
    writeFileSync(rulesFile, 'cooldown: 20m\n');
    const { log, lines } = capture();
    const parsed = parseRules('cooldown: 20m\n', rulesFile);
    const locator = await live(path, log, true);
    const d = new Daemon(resolveDaemonConfig({ httpPort: '0', rules: rulesFile }, {}), parsed, locator, log);
    const daemon = view(d);
    const bound = daemon.pipeline.rules.version;
    expect(bound).not.toBe(parsed.version);
    expect(daemon.pipeline.rules.geo).toMatchObject({ provider: 'mmdb', path });

    await d.reloadRules('SIGHUP');
    expect(lines.at(-1)).toMatchObject({ msg: 'rules unchanged' });
    expect(daemon.pipeline.rules.version).toBe(bound);
    expect(await daemon.metrics.registry.metrics()).toContain(`fraudwatch_rules_info{version="${bound}"} 1`);

    // A real change is applied and still bound to the mmdb.
    writeFileSync(rulesFile, 'cooldown: 25m\n');
    await d.reloadRules('file change');
    expect(daemon.pipeline.rules.effective.cooldown).toBe('25m');
    expect(daemon.pipeline.rules.geo.provider).toBe('mmdb');
    expect(await daemon.metrics.registry.metrics()).toContain(`fraudwatch_rules_info{version="${daemon.pipeline.rules.version}"} 1`);
  });

  it('the exactly-once runner rebinds its rules on a swap too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-geo-eos-'));
    const path = join(dir, 'GeoLite2-City.mmdb');
    writeFileSync(path, db(LONDON, E1));
    const { log } = capture();
    const rules = parseRules(`geo:\n  provider: mmdb\n  path: ${JSON.stringify(path)}\n`, 'rules.yaml');
    const locator = await live(path, log);
    const runner = new StreamsRunner(resolveDaemonConfig({ httpPort: '0', processing: 'exactly_once' }, {}), rules, locator, log) as unknown as { rules: Rules; metrics: DaemonMetrics };
    expect(runner.rules.version).toBe(rules.version);
    replace(path, db(PARIS, E2));
    await until('the new rules', () => runner.rules.version !== rules.version);
    expect(runner.rules.geo.build).toBe('2026-09-22T00:00:00Z');
    const text = await runner.metrics.registry.metrics();
    expect(text).toContain('fraudwatch_geo_info{provider="mmdb",build="2026-09-22T00:00:00Z"} 1');
    expect(text).toContain(`fraudwatch_rules_info{version="${runner.rules.version}"} 1`);
  });

  it('a rules reload naming another database opens it (asynchronously) and binds the rules to it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-geo-retarget-'));
    const a = join(dir, 'week-38', 'GeoLite2-City.mmdb');
    const b = join(dir, 'week-39', 'GeoLite2-City.mmdb');
    const rulesFile = join(dir, 'rules.yaml');
    const text = (p: string) => `geo:\n  provider: mmdb\n  path: ${JSON.stringify(p)}\n`;
    for (const [p, bytes] of [[a, db(LONDON, E1)], [b, db(PARIS, E2)]] as const) {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, bytes);
    }
    writeFileSync(rulesFile, text(a));
    const { log } = capture();
    const locator = await live(a, log);
    const d = new Daemon(resolveDaemonConfig({ httpPort: '0', rules: rulesFile }, {}), parseRules(text(a), rulesFile), locator, log);
    const daemon = view(d);
    writeFileSync(rulesFile, text(b));
    await d.reloadRules('file change');
    await until('the other database', () => locator.info.path === b);
    await daemon.lock;
    expect(locator.lookup(IP)?.city).toBe('Paris');
    expect(daemon.pipeline.rules.version).toBe(parseRules(text(b), rulesFile).version);
    expect(await daemon.metrics.registry.metrics()).toContain('fraudwatch_geo_info{provider="mmdb",build="2026-09-22T00:00:00Z"} 1');
  });
});
