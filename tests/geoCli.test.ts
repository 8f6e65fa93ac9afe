/**
 * The geo setting end to end, through the CLI as users run it (built by `npm test`): validate,
 * replay through an mmdb (deterministic, and the same detections as geoip-lite on the same
 * data), and a backtest comparing the providers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRulesFile, parseRules } from '../src/config/rules.js';
import { resolveDaemonConfig } from '../src/daemon/config.js';
import { RulesError, type RulesIssue } from '../src/errors.js';
import { GeoipLiteProvider } from '../src/geo/locator.js';
import { cityRecord, writeMmdb, type MmdbNetwork } from './geoMmdbWriter.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['bin/fraudwatch.js', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'fw-geo-cli-'));
function file(name: string, bytes: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

const DEMO = 'fixtures/demo/events.jsonl';
const GOLDEN = readFileSync('fixtures/demo/expected-alerts.jsonl', 'utf8');

/** An mmdb saying, for every address of the demo log, exactly what geoip-lite says (one /32 or /128 each). */
function mirrorOfDemo(move: Record<string, Record<string, unknown>> = {}): MmdbNetwork[] {
  const ips = new Set<string>();
  for (const line of readFileSync(DEMO, 'utf8').split('\n')) {
    try {
      const ev = JSON.parse(line) as { ip?: unknown };
      if (typeof ev.ip === 'string') ips.add(ev.ip);
    } catch {
      // the demo's deliberately invalid lines
    }
  }
  const geoip = new GeoipLiteProvider();
  const out: MmdbNetwork[] = [];
  for (const ip of [...ips].sort()) {
    const p = geoip.locate(ip);
    if (p === null) continue;
    const record = move[ip] ?? cityRecord({ country: p.country, region: p.region || undefined, city: p.city || undefined, lat: p.lat, lon: p.lon, radius: p.accuracyKm });
    out.push({ cidr: ip, record });
  }
  return out;
}

const rulesText = (path: string) => `# the default rules, located with an mmdb\ngeo:\n  provider: mmdb\n  path: ${JSON.stringify(path)}\n`;

function issues(text: string): RulesIssue[] {
  try {
    parseRules(text, 'r.yaml');
  } catch (err) {
    if (err instanceof RulesError) return [...err.issues];
    throw err;
  }
  throw new Error('expected the rules to be rejected');
}

describe('the geo setting', () => {
  const mirror = file('mirror.mmdb', writeMmdb(mirrorOfDemo(), { buildEpoch: Date.UTC(2026, 8, 18, 4, 49, 38) / 1000 }));

  it('the default keeps the rulesVersion the golden alerts carry; an explicit or mmdb setting changes it', () => {
    const golden = (JSON.parse(GOLDEN.split('\n')[0]!) as { rulesVersion: string }).rulesVersion;
    expect(loadRulesFile('rules/default.yaml').version).toBe(golden);
    expect(parseRules('').version).toBe(golden);
    expect(parseRules('geo:\n  provider: geoip-lite\n').version).not.toBe(golden);
    const a = parseRules(rulesText(mirror));
    expect(a.version).not.toBe(golden);
    expect(a.geo).toMatchObject({ provider: 'mmdb', build: '2026-09-18T04:49:38Z', path: mirror });
    // Another build of the same file name: another version (an alert names its data).
    const other = file('other.mmdb', writeMmdb(mirrorOfDemo(), { buildEpoch: Date.UTC(2026, 8, 25) / 1000 }));
    expect(parseRules(rulesText(mirror)).version).toBe(a.version);
    expect(parseRules(rulesText(other)).version).not.toBe(a.version);
    // The same file replaced by another build under the same name: another version too.
    const swapped = file('swapped.mmdb', readFileSync(mirror));
    const before = parseRules(rulesText(swapped)).version;
    writeFileSync(swapped, readFileSync(other));
    expect(parseRules(rulesText(swapped)).version).not.toBe(before);
  });

  it('names the line, column and path of every problem', () => {
    expect(issues('geo:\n  provider: mmdb\n')).toMatchObject([{ code: 'FW_RULES_MISSING_KEY', line: 2, path: 'geo.path', message: expect.stringContaining('required with provider mmdb') }]);
    expect(issues('cooldown: 30m\ngeo:\n  provider: mmdb\n  path: /no/such.mmdb\n')).toMatchObject([
      { code: 'FW_RULES_INVALID_VALUE', line: 4, col: 9, path: 'geo.path', message: 'cannot read /no/such.mmdb: ENOENT: no such file or directory' },
    ]);
    expect(issues(`geo:\n  provider: mmdb\n  path: ${file('notes.txt', 'not a database')}\n`)[0]).toMatchObject({ line: 3, path: 'geo.path', message: expect.stringContaining('not a MaxMind DB file') });
    expect(issues(`geo:\n  provider: mmdb\n  path: ${file('country.mmdb', writeMmdb(mirrorOfDemo().slice(0, 3), { databaseType: 'GeoLite2-Country' }))}\n`)[0]).toMatchObject({
      path: 'geo.path',
      message: expect.stringContaining('not a City one'),
    });
    expect(issues('geo:\n  provider: maxmind\n')).toMatchObject([{ code: 'FW_RULES_INVALID_VALUE', line: 2, col: 13, path: 'geo.provider', message: 'expected provider geoip-lite or mmdb' }]);
    expect(issues('geo:\n  provider: geoip-lite\n  path: x.mmdb\n')).toMatchObject([{ code: 'FW_RULES_UNKNOWN_KEY', line: 3, col: 3, path: 'geo.path' }]);
  });

  it('validate prints the data and the version replay will use', () => {
    const rules = file('geo.yaml', rulesText(mirror));
    const r = cli(['validate', rules]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# rulesVersion: [0-9a-f]{12}\n# geo: mmdb \(GeoLite2-City built 2026-09-18T04:49:38Z, .*mirror\.mmdb\)\n/);
    expect(r.stdout).toContain('geo:\n  provider: mmdb\n');
    const def = cli(['validate', 'rules/default.yaml']);
    expect(def.stdout).toContain('# geo: geoip-lite (GeoLite2-City of 2023-11-15, bundled)\n');
    const bad = cli(['validate', file('bad.yaml', 'geo:\n  provider: mmdb\n  path: /no/such.mmdb\n')]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('bad.yaml:3:9 FW_RULES_INVALID_VALUE geo.path: cannot read /no/such.mmdb');
  });

  it('replay through the mmdb: byte-identical runs, and the same detections geoip-lite makes on the same data', () => {
    const rules = file('replay.yaml', rulesText(mirror));
    const a = cli(['replay', DEMO, '--rules', rules, '--quiet']);
    const b = cli(['replay', DEMO, '--rules', rules, '--quiet']);
    expect(a.code).toBe(0);
    expect(a.stdout.length).toBeGreaterThan(1000);
    expect(b.stdout).toBe(a.stdout);
    // Everything but the ids, which hash the rulesVersion, and the rulesVersion itself.
    const strip = (text: string) =>
      text
        .trim()
        .split('\n')
        .map((l) => {
          // Alert and episode ids hash the rules version, which names the geolocation data.
          const { alertId: _id, rulesVersion, episode, ...rest } = JSON.parse(l) as Record<string, unknown>;
          const ep = episode as { id: string } | undefined;
          return ep === undefined ? { rulesVersion, ...rest } : { rulesVersion, ...rest, episode: { ...ep, id: '<id>' } };
        });
    const viaMmdb = strip(a.stdout);
    const viaGeoipLite = strip(GOLDEN);
    expect(new Set(viaMmdb.map((x) => x.rulesVersion))).toEqual(new Set([parseRules(rulesText(mirror)).version]));
    expect(viaMmdb.map(({ rulesVersion: _v, ...x }) => x)).toEqual(viaGeoipLite.map(({ rulesVersion: _v, ...x }) => x));
    expect(cli(['replay', DEMO, '--rules', rules]).stderr).toMatch(/geo mmdb \(GeoLite2-City built 2026-09-18T04:49:38Z/);
  });

  it('backtest --compare with another provider: how the addresses moved, and the geo detectors\' diff', () => {
    // B: one home address moved across the world (a changed assignment in a newer build).
    const events = readFileSync(DEMO, 'utf8').split('\n');
    const firstIp = (JSON.parse(events.find((l) => l.includes('"type":"login"'))!) as { ip: string }).ip;
    const moved = file('moved.mmdb', writeMmdb(mirrorOfDemo({ [firstIp]: cityRecord({ country: 'JP', region: '13', city: 'Tokyo', lat: 35.6762, lon: 139.6503, radius: 20 }) })));
    const report = join(dir, 'report.html');
    const r = cli(['backtest', DEMO, '--rules', 'rules/default.yaml', '--compare', file('b.yaml', rulesText(moved)), '--report', report]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('geo geoip-lite (GeoLite2-City of 2023-11-15, bundled)');
    expect(r.stdout).toMatch(/geo mmdb \(GeoLite2-City built .*moved\.mmdb\)/);
    expect(r.stdout).toMatch(/Geolocation A → B: how the two databases place the log's [\d,]+ distinct addresses/);
    expect(r.stdout).toMatch(/another country\s+1\s/);
    expect(r.stdout).toMatch(/more than 50 km apart\s+1\s/);
    expect(r.stdout).toContain(firstIp);
    expect(r.stdout).toMatch(/Change A → B/);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('<section id="geo"><h2>Geolocation A → B</h2>');
    expect(html).toContain('geo B</dt><dd>mmdb (GeoLite2-City built');
  });

  it('the daemon takes --geo-db / FRAUDWATCH_GEO_DB', () => {
    expect(resolveDaemonConfig({}, { FRAUDWATCH_GEO_DB: '/data/GeoLite2-City.mmdb' }).geoDb).toBe('/data/GeoLite2-City.mmdb');
    expect(resolveDaemonConfig({ geoDb: '/a.mmdb' }, { FRAUDWATCH_GEO_DB: '/b.mmdb' }).geoDb).toBe('/a.mmdb');
    expect(resolveDaemonConfig({}, {}).geoDb).toBeUndefined();
    expect(cli(['run', '--help']).stdout).toContain('--geo-db <value>');
  });
});
