/**
 * Observability in the box: the series a fresh daemon exports (every known label value at 0,
 * build info, the last successful rules load), and the ops/ artefacts checked against them.
 * The Prometheus binaries are exercised in tests/observability.prometheus.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRules } from '../src/config/rules.js';
import { rulesSchema } from '../src/config/schema.js';
import { resolveDaemonConfig } from '../src/daemon/config.js';
import { Daemon } from '../src/daemon/daemon.js';
import { reloadRulesFile } from '../src/daemon/lifecycle.js';
import { ALERT_MODES, BUILD_INFO, DaemonMetrics, RELOAD_RESULTS, SUPPRESSION_REASONS } from '../src/daemon/metrics.js';
import { DETECTOR_IDS, DETECTORS } from '../src/detectors/registry.js';
import { SEVERITIES } from '../src/detectors/types.js';
import { Stats } from '../src/engine/stats.js';
import { EVENT_TYPES, INVALID_REASONS } from '../src/events/types.js';
import { StaticLocator } from '../src/geo/locator.js';
import { login, only, run } from './helpers.js';

type Series = { labels: Record<string, string | number>; value: number };

async function seriesOf(m: DaemonMetrics, name: string): Promise<Series[]> {
  m.sync();
  const all = await m.registry.getMetricsAsJSON();
  const metric = all.find((x) => x.name === name);
  if (metric === undefined) throw new Error(`${name} is not registered`);
  return metric.values as Series[];
}

/** Label values of the series, as sorted "a|b|c" keys in the given label order. */
function keys(series: Series[], labels: string[]): string[] {
  return series.map((s) => labels.map((l) => String(s.labels[l])).join('|')).sort();
}

function product(...lists: (readonly string[])[]): string[] {
  return lists.reduce<string[]>((acc, list) => acc.flatMap((a) => list.map((v) => (a === '' ? v : `${a}|${v}`))), ['']).sort();
}

const silent = pino({ level: 'silent' });
const tmp = mkdtempSync(join(tmpdir(), 'fw-obs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('metrics: labelled counters exist at 0 from the first scrape', () => {
  it('events by every event type of the contract', async () => {
    const s = await seriesOf(new DaemonMetrics(new Stats()), 'fraudwatch_events_total');
    expect(keys(s, ['type'])).toEqual([...EVENT_TYPES].sort());
    expect(s.every((x) => x.value === 0)).toBe(true);
  });

  it('invalid records by every reason of the decoder', async () => {
    const s = await seriesOf(new DaemonMetrics(new Stats()), 'fraudwatch_invalid_events_total');
    expect(keys(s, ['reason'])).toEqual([...INVALID_REASONS].sort());
    expect(s.every((x) => x.value === 0)).toBe(true);
  });

  it('alerts by every detector × severity × mode, and suppressions by detector × reason', async () => {
    const m = new DaemonMetrics(new Stats());
    const alerts = await seriesOf(m, 'fraudwatch_alerts_total');
    expect(keys(alerts, ['detector', 'severity', 'mode'])).toEqual(product(DETECTOR_IDS, SEVERITIES, ALERT_MODES));
    expect(alerts.every((x) => x.value === 0)).toBe(true);
    const suppressed = await seriesOf(m, 'fraudwatch_alerts_suppressed_total');
    expect(keys(suppressed, ['detector', 'reason'])).toEqual(product(DETECTOR_IDS, SUPPRESSION_REASONS));
    expect(suppressed.every((x) => x.value === 0)).toBe(true);
  });

  it('rules reloads by result', async () => {
    const s = await seriesOf(new DaemonMetrics(new Stats()), 'fraudwatch_rules_reloads_total');
    expect(keys(s, ['result'])).toEqual([...RELOAD_RESULTS].sort());
    expect(s.every((x) => x.value === 0)).toBe(true);
  });

  it('the engine counts to the initialised series and adds none (modes come from the rules schema)', async () => {
    // The modes a rule may have, read from the schema the rules are validated with.
    const schemaModes = new Set<string>();
    for (const mode of ['enforce', 'shadow', 'other']) {
      const ok = rulesSchema(DETECTORS).safeParse({ detectors: { brute_force: { mode } } }).success;
      if (ok) schemaModes.add(mode);
    }
    expect([...schemaModes].sort()).toEqual([...ALERT_MODES].sort());

    // Real alerts, cooldown suppressions and invalid records through the real pipeline.
    const attack = Array.from({ length: 25 }, (_, i) => login('a1', i * 15_000, '198.51.100.1', false));
    const invalid = [{ nope: true }, { eventId: 'x', type: 'logout', ts: 1, accountId: 'a' }];
    for (const mode of ALERT_MODES) {
      const r = run([...invalid, ...attack], { rules: only(['brute_force'], { brute_force: { mode } }) });
      const m = new DaemonMetrics(r.stats);
      const alerts = await seriesOf(m, 'fraudwatch_alerts_total');
      expect(alerts).toHaveLength(DETECTOR_IDS.length * SEVERITIES.length * ALERT_MODES.length);
      const counted = alerts.filter((x) => x.value > 0);
      expect(counted.length).toBeGreaterThan(0);
      for (const x of counted) expect(x.labels).toMatchObject({ detector: 'brute_force', mode });
      expect((await seriesOf(m, 'fraudwatch_alerts_suppressed_total')).length).toBe(DETECTOR_IDS.length * SUPPRESSION_REASONS.length);
      const inv = await seriesOf(m, 'fraudwatch_invalid_events_total');
      expect(inv).toHaveLength(INVALID_REASONS.length);
      expect(inv.filter((x) => x.value > 0).length).toBe(2);
      const ev = await seriesOf(m, 'fraudwatch_events_total');
      expect(keys(ev, ['type'])).toEqual([...EVENT_TYPES].sort());
      expect(ev.find((x) => x.labels.type === 'login')!.value).toBe(25);
    }
  });
});

describe('metrics: build info and the last successful rules load', () => {
  it('fraudwatch_build_info is 1 with the package, Node.js and kafkajs versions', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const kafkajs = JSON.parse(readFileSync('node_modules/kafkajs/package.json', 'utf8')) as { version: string };
    const s = await seriesOf(new DaemonMetrics(new Stats()), 'fraudwatch_build_info');
    expect(s).toEqual([{ labels: { version: pkg.version, node: process.versions.node, kafkajs: kafkajs.version }, value: 1 }]);
    expect(BUILD_INFO.version).not.toBe('unknown');
  });

  it('fraudwatch_rules_last_reload_success_timestamp_seconds: set at start, moved by an applied reload only', async () => {
    const name = 'fraudwatch_rules_last_reload_success_timestamp_seconds';
    const t0 = Date.now() / 1000;
    const m = new DaemonMetrics(new Stats());
    const start = (await seriesOf(m, name))[0]!.value;
    expect(start).toBeGreaterThanOrEqual(Math.floor(t0));
    expect(start).toBeLessThanOrEqual(Date.now() / 1000);

    const file = join(tmp, 'rules.yaml');
    const current = parseRules('', 'defaults');
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(file, 'lateness: 10s\n');
    const applied = reloadRulesFile(file, current, 'test', m, silent);
    expect(applied).toBeDefined();
    const afterApplied = (await seriesOf(m, name))[0]!.value;
    expect(afterApplied).toBeGreaterThan(start);

    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(file, 'lateness: banana\n');
    expect(reloadRulesFile(file, applied!, 'test', m, silent)).toBeUndefined();
    writeFileSync(file, 'lateness: 10s\n');
    expect(reloadRulesFile(file, applied!, 'test', m, silent)).toBeUndefined(); // unchanged
    expect((await seriesOf(m, name))[0]!.value).toBe(afterApplied);

    // The reload results the lifecycle counts are the initialised ones: no new series.
    const reloads = await seriesOf(m, 'fraudwatch_rules_reloads_total');
    expect(keys(reloads, ['result'])).toEqual([...RELOAD_RESULTS].sort());
    expect(Object.fromEntries(reloads.map((x) => [x.labels.result, x.value]))).toEqual({ applied: 1, rejected: 1 });
  });
});

/** The real daemon without Kafka: nothing to connect, no consumer; its HTTP endpoints as in production. */
class NoKafkaDaemon extends Daemon {
  protected override async connect(): Promise<void> {}
  protected override async startConsumer(): Promise<void> {}
}

async function get(port: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return res.text();
}

describe('metrics: fraudwatch_ready', () => {
  it('follows readiness on every scrape, without anyone asking /readyz', async () => {
    const config = resolveDaemonConfig({ httpPort: '0', brokers: '127.0.0.1:1' }, {});
    const d = new NoKafkaDaemon(config, parseRules('', 'defaults'), new StaticLocator({}), silent);
    await d.start();
    try {
      const ready = async () => /^fraudwatch_ready (\S+)$/m.exec(await get(d.httpPort, '/metrics'))?.[1];
      expect(await ready()).toBe('0'); // not joined
      const inner = d as unknown as { joined: boolean; lastFetch: number };
      inner.joined = true;
      inner.lastFetch = Date.now();
      expect(await ready()).toBe('1');
      inner.lastFetch = Date.now() - 60_000; // no fetch for a minute: brokers out of reach
      expect(await ready()).toBe('0');
    } finally {
      await d.stop('test');
    }
  });
});
