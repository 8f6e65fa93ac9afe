/**
 * Observability in the box: the series a fresh daemon exports (every known label value at 0,
 * build info, the last successful rules load), and the ops/ artefacts checked against them.
 * The Prometheus binaries are exercised in tests/observability.prometheus.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
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

  it('state evictions by key kind, caught up from the engine', async () => {
    const stats = new Stats();
    const m = new DaemonMetrics(stats);
    const s = await seriesOf(m, 'fraudwatch_state_evictions_total');
    expect(keys(s, ['kind'])).toEqual(['account', 'ip']);
    expect(s.every((x) => x.value === 0)).toBe(true);
    stats.evictions.account += 25;
    const after = await seriesOf(m, 'fraudwatch_state_evictions_total');
    expect(Object.fromEntries(after.map((x) => [x.labels.kind, x.value]))).toEqual({ account: 25, ip: 0 });
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
    // The modes a rule may have, as the schema the rules are validated with lists them for every detector.
    for (const id of DETECTOR_IDS) {
      const parsed = rulesSchema(DETECTORS).safeParse({ detectors: { [id]: { mode: 'not-a-mode' } } });
      const issue = parsed.error?.issues.find((i) => i.path.join('.') === `detectors.${id}.mode`) as { values?: unknown[] } | undefined;
      expect(issue?.values?.map(String).sort(), id).toEqual([...ALERT_MODES].sort());
    }

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
  protected override async probe(): Promise<void> {}
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

// ---- ops/: the dashboard and the alerting rules use only what the daemon exports ----------------

const DASHBOARD = 'ops/grafana/fraudwatch-dashboard.json';
const ALERTS = 'ops/prometheus/fraudwatch-alerts.yml';
const ALERT_TESTS = 'ops/prometheus/fraudwatch-alerts.test.yml';

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/**
 * The metric names a PromQL expression selects. Strings, label matchers, ranges, grouping label
 * lists and dashboard variables are removed; what is left that is a name and not followed by "("
 * (a function or an aggregation) and not a keyword is a metric name. Grafana's
 * label_values(metric{...}, label) is read as its metric.
 */
export function metricNames(expr: string): string[] {
  const lv = /^\s*label_values\(\s*([a-zA-Z_:][\w:]*)?\s*(\{[^}]*\})?\s*,\s*\w+\s*\)\s*$/.exec(expr);
  if (lv) return lv[1] === undefined ? [] : [lv[1]];
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of s.matchAll(/(?<![\w.])[a-zA-Z_:][\w:]*/g)) {
    const next = s.slice(m.index + m[0].length).trimStart();
    if (next.startsWith('(') || PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Every name a scrape of a fresh DaemonMetrics can show: histograms as their _bucket, _sum and _count. */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await new DaemonMetrics(new Stats()).registry.getMetricsAsJSON()) {
    const type = String(m.type); // prom-client types it as a numeric enum; at run time it is the name
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(m.name + suffix);
    else names.add(m.name);
  }
  return names;
}

/** The PromQL of a dashboard: panel targets, annotation queries, query variables. */
function dashboardQueries(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const x of node) dashboardQueries(x, out);
  else if (node !== null && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (typeof o.expr === 'string') out.push(o.expr);
    if (o.type === 'query' && typeof o.definition === 'string') out.push(o.definition);
    for (const v of Object.values(o)) dashboardQueries(v, out);
  }
  return out;
}

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function alertRules(): AlertRule[] {
  const doc = parseYaml(readFileSync(ALERTS, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

describe('the PromQL metric-name reader', () => {
  it('finds metric names and nothing else', () => {
    expect(metricNames('sum by (type) (rate(fraudwatch_events_total{job=~"$job", type!="x y"}[$__rate_interval]))')).toEqual(['fraudwatch_events_total']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(a_bucket[5m])))')).toEqual(['a_bucket']);
    expect(metricNames('max without (partition) (a) - ignoring (partition) group_right b offset 1h')).toEqual(['a', 'b']);
    expect(metricNames('time() - x > 1e3 and on (job) y unless z == bool 0')).toEqual(['x', 'y', 'z']);
    expect(metricNames('sum(rate(a[1m])) by (job) / sum(b) without (le)')).toEqual(['a', 'b']);
    expect(metricNames('label_values(fraudwatch_build_info{job=~"$job"}, instance)')).toEqual(['fraudwatch_build_info']);
    expect(metricNames('{__name__="x"}')).toEqual([]);
  });
});

describe('ops/grafana/fraudwatch-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Record<string, unknown> & { panels: Record<string, unknown>[]; schemaVersion: number };

  it('queries only metrics a fresh DaemonMetrics exports', async () => {
    const exported = await exportedNames();
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThan(20);
    const used = new Set<string>();
    for (const q of queries) {
      const names = metricNames(q);
      expect(names.length, q).toBeGreaterThan(0);
      for (const n of names) {
        expect(exported.has(n), `${n} in: ${q}`).toBe(true);
        used.add(n);
      }
    }
    // The panels the issue asks for, by the metrics they read.
    for (const n of [
      'fraudwatch_events_total',
      'fraudwatch_consumer_lag',
      'fraudwatch_late_events_total',
      'fraudwatch_source_event_time_seconds',
      'fraudwatch_watermark_seconds',
      'fraudwatch_source_caught_up',
      'fraudwatch_alerts_total',
      'fraudwatch_alert_latency_seconds_bucket',
      'fraudwatch_reorder_buffered_events',
      'fraudwatch_tracked_keys',
      'fraudwatch_rules_reloads_total',
      'fraudwatch_invalid_events_total',
      'fraudwatch_ready',
      'fraudwatch_build_info',
      'fraudwatch_rules_last_reload_success_timestamp_seconds',
    ]) {
      expect(used.has(n), n).toBe(true);
    }
  });

  it('takes its data source from the ${DS_PROMETHEUS} variable, with a recent schema', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    const vars = (dashboard.templating as { list: { name: string; type: string; query: unknown }[] }).list;
    expect(vars.find((v) => v.name === 'DS_PROMETHEUS')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const sources: unknown[] = [];
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n !== null && typeof n === 'object') {
        const o = n as Record<string, unknown>;
        if ('datasource' in o) sources.push(o.datasource);
        Object.values(o).forEach(walk);
      }
    };
    walk(dashboard.panels);
    expect(sources.length).toBeGreaterThan(0);
    for (const ds of sources) expect(ds).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('alert latency p50 and p99 come from the histogram', () => {
    const queries = dashboardQueries(dashboard).filter((q) => q.includes('fraudwatch_alert_latency_seconds_bucket'));
    expect(queries.map((q) => /histogram_quantile\((0\.\d+),/.exec(q)?.[1]).sort()).toEqual(['0.5', '0.99']);
  });
});

describe('ops/prometheus/fraudwatch-alerts.yml', () => {
  const rules = alertRules();

  it('has the alerts the issue asks for, each with for:, a severity and a runbook line', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'FraudwatchNotReady',
        'FraudwatchConsumerLagGrowing',
        'FraudwatchLateEvents',
        'FraudwatchStateEvicting',
        'FraudwatchRulesReloadFailing',
        'FraudwatchDeadLetterRate',
        'FraudwatchNoEvents',
      ]),
    );
    for (const r of rules) {
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.runbook, r.alert).toMatch(/\w.{40,}/);
      expect(r.annotations?.runbook, r.alert).not.toContain('\n');
    }
  });

  it('uses only metrics the daemon exports (and up, for the target itself)', async () => {
    const exported = await exportedNames();
    exported.add('up');
    for (const r of rules) for (const n of metricNames(r.expr)) expect(exported.has(n), `${n} in ${r.alert}`).toBe(true);
  });

  it('every alert has a promtool test in which it fires and one in which it does not', () => {
    const doc = parseYaml(readFileSync(ALERT_TESTS, 'utf8')) as {
      rule_files: string[];
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    expect(doc.rule_files).toEqual(['fraudwatch-alerts.yml']);
    const cases = doc.tests.flatMap((t) => t.alert_rule_test);
    for (const r of rules) {
      expect(cases.some((c) => c.alertname === r.alert && c.exp_alerts.length > 0), `${r.alert} fires`).toBe(true);
      expect(cases.some((c) => c.alertname === r.alert && c.exp_alerts.length === 0), `${r.alert} stays silent`).toBe(true);
    }
  });
});

describe('docs/operations.md', () => {
  it('its PromQL blocks use only metrics the daemon exports', async () => {
    const exported = await exportedNames();
    const blocks = [...readFileSync('docs/operations.md', 'utf8').matchAll(/```promql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const q of blocks) {
      const names = metricNames(q);
      expect(names.length, q).toBeGreaterThan(0);
      for (const n of names) expect(exported.has(n), `${n} in: ${q}`).toBe(true);
    }
  });
});
