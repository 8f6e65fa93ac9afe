/**
 * Exactly-once processing against a real broker: the daemon spawned as child processes
 * (`fraudwatch run --processing exactly-once`), killed with SIGKILL mid-stream, scaled to three
 * instances. The reference is always the replay of the same log with the same rules.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Partitioners, type Admin, type Kafka } from 'kafkajs';
import type { Alert } from '../../src/alerts/alert.js';
import { loadRulesFile } from '../../src/config/rules.js';
import { Pipeline } from '../../src/engine/pipeline.js';
import { DETECTOR_IDS } from '../../src/detectors/registry.js';
import { decodeEvent } from '../../src/events/decode.js';
import { GeoipLiteLocator } from '../../src/geo/locator.js';
import { generateToDir } from '../../src/generate/generator.js';
import { replayLog } from '../../src/io/replay.js';
import { keyPartition } from '../../src/streams/task.js';
import { internalTopicNames, transactionalId } from '../../src/streams/topics.js';
import { TxnProducer } from '../../src/streams/transactions.js';
import { pino } from 'pino';
import { createTopic, daemonEnv, eventually, httpGet, kafkaFor, readCommitted as readCommittedWith, spawnDaemon, testBrokers, uniqueName, type DaemonProcess } from '../kafka/harness.js';

const brokers = await testBrokers();
/** The generator's disorder is under 10 s; a lateness of 10 s keeps the final idle flush short. */
const LATENESS_MS = 10_000;
const RULES = 'rules/default.yaml';
const locator = new GeoipLiteLocator();
const execFileP = promisify(execFile);

/** read_committed with kcat (see readCommitted in the harness for why not kafkajs). */
const readCommitted = (topic: string) => readCommittedWith(brokers!, topic);

type DaemonAlert = Alert & { detectedAt: string; source: { topic: string; partition: number; offset: string } };


describe.skipIf(!brokers)('exactly-once processing (transactions, changelog, scale-out)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let dir: string;
  let lines: string[];
  /** Enforced alerts of the replay, by id. */
  let expected: Map<string, Alert>;
  const daemons: DaemonProcess[] = [];

  const start = (env: Record<string, string>) => {
    const d = spawnDaemon({ ...env, FRAUDWATCH_PROCESSING: 'exactly_once' });
    daemons.push(d);
    return d;
  };

  beforeAll(async () => {
    kafka = kafkaFor(brokers!);
    admin = kafka.admin();
    await admin.connect();
    dir = mkdtempSync(join(tmpdir(), 'fw-eos-'));
    // ~200k events: 400 accounts over 30 days, with the generator's duplicates, disorder and invalid lines.
    await generateToDir({ seed: 3, accounts: 400, days: 30 }, dir);
    lines = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n').filter((l) => l.length > 0);
    const replayed: Alert[] = [];
    await replayLog({ path: join(dir, 'events.jsonl'), rules: loadRulesFile(RULES), locator, latenessMs: LATENESS_MS, onAlert: (a) => replayed.push(a) });
    expected = new Map(replayed.filter((a) => !a.shadow).map((a) => [a.alertId, a]));
    expect(lines.length).toBeGreaterThan(150_000);
    expect(expected.size).toBeGreaterThan(30);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
    await admin?.disconnect();
  });

  /** A fresh input topic with the log in it; `keyed` false sends every record without a key. */
  async function setup(name: string, partitions: number, keyed: boolean, data = lines) {
    const input = uniqueName(`${name}-in`);
    const alerts = uniqueName(`${name}-alerts`);
    const group = uniqueName(`${name}-group`);
    await createTopic(admin, input, partitions);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const keyOf = (line: string) => {
      if (!keyed) return null;
      try {
        return String(JSON.parse(line).accountId ?? '') || null;
      } catch {
        return null;
      }
    };
    for (let i = 0; i < data.length; i += 5000) {
      await producer.send({ topic: input, acks: -1, messages: data.slice(i, i + 5000).map((value) => ({ key: keyOf(value), value })) });
    }
    await producer.disconnect();
    const env = daemonEnv(brokers!, { input, alerts, group }, { FRAUDWATCH_RULES: RULES, FRAUDWATCH_LATENESS: `${LATENESS_MS / 1000}s`, FRAUDWATCH_SESSION_TIMEOUT: '6s', FRAUDWATCH_LOG_LEVEL: process.env.FRAUDWATCH_TEST_DAEMON_LOG_LEVEL ?? 'info' });
    return { input, alerts, group, env };
  }

  /** Records of `topic` the group has committed (stage 1: the input; stage 2: a repartition topic). */
  async function committedRecords(group: string, topic: string): Promise<number> {
    try {
      const res = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      return res[0]!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    } catch {
      return 0;
    }
  }

  /** Reads the alerts read_committed until the expected count, then once more to catch extras. */
  async function readAlerts(topic: string, want: number, procs: DaemonProcess[], timeoutMs = 150_000): Promise<DaemonAlert[]> {
    const first = await eventually(() => readCommitted(topic), (m) => m.length >= want, timeoutMs, 1000);
    if (first.length < want) for (const d of procs) console.error(d.logs.filter((l) => !l.includes('"level":30')).slice(-20).join('\n'));
    await new Promise((r) => setTimeout(r, 3000));
    return (await readCommitted(topic)).map((l) => JSON.parse(l) as DaemonAlert);
  }

  /**
   * The read_committed alerts are the replay's, byte for byte apart from detectedAt and source,
   * each exactly once; and no daemon scored an event behind its watermark. The log's disorder
   * is under the lateness, so a late event can only mean that a task released events too early
   * (an input partition's clock moved past records still to come): alerts may still happen to
   * match while the state is already off.
   */
  function expectExactlyTheReplay(got: DaemonAlert[], input: string, procs: readonly DaemonProcess[]): void {
    const ids = got.map((a) => a.alertId);
    const wrong = got.filter((a) => {
      const { detectedAt: _d, source: _s, ...rest } = a;
      return JSON.stringify(rest) !== JSON.stringify(expected.get(a.alertId));
    });
    const late = procs.flatMap((d) => d.logs.filter((l) => l.includes('events arrived behind the watermark')));
    if (wrong.length > 0 || ids.length !== expected.size || late.length > 0) {
      // Everything the daemons said apart from kafkajs chatter: what a failure here needs to be understood.
      console.error(`${wrong.length} alerts differ from the replay, ${ids.length} alerts for ${expected.size} expected:\n${wrong.map((a) => JSON.stringify(a)).join('\n')}`);
      for (const d of procs) console.error(d.logs.filter((l) => !l.includes('"logger":"kafkajs"')).slice(-200).join('\n'));
    }
    if (new Set(ids).size !== ids.length) {
      const seen = new Map<string, number>();
      for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
      console.error(got.filter((a) => seen.get(a.alertId)! > 1).map((a) => `${a.alertId} ${a.detector} ${a.accountId ?? a.ip} ${a.ts} ${JSON.stringify(a.source)} ${a.detectedAt}`).join('\n'));
    }
    expect(new Set(ids).size, 'no alert twice').toBe(ids.length);
    expect([...ids].sort()).toEqual([...expected.keys()].sort());
    for (const a of got) {
      const { detectedAt, source, ...rest } = a;
      expect(JSON.stringify(rest)).toBe(JSON.stringify(expected.get(a.alertId)));
      expect(Date.parse(detectedAt)).toBeGreaterThan(0);
      // The source names the original input record, not the internal repartition topic.
      expect(source.topic).toBe(input);
      expect(Number(source.offset)).toBeGreaterThanOrEqual(0);
    }
    expect(late, 'no event scored behind the watermark').toEqual([]);
  }

  it('one instance gives the replay\'s alerts, each exactly once', async () => {
    const { input, alerts, env } = await setup('eos1', 6, true);
    const d = start(env);
    const got = await readAlerts(alerts, expected.size, [d]);
    expectExactlyTheReplay(got, input, [d]);
    expect(await d.stop()).toBe(0);
  }, 300_000);

  it('three instances over an unkeyed input split the partitions and give the same alerts', async () => {
    const { input, alerts, group, env } = await setup('eos3', 6, false);
    const ds = [0, 1, 2].map(() => start(env));
    const got = await readAlerts(alerts, expected.size, ds);
    expectExactlyTheReplay(got, input, ds);
    // Every instance ran tasks (the group split the 18 partitions among them).
    for (const d of ds) expect(d.logs.some((l) => l.includes('"msg":"tasks started"'))).toBe(true);
    const described = await admin.describeGroups([group]);
    expect(described.groups[0]!.members.length).toBe(3);
    expect((await Promise.all(ds.map((d) => d.stop()))).every((c) => c === 0)).toBe(true);
  }, 300_000);

  it('kill -9 mid-stream, then a restart: the committed alerts are the uninterrupted run\'s, none twice, none lost', async () => {
    const { input, alerts, group, env } = await setup('eoskill', 6, true);
    const first = start(env);
    await eventually(() => committedRecords(group, input), (n) => n >= lines.length * 0.35, 120_000, 100);
    first.proc.kill('SIGKILL');
    await first.exited;
    // Mid-stream: not every alert was out yet.
    expect((await readCommitted(alerts)).length).toBeLessThan(expected.size);
    const second = start(env);
    const got = await readAlerts(alerts, expected.size, [second]);
    expectExactlyTheReplay(got, input, [first, second]);
    expect(second.logs.some((l) => l.includes('"msg":"task state restored"'))).toBe(true);
    expect(await second.stop()).toBe(0);
  }, 300_000);

  it('kill -9 of one of three instances (no restart): the others take over its tasks and state', async () => {
    const { input, alerts, group, env } = await setup('eoskill3', 6, false);
    const ds = [0, 1, 2].map(() => start(env));
    await eventually(() => committedRecords(group, input), (n) => n >= lines.length * 0.35, 120_000, 100);
    ds[1]!.proc.kill('SIGKILL');
    await ds[1]!.exited;
    expect((await readCommitted(alerts)).length).toBeLessThan(expected.size);
    const survivors = [ds[0]!, ds[2]!];
    const got = await readAlerts(alerts, expected.size, survivors);
    expectExactlyTheReplay(got, input, ds);
    expect(survivors.some((d) => d.logs.some((l) => l.includes('"msg":"task state restored"')))).toBe(true);
    expect((await Promise.all(survivors.map((d) => d.stop()))).every((c) => c === 0)).toBe(true);
  }, 300_000);

  it('a task claimed by a stray producer while the group still assigns it is taken back: nothing lost, nothing twice', async () => {
    const { input, alerts, group, env } = await setup('eossteal', 3, true);
    const d = start(env);
    await eventually(() => committedRecords(group, input), (n) => n >= lines.length * 0.2, 120_000, 100);
    // What an instance the group has already dropped does when it retries its own restore before
    // hearing of the new generation: it claims the task's transactional id, fencing the owner.
    const stray = new TxnProducer(kafka, transactionalId(group, internalTopicNames(group).repartition.account, 0), group, pino({ level: 'silent' }));
    await stray.claim();
    await stray.close();
    const got = await readAlerts(alerts, expected.size, [d], 120_000);
    expectExactlyTheReplay(got, input, [d]);
    expect(d.logs.some((l) => l.includes('task fenced by another instance'))).toBe(true);
    expect(d.logs.some((l) => l.includes('taking it back'))).toBe(true);
    expect(await d.stop()).toBe(0);
  }, 300_000);

  it('an input written with transactions (a marker after every one): quiet partitions still let event time pass', async () => {
    // Upstream producers with exactly-once of their own end every transaction with a marker,
    // so an input partition's end offset is past its last record. Stage 1 must commit past it,
    // or a quiet partition never counts as read to its end and holds every task back.
    const small = lines.slice(0, 40_000);
    const want: Alert[] = [];
    const p = new Pipeline<undefined>({ rules: loadRulesFile(RULES), locator, latenessMs: LATENESS_MS, onAlert: (al) => !al.shadow && want.push(al) });
    for (const l of small) p.offer(decodeEvent(l), 0, undefined);
    p.flush();
    expect(want.length).toBeGreaterThan(5);

    const input = uniqueName('eostxn-in');
    const alerts = uniqueName('eostxn-alerts');
    const group = uniqueName('eostxn-group');
    await createTopic(admin, input, 3);
    const producer = kafka.producer({ transactionalId: uniqueName('eostxn-upstream'), idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    for (let i = 0; i < small.length; i += 4000) {
      const txn = await producer.transaction();
      await txn.send({ topic: input, acks: -1, messages: small.slice(i, i + 4000).map((value) => ({ key: /"accountId":"([^"]+)"/.exec(value)?.[1] ?? null, value })) });
      await txn.commit();
    }
    await producer.disconnect();
    const env = daemonEnv(brokers!, { input, alerts, group }, { FRAUDWATCH_RULES: RULES, FRAUDWATCH_LATENESS: `${LATENESS_MS / 1000}s`, FRAUDWATCH_SESSION_TIMEOUT: '6s', FRAUDWATCH_LOG_LEVEL: 'info' });
    const d = start(env);
    // Nothing more is ever written: only the idle flush can release the last lateness window.
    const got = await readAlerts(alerts, want.length, [d], 90_000);
    expect(got.map((a) => a.alertId).sort()).toEqual(want.map((a) => a.alertId).sort());
    expect(d.logs.filter((l) => l.includes('events arrived behind the watermark'))).toEqual([]);
    // The last lateness window, which may hold no alert, was scored too: nothing stays buffered.
    const port = await d.port;
    const flushed = await eventually(() => httpGet(port, '/metrics'), (r) => /^fraudwatch_reorder_buffered_events 0$/m.test(r.body), 60_000, 500);
    expect(flushed.body).toMatch(/^fraudwatch_reorder_buffered_events 0$/m);
    expect(await d.stop()).toBe(0);
  }, 300_000);

  it('restores its state after a rules change: kept detectors carry on, a disabled one starts empty', async () => {
    const rulesDir = mkdtempSync(join(tmpdir(), 'fw-eos-rules-'));
    const rulesB = join(rulesDir, 'b.yaml');
    writeFileSync(rulesB, 'detectors:\n  viewing_anomaly:\n    enabled: false\n  brute_force:\n    threshold: 8\n');
    const small = lines.slice(0, 60_000);
    const half = 30_000;
    const a = loadRulesFile(RULES);
    const b = loadRulesFile(rulesB);
    // The uninterrupted run: first half under A, everything released, then B takes over.
    const want: Alert[] = [];
    const p = new Pipeline<undefined>({ rules: a, locator, latenessMs: LATENESS_MS, onAlert: (al) => !al.shadow && want.push(al) });
    const feed = (ls: string[]) => {
      for (const l of ls) p.offer(decodeEvent(l), 0, undefined);
      p.flush();
    };
    feed(small.slice(0, half));
    const firstHalf = want.length;
    p.setRules(b);
    feed(small.slice(half));
    expect(want.length).toBeGreaterThan(firstHalf);

    const { alerts, env, input } = await setup('eosrules', 3, true, small.slice(0, half));
    const d1 = start(env);
    await readAlerts(alerts, firstHalf, [d1], 120_000);
    // Everything scored (the idle flush ran) before the stop; the stop commits it.
    const port = await d1.port;
    const flushed = await eventually(() => httpGet(port, '/metrics'), (r) => /^fraudwatch_reorder_buffered_events 0$/m.test(r.body), 60_000, 500);
    expect(flushed.body).toMatch(/^fraudwatch_reorder_buffered_events 0$/m);
    expect(await d1.stop()).toBe(0);

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const rest = small.slice(half);
    for (let i = 0; i < rest.length; i += 5000) {
      await producer.send({ topic: input, acks: -1, messages: rest.slice(i, i + 5000).map((value) => ({ key: (JSON.parse(value).accountId as string | undefined) ?? null, value })) });
    }
    await producer.disconnect();
    const d2 = start({ ...env, FRAUDWATCH_RULES: rulesB });
    const all = await readAlerts(alerts, want.length, [d2], 120_000);
    const ids = all.map((x) => x.alertId);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(want.map((x) => x.alertId).sort());
    expect(all.filter((x) => x.rulesVersion === b.version).length).toBe(want.length - firstHalf);
    // The restore dropped viewing_anomaly's state (off in B) and kept the rest.
    const restored = d2.logs.filter((l) => l.includes('"msg":"task state restored"')).map((l) => JSON.parse(l) as { keys: number; droppedStates: number });
    expect(restored.reduce((n, r) => n + r.keys, 0)).toBeGreaterThan(100);
    expect(restored.reduce((n, r) => n + r.droppedStates, 0)).toBeGreaterThan(0);
    expect(await d2.stop()).toBe(0);
  }, 300_000);

  describe('co-partitioned input (FRAUDWATCH_INPUT_KEYED=account)', () => {
    it('three instances, one killed with -9 mid-stream: the replay\'s alerts, and no account repartition topic', async () => {
      const { input, alerts, group, env } = await setup('eoskeyed', 6, true);
      const keyedEnv = { ...env, FRAUDWATCH_INPUT_KEYED: 'account' };
      const ds = [0, 1, 2].map(() => start(keyedEnv));
      await eventually(() => committedRecords(group, input), (n) => n >= lines.length * 0.3, 120_000, 100);
      ds[1]!.proc.kill('SIGKILL');
      await ds[1]!.exited;
      expect((await readCommitted(alerts)).length).toBeLessThan(expected.size);
      const survivors = [ds[0]!, ds[2]!];
      const got = await readAlerts(alerts, expected.size, survivors);
      expectExactlyTheReplay(got, input, ds);
      expect(survivors.some((d) => d.logs.some((l) => l.includes('"msg":"task state restored"')))).toBe(true);
      // The account state was processed where the records landed: nothing crossed an account repartition topic.
      const topics = await admin.listTopics();
      expect(topics).toContain(internalTopicNames(group).repartition.ip);
      expect(topics).not.toContain(internalTopicNames(group).repartition.account);
      // Every valid record was keyed by its accountId: none was dead-lettered for its key.
      const port = await survivors[0]!.port;
      expect((await httpGet(port, '/metrics')).body).toMatch(/^fraudwatch_miskeyed_records_total 0$/m);
      expect((await Promise.all(survivors.map((d) => d.stop()))).every((c) => c === 0)).toBe(true);
    }, 300_000);

    it('brute_force alone (no IP-kind detector, so no markers to the IP tasks): the replay\'s alerts, every event released', async () => {
      const rulesDir = mkdtempSync(join(tmpdir(), 'fw-eos-bf-'));
      const bfRules = join(rulesDir, 'bf.yaml');
      writeFileSync(bfRules, `detectors:\n${DETECTOR_IDS.map((d) => `  ${d}:\n    enabled: ${d === 'brute_force'}`).join('\n')}\n`);
      // The whole log: brute_force alerts are rare (a handful per 100k events).
      const small = lines;
      const want: Alert[] = [];
      const p = new Pipeline<undefined>({ rules: loadRulesFile(bfRules), locator, latenessMs: LATENESS_MS, onAlert: (al) => !al.shadow && want.push(al) });
      for (const l of small) p.offer(decodeEvent(l), 0, undefined);
      p.flush();
      expect(want.length).toBeGreaterThan(3);
      const { alerts, env } = await setup('eosbf', 3, true, small);
      const d = start({ ...env, FRAUDWATCH_RULES: bfRules, FRAUDWATCH_INPUT_KEYED: 'account' });
      const got = await readAlerts(alerts, want.length, [d], 120_000);
      expect(got.map((a) => a.alertId).sort()).toEqual(want.map((a) => a.alertId).sort());
      const port = await d.port;
      const flushed = await eventually(() => httpGet(port, '/metrics'), (r) => /^fraudwatch_reorder_buffered_events 0$/m.test(r.body), 60_000, 500);
      expect(flushed.body).toMatch(/^fraudwatch_reorder_buffered_events 0$/m);
      expect(d.logs.filter((l) => l.includes('events arrived behind the watermark'))).toEqual([]);
      expect(await d.stop()).toBe(0);
    }, 300_000);

    it('a record keyed otherwise (another key, or a partition its key does not hash to) is dead-lettered with FW_INPUT_MISKEYED and counted, never scored', async () => {
      const small = lines.slice(0, 60_000);
      const rules = loadRulesFile(RULES);
      const replay = (ls: readonly string[]): Alert[] => {
        const out: Alert[] = [];
        const p = new Pipeline<undefined>({ rules, locator, latenessMs: LATENESS_MS, onAlert: (al) => !al.shadow && out.push(al) });
        for (const l of ls) p.offer(decodeEvent(l), 0, undefined);
        p.flush();
        return out;
      };
      const all = replay(small);
      // Two accounts with an account alert in the full log: one's records carry another key, the
      // other's are written to a partition their (right) key does not hash to.
      const accounts = [...new Set(all.filter((a) => a.accountId !== undefined).map((a) => a.accountId!))].slice(0, 2);
      expect(accounts.length).toBe(2);
      const accountOf = (l: string): string | undefined => {
        const r = decodeEvent(l);
        return r.ok ? r.event.accountId : undefined;
      };
      const miskeyed = small.filter((l) => accounts.includes(accountOf(l) ?? ''));
      const want = replay(small.filter((l) => !accounts.includes(accountOf(l) ?? '')));
      // The trap: scoring those records anywhere would bring their accounts' alerts back.
      expect(want.length).toBeLessThan(all.length);

      const partitions = 3;
      const input = uniqueName('eosmiskey-in');
      const alerts = uniqueName('eosmiskey-alerts');
      const group = uniqueName('eosmiskey-group');
      await createTopic(admin, input, partitions);
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      for (let i = 0; i < small.length; i += 5000) {
        const messages = small.slice(i, i + 5000).map((value) => {
          const account = accountOf(value);
          if (account === accounts[0]) return { key: `${account}-other`, value };
          if (account === accounts[1]) return { key: account, value, partition: (keyPartition(account, partitions) + 1) % partitions };
          return { key: account ?? null, value };
        });
        await producer.send({ topic: input, acks: -1, messages });
      }
      await producer.disconnect();
      const env = daemonEnv(brokers!, { input, alerts, group }, {
        FRAUDWATCH_RULES: RULES,
        FRAUDWATCH_LATENESS: `${LATENESS_MS / 1000}s`,
        FRAUDWATCH_SESSION_TIMEOUT: '6s',
        FRAUDWATCH_INPUT_KEYED: 'account',
      });
      const d = start(env);
      const got = await readAlerts(alerts, want.length, [d], 120_000);
      const ids = got.map((a) => a.alertId);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(want.map((a) => a.alertId).sort());
      // Each mis-keyed record is in the dead-letter topic, once, with its code and reason, and counted.
      const { stdout } = await execFileP('kcat', ['-C', '-b', brokers!, '-t', `${input}.dlq`, '-o', 'beginning', '-e', '-q', '-X', 'isolation.level=read_committed', '-J'], { maxBuffer: 256 * 1024 * 1024 });
      const letters = stdout
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as { payload: string; headers?: string[] })
        .filter((m) => {
          const h = m.headers ?? [];
          return h[h.indexOf('fw-error-code') + 1] === 'FW_INPUT_MISKEYED' && h[h.indexOf('fw-error-reason') + 1] === 'not_keyed_by_account';
        });
      expect(letters.map((m) => m.payload).sort()).toEqual([...miskeyed].sort());
      const port = await d.port;
      const metrics = await eventually(() => httpGet(port, '/metrics'), (r) => new RegExp(`^fraudwatch_miskeyed_records_total ${miskeyed.length}$`, 'm').test(r.body), 30_000, 500);
      expect(metrics.body).toMatch(new RegExp(`^fraudwatch_miskeyed_records_total ${miskeyed.length}$`, 'm'));
      expect(d.logs.filter((l) => l.includes('events arrived behind the watermark'))).toEqual([]);
      expect(await d.stop()).toBe(0);
    }, 300_000);
  });
});
