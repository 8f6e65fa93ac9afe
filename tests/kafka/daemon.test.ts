import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { loadRulesFile } from '../../src/config/rules.js';
import { GeoipLiteLocator } from '../../src/geo/locator.js';
import { replayLog } from '../../src/io/replay.js';
import type { Alert } from '../../src/alerts/alert.js';
import { login } from '../helpers.js';
import {
  attackLines,
  createTopic,
  daemonEnv,
  eventually,
  httpGet,
  kafkaFor,
  produceLines,
  readTopic,
  spawnDaemon,
  testBrokers,
  uniqueName,
  type DaemonProcess,
} from './harness.js';

const brokers = await testBrokers();
const DEMO = 'fixtures/demo/events.jsonl';

function parse(messages: { value: Buffer | null }[]): (Alert & { detectedAt: string; source: { topic: string; partition: number; offset: string } })[] {
  return messages.map((m) => JSON.parse(m.value!.toString('utf8')));
}

describe.skipIf(!brokers)('fraudwatch run against a real broker', () => {
  let kafka: Kafka;
  let admin: Admin;
  const daemons: DaemonProcess[] = [];
  const start = (env: Record<string, string>, args: string[] = []) => {
    const d = spawnDaemon(env, args);
    daemons.push(d);
    return d;
  };

  beforeAll(async () => {
    kafka = kafkaFor(brokers!);
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
    await admin?.disconnect();
  });

  it.each([1, 6])('the demo log through a %i-partition topic gives exactly the replay alerts', async (partitions) => {
    const lines = readFileSync(DEMO, 'utf8').split('\n').filter((l) => l.trim());
    const replayed: Alert[] = [];
    await replayLog({ path: DEMO, rules: loadRulesFile('rules/default.yaml'), locator: new GeoipLiteLocator(), onAlert: (a) => replayed.push(a) });
    const enforced = replayed.filter((a) => !a.shadow);
    expect(enforced.length).toBeGreaterThan(10);

    const input = uniqueName('demo-in');
    const alerts = uniqueName('demo-alerts');
    await createTopic(admin, input, partitions);
    await produceLines(kafka, input, lines);
    // Lateness shortened so the idle flush comes sooner; the demo's disorder is under 10 s.
    const d = start(daemonEnv(brokers!, { input, alerts }, { FRAUDWATCH_RULES: 'rules/default.yaml', FRAUDWATCH_LATENESS: '12s' }));
    const got = parse(await readTopic(kafka, alerts, (m) => m.length >= enforced.length, 90_000));
    if (got.length < enforced.length) console.error(d.logs.slice(-30).join('\n'));
    // A little longer, to catch any alert beyond the expected ones.
    await new Promise((r) => setTimeout(r, 1500));
    const all = parse(await readTopic(kafka, alerts, () => false, 2000));
    expect(all.length).toBe(got.length);
    expect(all.map((a) => a.alertId).sort()).toEqual(enforced.map((a) => a.alertId).sort());
    // Same bytes as replay once the daemon's own fields are removed.
    const byId = new Map(enforced.map((a) => [a.alertId, JSON.stringify(a)]));
    for (const a of all) {
      const { detectedAt, source, ...rest } = a;
      expect(Date.parse(detectedAt)).toBeGreaterThan(0);
      expect(source.topic).toBe(input);
      expect(JSON.stringify(rest)).toBe(byId.get(a.alertId));
    }
    // Event-time progress is visible: the watermark, and each partition's clock and lag state.
    const metrics = (await httpGet(await d.port, '/metrics')).body;
    const newest = Math.max(...lines.map((l) => { try { return Date.parse(JSON.parse(l).ts); } catch { return 0; } }).filter(Number.isFinite));
    const wm = Number(new RegExp(`^fraudwatch_watermark_seconds\\{task="${input}"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(Number.isFinite(newest)).toBe(true);
    expect(wm).toBeGreaterThan(newest / 1000 - 3600);
    expect(wm).toBeLessThanOrEqual(newest / 1000);
    for (let p = 0; p < partitions; p++) {
      expect(metrics).toMatch(new RegExp(`^fraudwatch_source_caught_up\\{task="${input}",partition="${p}"\\} 1$`, 'm'));
      expect(metrics).toMatch(new RegExp(`^fraudwatch_source_event_time_seconds\\{task="${input}",partition="${p}"\\} \\d`, 'm'));
    }
    expect(d.logs.filter((l) => l.includes('FW_INPUT_LATE'))).toEqual([]);
    expect(await d.stop()).toBe(0);
  }, 180_000);

  it('sends invalid records to the dead-letter topic with their bytes and the reason, and keeps consuming', async () => {
    const input = uniqueName('dlq-in');
    const alerts = uniqueName('dlq-alerts');
    await createTopic(admin, input, 1);
    const bad = ['{"eventId":', JSON.stringify({ eventId: 'x1', type: 'logout', ts: 1, accountId: 'a' }), JSON.stringify({ eventId: 'x2', type: 'login', ts: '2026-03-02T08:00:00Z', accountId: 'a', ip: '999.1.1.1', success: true })];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: input, messages: bad.map((value, i) => ({ key: `k${i}`, value, headers: { 'trace-id': `t${i}` } })) });
    await producer.disconnect();
    await produceLines(kafka, input, attackLines(['dlq-acc']));
    const d = start(daemonEnv(brokers!, { input, alerts }, { FRAUDWATCH_LATENESS: '0s' }));

    const dead = await readTopic(kafka, `${input}.dlq`, (m) => m.length >= 3, 60_000);
    expect(dead.map((m) => m.value!.toString())).toEqual(bad);
    const h = (i: number, name: string) => dead[i]!.headers![name]!.toString();
    expect([0, 1, 2].map((i) => h(i, 'fw-error-reason'))).toEqual(['invalid_json', 'unknown_type', 'bad_ip']);
    expect([0, 1, 2].map((i) => h(i, 'fw-source-offset'))).toEqual(['0', '1', '2']);
    expect(h(0, 'fw-source-topic')).toBe(input);
    expect(h(0, 'fw-source-partition')).toBe('0');
    expect(h(0, 'fw-error-code')).toBe('FW_INPUT_INVALID');
    expect(h(1, 'trace-id')).toBe('t1'); // original headers kept
    expect(dead[2]!.key!.toString()).toBe('k2');

    const got = parse(await readTopic(kafka, alerts, (m) => m.length >= 1, 60_000));
    expect(got.map((a) => a.detector)).toEqual(['brute_force']);

    const port = await d.port;
    const metrics = await eventually(() => httpGet(port, '/metrics'), (r) => r.body.includes('fraudwatch_invalid_events_total{reason="bad_ip"} 1'));
    expect(metrics.body).toContain('fraudwatch_invalid_events_total{reason="invalid_json"} 1');
    expect(metrics.body).toMatch(/fraudwatch_alerts_total\{detector="brute_force",severity="high",mode="enforce"\} 1/);
    expect(metrics.body).toContain('fraudwatch_events_total{type="login"} 10');
    expect(metrics.body).toContain('fraudwatch_consumer_lag{');
    expect(metrics.body).toContain('fraudwatch_alert_latency_seconds_bucket');
    expect((await httpGet(port, '/healthz')).status).toBe(200);
    expect((await eventually(() => httpGet(port, '/readyz'), (r) => r.status === 200)).status).toBe(200);
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('commits only after producing: killed between produce and commit, a restart loses no alert', async () => {
    const input = uniqueName('crash-in');
    const alerts = uniqueName('crash-alerts');
    const group = uniqueName('crash-group');
    await createTopic(admin, input, 1);
    const accounts = ['c1', 'c2', 'c3', 'c4'];
    await produceLines(kafka, input, attackLines(accounts));
    const env = daemonEnv(brokers!, { input, alerts, group }, { FRAUDWATCH_LATENESS: '0s' });

    const crashing = start({ ...env, FRAUDWATCH_FAULT: 'exit-before-commit' });
    expect(await crashing.exited).toBe(86);
    // The alerts were produced, the offsets were not committed.
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [input] });
    expect(offsets[0]!.partitions[0]!.offset).toBe('-1');
    const beforeRestart = parse(await readTopic(kafka, alerts, () => false, 3000));
    expect(beforeRestart.length).toBeGreaterThanOrEqual(1);

    const d = start(env);
    await d.waitForLog(/joined consumer group/);
    await eventually(
      async () => (await admin.fetchOffsets({ groupId: group, topics: [input] }))[0]!.partitions[0]!.offset,
      (o) => o === '40',
    );
    const got = parse(await readTopic(kafka, alerts, (m) => m.length >= 4 + beforeRestart.length, 30_000));
    // Alerts produced before the crash are produced again (same alertId), and none is missing.
    const ids = new Set(got.map((a) => a.alertId));
    expect(ids.size).toBe(4);
    expect(got.length).toBe(4 + beforeRestart.length);
    for (const a of beforeRestart) expect(ids.has(a.alertId)).toBe(true);
    expect(new Set(got.map((a) => a.accountId))).toEqual(new Set(accounts));
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('reloads valid rules without a restart and rejects invalid ones, keeping the old rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-rules-'));
    const rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, 'detectors:\n  brute_force:\n    threshold: 10\n');
    const input = uniqueName('reload-in');
    const alerts = uniqueName('reload-alerts');
    await createTopic(admin, input, 1);
    const d = start(daemonEnv(brokers!, { input, alerts }, { FRAUDWATCH_RULES: rulesFile, FRAUDWATCH_LATENESS: '0s' }));
    await d.waitForLog(/joined consumer group/);
    const v1 = loadRulesFile(rulesFile).version;

    await produceLines(kafka, input, attackLines(['r1'], 0));
    const first = parse(await readTopic(kafka, alerts, (m) => m.length >= 1));
    expect(first[0]!.rulesVersion).toBe(v1);

    // A valid change, picked up from the file.
    writeFileSync(rulesFile, 'detectors:\n  brute_force:\n    threshold: 5\n');
    const v2 = loadRulesFile(rulesFile).version;
    await d.waitForLog(/rules reloaded/);
    await produceLines(kafka, input, attackLines(['r2'], 3_600_000).slice(0, 5));
    const second = parse(await readTopic(kafka, alerts, (m) => m.length >= 2));
    expect(second[1]!.accountId).toBe('r2');
    expect(second[1]!.rulesVersion).toBe(v2);

    // An invalid change, then SIGHUP: rejected with its line, the previous rules keep running.
    writeFileSync(rulesFile, 'detectors:\n  brute_force:\n    threshold: -1\n');
    const rejected = await d.waitForLog(/rules rejected/);
    expect(rejected).toContain('rules.yaml:3:16');
    d.proc.kill('SIGHUP');
    await produceLines(kafka, input, attackLines(['r3'], 7_200_000).slice(0, 5));
    const third = parse(await readTopic(kafka, alerts, (m) => m.length >= 3));
    expect(third[2]!.accountId).toBe('r3');
    expect(third[2]!.rulesVersion).toBe(v2);
    const metrics = await httpGet(await d.port, '/metrics');
    expect(metrics.body).toContain('fraudwatch_rules_reloads_total{result="applied"} 1');
    expect(metrics.body).toMatch(/fraudwatch_rules_reloads_total\{result="rejected"\} [12]/);
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('shuts down gracefully on SIGTERM within 10 s, exit 0, offsets committed', async () => {
    const input = uniqueName('term-in');
    const alerts = uniqueName('term-alerts');
    const group = uniqueName('term-group');
    await createTopic(admin, input, 2);
    await produceLines(kafka, input, attackLines(['t1', 't2', 't3']));
    const d = start(daemonEnv(brokers!, { input, alerts, group }, { FRAUDWATCH_LATENESS: '0s' }));
    await readTopic(kafka, alerts, (m) => m.length >= 3);
    const t0 = Date.now();
    const code = await d.stop('SIGTERM');
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const offsets = (await admin.fetchOffsets({ groupId: group, topics: [input] }))[0]!.partitions;
    const committed = offsets.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    expect(committed).toBe(30);
    expect(d.logs.some((l) => l.includes('"msg":"stopped'))).toBe(true);
  }, 120_000);

  it('started through npx, shuts down gracefully when npx is signalled (npx does not pass it on)', async () => {
    const input = uniqueName('npx-in');
    const alerts = uniqueName('npx-alerts');
    const group = uniqueName('npx-group');
    await createTopic(admin, input, 2);
    await produceLines(kafka, input, attackLines(['n1', 'n2', 'n3']));
    const env = { ...process.env, FRAUDWATCH_HTTP_PORT: '0', FRAUDWATCH_LOG_LEVEL: 'info', ...daemonEnv(brokers!, { input, alerts, group }, { FRAUDWATCH_LATENESS: '0s' }) };
    const npx = spawn('npx', ['fraudwatch', 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: string[] = [];
    const collect = (chunk: Buffer) => logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    npx.stdout!.on('data', collect);
    npx.stderr!.on('data', collect);
    let daemonPid = 0;
    try {
      const running = await eventually(async () => logs.find((l) => l.includes('"msg":"running"')), Boolean, 60_000, 100);
      daemonPid = JSON.parse(running!).pid as number;
      expect(daemonPid).not.toBe(npx.pid);
      await readTopic(kafka, alerts, (m) => m.length >= 3);
      const t0 = Date.now();
      npx.kill('SIGTERM');
      const alive = () => {
        try {
          process.kill(daemonPid, 0);
          return true;
        } catch {
          return false;
        }
      };
      const gone = await eventually(async () => !alive(), Boolean, 15_000, 100);
      expect(gone, 'the daemon outlived npx').toBe(true);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(logs.some((l) => l.includes('"reason":"parent process exited"'))).toBe(true);
      expect(logs.some((l) => l.includes('"msg":"stopped'))).toBe(true);
      const offsets = (await admin.fetchOffsets({ groupId: group, topics: [input] }))[0]!.partitions;
      expect(offsets.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0)).toBe(30);
    } finally {
      npx.kill('SIGKILL');
      if (daemonPid > 0) {
        try {
          process.kill(daemonPid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }, 120_000);

  it('produces a burst of thousands of alerts released by one idle flush in bounded requests', async () => {
    // 3000 accounts × 10 failures within 12 s of event time and a 15 s lateness: nothing is
    // released until the stream goes quiet, then 3000 alerts (~1.5 MB) leave in one flush,
    // more than one produce request may carry.
    const input = uniqueName('burst-in');
    const alerts = uniqueName('burst-alerts');
    await createTopic(admin, input, 1);
    const lines: string[] = [];
    for (let i = 0; i < 10; i++) for (let a = 0; a < 3000; a++) lines.push(JSON.stringify(login(`b${a}`, i * 1200 + a * 0.4 | 0, '198.51.100.1', false)));
    await produceLines(kafka, input, lines);
    const d = start(daemonEnv(brokers!, { input, alerts }, { FRAUDWATCH_LATENESS: '15s' }));
    const got = await readTopic(kafka, alerts, (m) => m.length >= 3000, 90_000);
    expect(new Set(got.map((m) => m.key!.toString())).size).toBe(3000);
    expect(await d.stop()).toBe(0);
  }, 150_000);

  it('fails at start with a clear message on bad configuration, naming the variable, never a secret', async () => {
    const d = spawnDaemon({ FRAUDWATCH_BROKERS: brokers!, FRAUDWATCH_HTTP_PORT: 'eighty', FRAUDWATCH_SASL_MECHANISM: 'plain', FRAUDWATCH_SASL_USERNAME: 'u', FRAUDWATCH_SASL_PASSWORD: 'hunter2' });
    expect(await d.exited).toBe(2);
    const out = d.logs.join('\n');
    expect(out).toContain('FW_CLI_BAD_FLAG');
    expect(out).toContain('FRAUDWATCH_HTTP_PORT');
    expect(out).not.toContain('hunter2');
    const r = spawnDaemon({ FRAUDWATCH_BROKERS: brokers!, FRAUDWATCH_RULES: 'no/such/rules.yaml' });
    expect(await r.exited).toBe(2);
    expect(r.logs.join('\n')).toContain('FW_RULES_READ');
  }, 30_000);
});
