/**
 * A failure while scoring one event (a detector that throws) never stops processing, never loses
 * the event silently and is never retried: the Pipeline catches it around that one released
 * event, counts it (`processingErrors`), hands it to the front door (the daemon dead-letters it,
 * replay quotes it), and scores everything after it as usual. The daemon side against a real
 * broker is tests/kafka/poison.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../src/alerts/alert.js';
import type { Rules } from '../src/config/rules.js';
import { DaemonMetrics } from '../src/daemon/metrics.js';
import { Pipeline } from '../src/engine/pipeline.js';
import { Stats } from '../src/engine/stats.js';
import { decodeValue } from '../src/events/decode.js';
import type { FraudEvent } from '../src/events/types.js';
import { replayLog, type ProcessingErrorLine } from '../src/io/replay.js';
import { DLQ_HEADERS, PROCESSING_ERROR, processingErrorDeadLetter, ProcessingErrorLog } from '../src/kafka/deadLetter.js';
import { SOURCE_HEADERS } from '../src/streams/repartition.js';
import { StateTask } from '../src/streams/task.js';
import { login, MIN, only, testLocator, type RawEvent } from './helpers.js';

const HOME = '198.51.100.1';

/** Ten failed logins 15 s apart: brute_force alerts on the tenth. */
function attack(account: string, startMs: number, n = 10, ip = HOME): RawEvent[] {
  return Array.from({ length: n }, (_, i) => login(account, startMs + i * 15_000, ip, false));
}

/** Makes detector `id` of `rules` throw while scoring the event with `eventId` (a stand-in for a detector bug). */
function breakDetector(rules: Rules, id: string, eventId: string): void {
  const rule = rules.detectors.find((r) => r.id === id)!;
  const original = rule.detector.onEvent.bind(rule.detector);
  (rule.detector as { onEvent: typeof original }).onEvent = (ev, state, ctx, emit, key) => {
    if (ev.eventId === eventId) throw new Error(`${id} cannot score ${ev.eventId}`);
    return original(ev, state, ctx, emit, key);
  };
}

interface Failure {
  readonly err: unknown;
  readonly eventId: string;
  readonly tag: string;
}

/** Runs events through a Pipeline tagged with their eventIds; collects alerts, failures and releases. */
function score(events: RawEvent[], rules: Rules, latenessMs = 0) {
  const alerts: Alert[] = [];
  const failures: Failure[] = [];
  const released: string[] = [];
  const pipeline = new Pipeline<string>({
    rules,
    locator: testLocator(),
    latenessMs,
    onAlert: (a) => alerts.push(a),
    onReleased: (tag) => released.push(tag),
    onProcessingError: (err, ev, tag) => failures.push({ err, eventId: ev.eventId, tag }),
  });
  for (const e of events) pipeline.offer(decodeValue(e), 0, String(e.eventId));
  pipeline.flush();
  return { alerts, failures, released, pipeline, stats: pipeline.stats };
}

const idsOf = (events: RawEvent[]) => events.map((e) => String(e.eventId));

describe('a detector that throws on one event', () => {
  it('skips that event only: counted, reported once with its tag, and every later event is scored', () => {
    const rules = only(['brute_force']);
    const first = attack('a1', 0);
    const poison = first[4]!;
    const later = attack('a2', 10 * MIN);
    breakDetector(rules, 'brute_force', String(poison.eventId));
    const r = score([...first, ...later], rules);

    expect(r.stats.processingErrors).toBe(1);
    expect(r.stats.processed).toBe(20); // handed to the engine, the failed one included
    expect(r.failures.map((f) => [f.eventId, f.tag])).toEqual([[poison.eventId, poison.eventId]]);
    expect((r.failures[0]!.err as Error).message).toBe(`brute_force cannot score ${poison.eventId}`);
    // a1 has only 9 failures the detector saw: no alert; a2 alerts as ever, on its tenth.
    expect(r.alerts.map((a) => [a.accountId, a.eventIds.at(-1)])).toEqual([['a2', later[9]!.eventId]]);
    // Every event left the pipeline, in order, the failed one too (its offset may be committed).
    expect(r.released).toEqual(idsOf([...first, ...later]));
    expect(r.pipeline.buffered).toBe(0);
  });

  it('leaves the engine clean: findings of earlier detectors are not raised with the next event', () => {
    // brute_force runs before credential_stuffing: on the tenth failure it has already emitted
    // its finding when credential_stuffing throws. That finding must die with the event.
    const rules = only(['brute_force', 'credential_stuffing']);
    const first = attack('a1', 0);
    const poison = first[9]!;
    const next = login('b1', 5 * MIN, '203.0.113.1', true);
    breakDetector(rules, 'credential_stuffing', String(poison.eventId));
    const r = score([...first, next], rules);
    expect(r.stats.processingErrors).toBe(1);
    expect(r.alerts).toEqual([]);

    // brute_force kept what it saw of the failed event (no rollback): the next failure on a1
    // alerts, with its own trigger and time.
    const eleventh = login('a1', 6 * MIN, HOME, false);
    const r2 = score([...first, next, eleventh], rules);
    expect(r2.alerts.map((a) => [a.detector, a.eventIds.at(-1), a.ts])).toEqual([['brute_force', eleventh.eventId, eleventh.ts]]);
  });

  it('is never retried: a redelivery of the failed event is a duplicate, and the reorder buffer stays consistent', () => {
    const rules = only(['brute_force']);
    const events = [...attack('a1', 0), ...attack('a2', 20_000)].sort((a, b) => Date.parse(String(a.ts)) - Date.parse(String(b.ts)));
    const poison = events[7]!;
    breakDetector(rules, 'brute_force', String(poison.eventId));
    // Out of order within the lateness, and the failed event delivered twice.
    const arrival = [...events.slice(0, 5), events[7]!, events[6]!, events[5]!, ...events.slice(8), poison];
    const r = score(arrival, rules, 30_000);
    expect(r.stats.processingErrors).toBe(1);
    expect(r.stats.duplicates).toBe(1);
    expect(r.failures).toHaveLength(1);
    // Every event released once in event-time order, plus the redelivery (late: released at once).
    const again = r.released.lastIndexOf(String(poison.eventId));
    expect(r.released.indexOf(String(poison.eventId))).toBeLessThan(again);
    expect(r.released.filter((_, i) => i !== again)).toEqual(idsOf(events));
    expect(r.pipeline.buffered).toBe(0);
  });

  it('a failure in the listener stops the pipeline only when the front door wants it to', () => {
    const rules = only(['brute_force']);
    const events = attack('a1', 0);
    breakDetector(rules, 'brute_force', String(events[2]!.eventId));
    const pipeline = new Pipeline<undefined>({
      rules,
      locator: testLocator(),
      latenessMs: 0,
      onAlert: () => undefined,
      onProcessingError: (err) => {
        throw new Error('stop here', { cause: err });
      },
    });
    expect(() => {
      for (const e of events) pipeline.offer(decodeValue(e), 0, undefined);
    }).toThrow('stop here');
    expect(pipeline.stats.processingErrors).toBe(1);
  });
});

describe('the FRAUDWATCH_FAULT=throw-on-event test hook', () => {
  const saved = process.env.FRAUDWATCH_FAULT;
  afterEach(() => {
    if (saved === undefined) delete process.env.FRAUDWATCH_FAULT;
    else process.env.FRAUDWATCH_FAULT = saved;
  });

  it('makes scoring that event throw before any detector: the replay equals one of the log without it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-perr-'));
    const rules = only(['brute_force']);
    const events = [...attack('a1', 0), ...attack('a2', 5 * MIN), ...attack('a1', 40 * MIN)];
    const poison = events[9]!; // a1's tenth failure: its alert
    const lines = events.map((e) => JSON.stringify(e));
    const log = join(dir, 'events.jsonl');
    const without = join(dir, 'without.jsonl');
    writeFileSync(log, lines.join('\n') + '\n');
    writeFileSync(without, lines.filter((_, i) => i !== 9).join('\n') + '\n');

    const replay = async (path: string) => {
      const alerts: Alert[] = [];
      const errors: ProcessingErrorLine[] = [];
      const r = await replayLog({ path, rules, locator: testLocator(), onAlert: (a) => alerts.push(a), onProcessingError: (e) => errors.push(e) });
      return { alerts, errors, stats: r.stats };
    };
    const reference = await replay(without);
    process.env.FRAUDWATCH_FAULT = `throw-on-event:${poison.eventId}`;
    const poisoned = await replay(log);

    expect(reference.alerts.length).toBeGreaterThan(1);
    expect(poisoned.alerts).toEqual(reference.alerts);
    expect(poisoned.stats.processingErrors).toBe(1);
    expect(poisoned.errors).toEqual([{ lineNumber: 10, eventId: poison.eventId, message: `FRAUDWATCH_FAULT test hook: scoring event ${poison.eventId} fails` }]);
  });

  it('fraudwatch replay: quoted with its line, counted in the summary, exit 0; --strict: the same alerts, exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-perr-cli-'));
    const events = [...attack('c1', 0), ...attack('c2', 5 * MIN)];
    const poison = events[3]!;
    const log = join(dir, 'events.jsonl');
    writeFileSync(log, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['bin/fraudwatch.js', 'replay', log, '--no-progress', ...args], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, FRAUDWATCH_FAULT: `throw-on-event:${poison.eventId}` },
      });
    const plain = cli([]);
    expect(plain.status).toBe(0);
    expect(plain.stderr).toContain(`${log}:4: processing_error: FW_INTERNAL: event ${poison.eventId}: FRAUDWATCH_FAULT test hook`);
    expect(plain.stderr).toMatch(/processing errors\s+1\n/);
    const alerts = plain.stdout.trim().split('\n').map((l) => JSON.parse(l) as Alert);
    expect(alerts.filter((a) => a.detector === 'brute_force').map((a) => a.accountId)).toEqual(['c2']); // c1 has 9 failures left

    const strict = cli(['--strict']);
    expect(strict.status).toBe(1);
    expect(strict.stdout).toBe(plain.stdout);
    expect(strict.stderr).toContain('fraudwatch: FW_INTERNAL: internal error: --strict: 1 event(s) could not be scored (processing_error)');
    expect(cli(['--quiet']).stderr).toBe('');
  });
});

describe('processing errors in the daemon', () => {
  it('fraudwatch_processing_errors_total exists at 0 and follows the count', async () => {
    const stats = new Stats();
    const m = new DaemonMetrics(stats);
    const value = async () => {
      m.sync();
      return (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'fraudwatch_processing_errors_total')!.values;
    };
    expect(await value()).toEqual([{ labels: {}, value: 0 }]);
    stats.processingErrors = 3;
    expect(await value()).toEqual([{ labels: {}, value: 3 }]);
  });

  it('the dead letter: the original bytes, the accountId as key, reason processing_error, code FW_INTERNAL, the message and the source', () => {
    const raw = '{"eventId":"e-1","type":"login","ts":"2026-03-02T08:00:00Z","accountId":"acc-é","ip":"81.2.69.160","success":true}';
    const ev = (decodeValue(JSON.parse(raw)) as { ok: true; event: FraudEvent }).event;
    const m = processingErrorDeadLetter(raw, ev, { topic: 'account-events', partition: 2, offset: '41' }, new Error('boom'));
    expect(Buffer.compare(m.value as Buffer, Buffer.from(raw, 'utf8'))).toBe(0);
    expect(m.key).toBe('acc-é');
    expect(m.headers).toEqual({
      [DLQ_HEADERS.code]: 'FW_INTERNAL',
      [DLQ_HEADERS.reason]: PROCESSING_ERROR,
      [DLQ_HEADERS.message]: 'boom',
      [DLQ_HEADERS.topic]: 'account-events',
      [DLQ_HEADERS.partition]: '2',
      [DLQ_HEADERS.offset]: '41',
    });
  });

  it('logs FW_INTERNAL at most once a second, with the count of the errors since the previous line', () => {
    const lines: Record<string, unknown>[] = [];
    const log = { error: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
    const errors = new ProcessingErrorLog(log);
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) errors.report(new Error(`e${i}`), { eventId: `x${i}` }, t0 + i * 100);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ code: 'FW_INTERNAL', reason: 'processing_error', eventId: 'x0', count: 1, total: 1 });
    errors.flush(t0 + 900); // within the second: nothing
    expect(lines).toHaveLength(1);
    errors.flush(t0 + 1000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ code: 'FW_INTERNAL', count: 4, total: 5, last: { eventId: 'x4', err: 'e4' } });
    errors.flush(t0 + 5000); // nothing held back
    expect(lines).toHaveLength(2);
    errors.report(new Error('e5'), { eventId: 'x5' }, t0 + 5000);
    expect(lines[2]).toMatchObject({ eventId: 'x5', count: 1, total: 6 });
  });

  it('exactly-once: the task dead-letters the event inside its next transaction, and scores the rest', () => {
    const rules = only(['brute_force']);
    const events = [...attack('t1', 0), ...attack('t2', 10 * MIN)];
    const poison = events[14]!;
    breakDetector(rules, 'brute_force', String(poison.eventId));
    const task = new StateTask({
      kind: 'account',
      topic: 'g-repartition-account',
      partition: 0,
      changelogTopic: 'g-state-changelog',
      changelogPartition: 0,
      inputTopic: 'account-events',
      inputPartitions: 1,
      alertsTopic: 'fraud-alerts',
      shadowTopic: 'fraud-alerts.shadow',
      rules,
      locator: testLocator(),
      latenessMs: 0,
      idleMs: 2000,
      log: pino({ level: 'silent' }),
    });
    const raws = events.map((e) => JSON.stringify(e));
    // As stage 1 forwards them: the input record's bytes, with where it came from.
    const messages = raws.map(
      (value, i) => ({ offset: String(i), key: Buffer.from(String(events[i]!.accountId)), value: Buffer.from(value), headers: { [SOURCE_HEADERS.partition]: '0', [SOURCE_HEADERS.offset]: String(100 + i) } }) as unknown as KafkaMessage,
    );
    task.handle(messages);
    task.tick(Date.now(), undefined);
    const commit = task.prepareCommit({ topic: 'g-repartition-account', partition: 0 });
    const dead = commit.records.filter((r) => r.topic === 'account-events.dlq');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.message.value!.toString()).toBe(raws[14]);
    expect(dead[0]!.message.key).toBe('t2');
    expect(dead[0]!.message.headers).toMatchObject({ [DLQ_HEADERS.reason]: 'processing_error', [DLQ_HEADERS.code]: 'FW_INTERNAL', [DLQ_HEADERS.partition]: '0', [DLQ_HEADERS.offset]: '114' });
    // t1's attack alerts; t2's lost its fifth failure to the bug: nine seen, no alert.
    const alerts = commit.records.filter((r) => r.topic === 'fraud-alerts').map((r) => JSON.parse(String(r.message.value)) as Alert);
    expect(alerts.map((a) => a.accountId)).toEqual(['t1']);
    expect(task.pipeline.stats.processingErrors).toBe(1);
  });
});
