/**
 * A poisoned event against a real broker, in both processing modes: scoring it throws (the
 * FRAUDWATCH_FAULT=throw-on-event test hook, src/engine/pipeline.ts, standing in for a detector
 * bug). The daemon keeps running, dead-letters the event with its original bytes and reason
 * processing_error, scores everything else exactly as the replay with the same hook does, and
 * never goes round a crash loop (the batch failing, the consumer restarting, the same event
 * thrown on again).
 */
import { readFileSync } from 'node:fs';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { loadRulesFile } from '../../src/config/rules.js';
import { GeoipLiteLocator } from '../../src/geo/locator.js';
import { replayLog } from '../../src/io/replay.js';
import {
  createTopic,
  daemonEnv,
  eventually,
  httpGet,
  kafkaFor,
  produceLines,
  readCommitted,
  readTopic,
  spawnDaemon,
  testBrokers,
  uniqueName,
  type DaemonProcess,
} from './harness.js';

const brokers = await testBrokers();
const DEMO = 'fixtures/demo/events.jsonl';
const RULES = 'rules/default.yaml';
/** The demo's disorder is under 10 s: any lateness above gives the replay's alerts, and a short one a short final flush. */
const LATENESS_MS = 12_000;
const locator = new GeoipLiteLocator();

/** What a crash loop leaves in the daemon's log: a failed batch, a consumer restart, a task restored after a failed commit. */
const CRASH_LOOP = /consumer crashed|consumer restarted|consumer restart failed|task commit failed|Error when calling eachBatch/;

async function replayEnforced(fault: string | undefined): Promise<Alert[]> {
  const saved = process.env.FRAUDWATCH_FAULT;
  if (fault === undefined) delete process.env.FRAUDWATCH_FAULT;
  else process.env.FRAUDWATCH_FAULT = fault;
  try {
    const alerts: Alert[] = [];
    await replayLog({ path: DEMO, rules: loadRulesFile(RULES), locator, latenessMs: LATENESS_MS, onAlert: (a) => alerts.push(a) });
    return alerts.filter((a) => !a.shadow);
  } finally {
    if (saved === undefined) delete process.env.FRAUDWATCH_FAULT;
    else process.env.FRAUDWATCH_FAULT = saved;
  }
}

describe.skipIf(!brokers)('a poisoned event: dead-lettered, never a crash loop, every other alert the replay\'s', () => {
  let kafka: Kafka;
  let admin: Admin;
  let lines: string[];
  /** The poisoned event: the login that triggers one of the demo's alerts, seen once in the log. */
  let poison: { eventId: string; line: string };
  /** The replay's enforced alerts with the same hook. */
  let expected: Alert[];
  const daemons: DaemonProcess[] = [];

  beforeAll(async () => {
    kafka = kafkaFor(brokers!);
    admin = kafka.admin();
    await admin.connect();
    lines = readFileSync(DEMO, 'utf8').split('\n').filter((l) => l.trim());
    const byId = new Map<string, string[]>();
    for (const line of lines) {
      try {
        const id = String(JSON.parse(line).eventId);
        byId.set(id, [...(byId.get(id) ?? []), line]);
      } catch {
        // the demo's invalid lines
      }
    }
    const clean = await replayEnforced(undefined);
    const trigger = clean
      .map((a) => a.eventIds.at(-1)!)
      .find((id) => byId.get(id)?.length === 1 && JSON.parse(byId.get(id)![0]!).type === 'login');
    expect(trigger).toBeDefined();
    poison = { eventId: trigger!, line: byId.get(trigger!)![0]! };
    expected = await replayEnforced(`throw-on-event:${poison.eventId}`);
    // The hook took effect: the poisoned event's alert is gone, and only what depended on it.
    expect(expected.length).toBeLessThan(clean.length);
    expect(expected.length).toBeGreaterThan(10);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
    await admin?.disconnect();
  });

  it.each([
    ['at_least_once', 1],
    // A login is scored twice, by an account task and by an IP task: the hook fails both.
    ['exactly_once', 2],
  ] as const)('%s', async (mode, deadLetters) => {
    const input = uniqueName(`poison-${mode}-in`);
    const alerts = uniqueName(`poison-${mode}-alerts`);
    await createTopic(admin, input, 2);
    await produceLines(kafka, input, lines);
    const d = spawnDaemon(
      daemonEnv(brokers!, { input, alerts }, {
        FRAUDWATCH_PROCESSING: mode,
        FRAUDWATCH_RULES: RULES,
        FRAUDWATCH_LATENESS: `${LATENESS_MS / 1000}s`,
        FRAUDWATCH_SESSION_TIMEOUT: '6s',
        FRAUDWATCH_FAULT: `throw-on-event:${poison.eventId}`,
      }),
    );
    daemons.push(d);

    // Alerts: exactly the replay's with the same hook, each once (no crash, so no redelivery either).
    const read =
      mode === 'exactly_once'
        ? async () => (await readCommitted(brokers!, alerts)).map((l) => JSON.parse(l) as Alert)
        : async () => (await readTopic(kafka, alerts, (m) => m.length >= expected.length, 5000)).map((m) => JSON.parse(m.value!.toString()) as Alert);
    const first = await eventually(read, (a) => a.length >= expected.length, 150_000, 1000);
    if (first.length < expected.length) console.error(d.logs.filter((l) => !l.includes('"level":30')).slice(-30).join('\n'));
    await new Promise((r) => setTimeout(r, 3000)); // anything beyond the expected alerts shows up by now
    const got = await read();
    expect(got.map((a) => a.alertId).sort()).toEqual(expected.map((a) => a.alertId).sort());

    // The dead letter: the original bytes, reason processing_error, where it came from.
    const dead = (m: KafkaMessage[]) => m.filter((x) => x.headers?.['fw-error-reason']?.toString() === 'processing_error');
    const dlq = dead(await readTopic(kafka, `${input}.dlq`, (m) => dead(m).length >= deadLetters, 30_000, mode === 'exactly_once'));
    expect(dlq).toHaveLength(deadLetters);
    for (const m of dlq) {
      expect(m.value!.toString('utf8')).toBe(poison.line);
      const h = (name: string) => m.headers![name]!.toString();
      expect(h('fw-error-code')).toBe('FW_INTERNAL');
      expect(h('fw-error-message')).toContain(`scoring event ${poison.eventId} fails`);
      expect(h('fw-source-topic')).toBe(input);
      expect(['0', '1']).toContain(h('fw-source-partition'));
      expect(Number(h('fw-source-offset'))).toBeGreaterThanOrEqual(0);
      expect(m.key!.toString()).toBe(JSON.parse(poison.line).accountId);
    }

    // Still running, no crash loop, the failure logged with its code.
    expect(d.proc.exitCode).toBeNull();
    expect(d.logs.filter((l) => CRASH_LOOP.test(l))).toEqual([]);
    const internal = d.logs.filter((l) => l.includes('"code":"FW_INTERNAL"'));
    expect(internal.length).toBeGreaterThanOrEqual(1);
    expect(internal.every((l) => l.includes('"reason":"processing_error"') && l.includes(poison.eventId))).toBe(true);
    if (mode === 'at_least_once') {
      // The exactly-once runner sums its tasks' counters itself (src/streams/runner.ts, addStats).
      const port = await d.port;
      const metrics = await eventually(() => httpGet(port, '/metrics'), (r) => /^fraudwatch_processing_errors_total 1$/m.test(r.body), 10_000);
      expect(metrics.body).toMatch(/^fraudwatch_processing_errors_total 1$/m);
    }
    expect(await d.stop()).toBe(0);
  }, 240_000);
});
