/**
 * Debian's Prometheus (apt package `prometheus`, which ships `promtool`) against ops/: the alerting
 * rules pass `promtool check rules` and their unit tests, and a real Prometheus server scrapes a
 * live fraudwatch /metrics endpoint (the daemon's HTTP server, in process, without Kafka), loads
 * the rules, and answers the dashboard's queries.
 *
 * Without the binaries the tests skip loudly; with FRAUDWATCH_REQUIRE_PROMETHEUS=1 (CI) they fail.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttp } from '../src/daemon/http.js';
import { BUILD_INFO, DaemonMetrics } from '../src/daemon/metrics.js';
import { Stats } from '../src/engine/stats.js';
import { EVENT_TYPES } from '../src/events/types.js';

const exec = promisify(execFile);
const REQUIRED = process.env.FRAUDWATCH_REQUIRE_PROMETHEUS === '1';
const ALERTS = resolve('ops/prometheus/fraudwatch-alerts.yml');
const ALERT_TESTS = resolve('ops/prometheus/fraudwatch-alerts.test.yml');
const EXAMPLE_CONFIG = resolve('ops/prometheus/prometheus.yml');
const DASHBOARD = resolve('ops/grafana/fraudwatch-dashboard.json');
const OPERATIONS = resolve('docs/operations.md');

function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, bin);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const PROMETHEUS = onPath('prometheus');
const PROMTOOL = onPath('promtool');
const missing = [PROMETHEUS === undefined && 'prometheus', PROMTOOL === undefined && 'promtool'].filter(Boolean);
if (missing.length > 0 && !REQUIRED) {
  console.warn(
    `\n${'!'.repeat(78)}\n!! SKIPPING PROMETHEUS TESTS: ${missing.join(' and ')} not on PATH (apt-get install prometheus).\n` +
      `!! CI sets FRAUDWATCH_REQUIRE_PROMETHEUS=1, which turns this skip into a failure.\n${'!'.repeat(78)}\n`,
  );
}

function requireBinaries(): void {
  if (missing.length > 0) throw new Error(`FRAUDWATCH_REQUIRE_PROMETHEUS=1 but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not on PATH (apt-get install prometheus)`);
}

// In CI a missing binary is a failed test, not only a failed hook.
it.runIf(REQUIRED)('prometheus and promtool are on PATH (FRAUDWATCH_REQUIRE_PROMETHEUS=1)', () => {
  expect(missing, 'apt-get install prometheus').toEqual([]);
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The PromQL of the dashboard (panel targets, annotations, query variables), variables filled in. */
function dashboardQueries(): string[] {
  const out: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n !== null && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      if (typeof o.expr === 'string') out.push(o.expr);
      Object.values(o).forEach(walk);
    }
  };
  walk(JSON.parse(readFileSync(DASHBOARD, 'utf8')));
  return out.map((q) => q.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*').replaceAll('$instance', '.*'));
}

interface QueryResult {
  status: string;
  error?: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe.skipIf(missing.length > 0 && !REQUIRED)('Prometheus and promtool on ops/prometheus', () => {
  beforeAll(requireBinaries);

  it('promtool check rules passes on the alerting rules', async () => {
    const { stdout } = await exec(PROMTOOL!, ['check', 'rules', ALERTS]);
    const rules = (parseYaml(readFileSync(ALERTS, 'utf8')) as { groups: { rules: unknown[] }[] }).groups.flatMap((g) => g.rules);
    expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('promtool test rules passes on their unit tests', async () => {
    const { stdout } = await exec(PROMTOOL!, ['test', 'rules', ALERT_TESTS]);
    expect(stdout).toContain('SUCCESS');
  });

  it('promtool check config passes on the example configuration', async () => {
    const { stdout } = await exec(PROMTOOL!, ['check', 'config', EXAMPLE_CONFIG]);
    expect(stdout).toContain('is valid prometheus config file syntax');
  });
});

describe.skipIf(missing.length > 0 && !REQUIRED)('a real Prometheus scrapes a live fraudwatch /metrics', () => {
  const stats = new Stats();
  const metrics = new DaemonMetrics(stats);
  let http: Server | undefined;
  let prometheus: ChildProcess | undefined;
  let promLog = '';
  let dir: string | undefined;
  let base = '';

  async function query(q: string): Promise<QueryResult> {
    const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as QueryResult;
    if (body.status !== 'success') throw new Error(`${q}: ${body.error ?? res.status}`);
    return body;
  }

  beforeAll(async () => {
    requireBinaries();
    const live = await startHttp('127.0.0.1', 0, { alive: () => true, ready: () => ({ ready: true, reason: 'test' }) }, metrics);
    http = live.server;
    metrics.ready.set(1);
    dir = mkdtempSync(join(tmpdir(), 'fw-prometheus-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(ALERTS)}`,
        'scrape_configs:',
        '  - job_name: fraudwatch',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${live.port}']`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    prometheus = spawn(PROMETHEUS!, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    prometheus.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
    prometheus.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
    const exited = new Promise<never>((_, reject) => prometheus!.once('exit', (code) => reject(new Error(`prometheus exited (${code}):\n${promLog}`))));
    exited.catch(() => undefined);
    await Promise.race([eventually('Prometheus to be ready', async () => ((await fetch(`${base}/-/ready`)).ok ? true : undefined)), exited]);
  });

  afterAll(async () => {
    const child = prometheus;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    if (http !== undefined) await new Promise<void>((r) => http!.close(() => r()));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('answers fraudwatch_build_info through its HTTP API', async () => {
    const body = await eventually('a scrape of fraudwatch_build_info', async () => {
      const r = await query('fraudwatch_build_info');
      return r.data.result.length > 0 ? r : undefined;
    });
    console.log(`GET /api/v1/query?query=fraudwatch_build_info\n${JSON.stringify(body)}`);
    expect(body.data.resultType).toBe('vector');
    expect(body.data.result).toHaveLength(1);
    expect(body.data.result[0]!.metric).toMatchObject({ __name__: 'fraudwatch_build_info', job: 'fraudwatch', ...BUILD_INFO });
    expect(body.data.result[0]!.value[1]).toBe('1');
    const up = await query('up{job="fraudwatch"}');
    expect(up.data.result.map((r) => r.value[1])).toEqual(['1']);
  });

  it('has rate() of every event type from the start, and sees the first events', async () => {
    const rates = await eventually('two scrapes', async () => {
      const r = await query('sum by (type) (rate(fraudwatch_events_total[1m]))');
      return r.data.result.length === EVENT_TYPES.length ? r : undefined;
    });
    expect(rates.data.result.map((r) => r.metric.type).sort()).toEqual([...EVENT_TYPES].sort());
    expect(rates.data.result.every((r) => r.value[1] === '0')).toBe(true);
    stats.byType.login = (stats.byType.login ?? 0) + 100;
    const inc = await eventually('the login events in a scrape', async () => {
      const r = await query('increase(fraudwatch_events_total{type="login"}[1m]) > 0');
      return r.data.result.length > 0 ? r : undefined;
    });
    expect(Number(inc.data.result[0]!.value[1])).toBeGreaterThan(0);
  });

  it('evaluates every dashboard query without an error', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(20);
    for (const q of queries) await expect(query(q), q).resolves.toMatchObject({ status: 'success' });
    // Series the dashboard shows from a fresh daemon, before any Kafka traffic.
    const rejected = await query('sum by (result) (increase(fraudwatch_rules_reloads_total{job=~".*", instance=~".*"}[1m]))');
    expect(rejected.data.result.map((r) => r.metric.result).sort()).toEqual(['applied', 'rejected']);
  });

  it('evaluates the PromQL of docs/operations.md without an error', async () => {
    const blocks = [...readFileSync(OPERATIONS, 'utf8').matchAll(/```promql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
    expect(blocks.length).toBeGreaterThan(0);
    for (const q of blocks) await expect(query(q), q).resolves.toMatchObject({ status: 'success' });

    // The lagging partition of the page's example: partition 2 five minutes behind, lateness 30 s.
    const T = 1772438400;
    metrics.setProgress('account-events', (T - 300 - 30) * 1000, [
      { partition: 0, ts: T * 1000, caughtUp: true },
      { partition: 1, ts: (T - 2) * 1000, caughtUp: true },
      { partition: 2, ts: (T - 300) * 1000, caughtUp: false },
    ]);
    const holding = await eventually('the progress gauges in a scrape', async () => {
      const r = await query(blocks[0]!);
      return r.data.result.length > 0 ? r : undefined;
    });
    expect(holding.data.result.map((r) => [r.metric.partition, r.value[1]])).toEqual([['2', String(T - 300)]]);
    const heldBack = await query(blocks.find((b) => b.startsWith('max without (partition)'))!);
    expect(heldBack.data.result.map((r) => [r.metric.task, r.value[1]])).toEqual([['account-events', '330']]);
    // The dashboard's panel of partitions behind their task's newest event time.
    const behind = await query(dashboardQueries().find((q) => q.includes('group_right'))!);
    expect(Object.fromEntries(behind.data.result.map((r) => [r.metric.partition, r.value[1]]))).toEqual({ '0': '0', '1': '2', '2': '300' });
  });

  it('loads the alerting rules and evaluates each one without an error', async () => {
    const names = (parseYaml(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    const rules = await eventually('the rules evaluated', async () => {
      const res = (await (await fetch(`${base}/api/v1/rules`)).json()) as {
        data: { groups: { rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[] };
      };
      const all = res.data.groups.flatMap((g) => g.rules);
      return all.length === names.length && all.every((r) => !r.lastEvaluation.startsWith('0001')) ? all : undefined;
    });
    expect(rules.map((r) => r.name).sort()).toEqual([...names].sort());
    for (const r of rules) expect({ name: r.name, health: r.health, error: r.lastError ?? '' }).toEqual({ name: r.name, health: 'ok', error: '' });
    // The daemon is up and ready: the alerts on that are not even pending.
    const pending = await query('ALERTS{alertname=~"FraudwatchDown|FraudwatchNotReady"}');
    expect(pending.data.result).toEqual([]);
  });
});
