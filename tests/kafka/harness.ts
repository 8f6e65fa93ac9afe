/**
 * Real-broker test harness: finds or starts a broker, makes unique topics, spawns the daemon as
 * a child process (the way users run it), and reads topics back. Never a mock.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Kafka, logLevel, Partitioners, type Admin, type KafkaMessage } from 'kafkajs';
import { expect } from 'vitest';
import { login } from '../helpers.js';
import { mainTestPort, trackName } from './suiteBrokers.js';

const exec = promisify(execFile);
const SCRIPT = 'scripts/kafka-local.sh';
/**
 * The main test broker's port: KAFKA_PORT when set, else 19092 (away from the usual 9092, so a
 * developer's broker is left alone); NaN when KAFKA_PORT is not a port, which matters only if the
 * harness has to start the broker. Tests that start their own broker use fixed ports of their own.
 */
export const TEST_PORT = ((): number => {
  try {
    return mainTestPort();
  } catch {
    return Number.NaN;
  }
})();

/**
 * The broker address: FRAUDWATCH_TEST_BROKERS, else a local broker started with the project's
 * script on TEST_PORT. Undefined when neither works; with FRAUDWATCH_REQUIRE_KAFKA=1 (CI) that is
 * an error. A broker started here is stopped when the suite ends (tests/kafka/globalSetup.ts);
 * one given with FRAUDWATCH_TEST_BROKERS, or already running, is left alone.
 */
export async function testBrokers(): Promise<string | undefined> {
  if (process.env.FRAUDWATCH_TEST_BROKERS) return process.env.FRAUDWATCH_TEST_BROKERS;
  try {
    const port = mainTestPort(); // throws with the reason when KAFKA_PORT is not a port
    await exec('bash', [SCRIPT, 'start'], { env: { ...process.env, KAFKA_PORT: String(port) }, timeout: 240_000 });
    process.env.FRAUDWATCH_TEST_BROKERS = `127.0.0.1:${port}`;
    return process.env.FRAUDWATCH_TEST_BROKERS;
  } catch (err) {
    const why = (err as { stderr?: string }).stderr || (err as Error).message;
    if (process.env.FRAUDWATCH_REQUIRE_KAFKA === '1') throw new Error(`FRAUDWATCH_REQUIRE_KAFKA=1 but no broker could be started: ${why}`);
    console.warn(
      `\n${'!'.repeat(78)}\n!! SKIPPING KAFKA INTEGRATION TESTS: no FRAUDWATCH_TEST_BROKERS and the local broker\n!! did not start (${why.trim().split('\n').pop()}).\n!! CI sets FRAUDWATCH_REQUIRE_KAFKA=1, which turns this skip into a failure.\n${'!'.repeat(78)}\n`,
    );
    return undefined;
  }
}

/** Starts or stops a dedicated broker on `port` (for outage tests); returns its address. */
export async function brokerScript(command: 'start' | 'stop' | 'reset', port: number): Promise<string> {
  await exec('bash', [SCRIPT, command], { env: { ...process.env, KAFKA_PORT: String(port) }, timeout: 240_000 });
  return `127.0.0.1:${port}`;
}

export function kafkaFor(brokers: string): Kafka {
  return new Kafka({ clientId: 'fraudwatch-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 8 } });
}

/**
 * A topic, group or transactional id of the test's own. Tracked: when the suite ends, the topics
 * and groups carrying the name (and those the daemon derives from it, `<name>.dlq`, `<name>-…`)
 * are deleted from the main broker, whether the test passed or not (tests/kafka/globalSetup.ts).
 */
export function uniqueName(prefix: string): string {
  const name = `${prefix}-${randomUUID().slice(0, 8)}`;
  trackName(name);
  return name;
}

export async function createTopic(admin: Admin, topic: string, partitions = 1): Promise<void> {
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
  // createTopics returns before every broker's metadata cache knows the topic: wait until the
  // partitions report a leader, so the first produce does not race it.
  await eventually(
    async () => {
      try {
        const md = await admin.fetchTopicMetadata({ topics: [topic] });
        return md.topics[0]!.partitions.filter((p) => p.leader >= 0).length;
      } catch {
        return 0;
      }
    },
    (n) => n === partitions,
    30_000,
    100,
  );
}

/** Produces lines as messages keyed by accountId (or a given key function), in order. */
export async function produceLines(kafka: Kafka, topic: string, lines: string[], keyOf?: (line: string) => string | null): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const key = keyOf ?? ((line: string) => {
    try {
      return String(JSON.parse(line).accountId ?? '') || null;
    } catch {
      return null;
    }
  });
  for (let i = 0; i < lines.length; i += 500) {
    await producer.send({ topic, acks: -1, messages: lines.slice(i, i + 500).map((value) => ({ key: key(value), value })) });
  }
  await producer.disconnect();
}

/** Reads a topic from the beginning until `until` says enough or `timeoutMs` passes. */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  until: (messages: KafkaMessage[]) => boolean,
  timeoutMs = 60_000,
  readCommitted = false,
): Promise<KafkaMessage[]> {
  // Output topics are created by the daemon: wait for them rather than fail the subscribe.
  const admin = kafka.admin();
  await admin.connect();
  await eventually(async () => (await admin.listTopics()).includes(topic), Boolean, timeoutMs, 200);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), readUncommitted: !readCommitted, maxWaitTimeInMs: 200 });
  const messages: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages.push(message);
      if (until(messages)) resolveDone();
    },
  });
  const timer = setTimeout(resolveDone, timeoutMs);
  if (until(messages)) resolveDone();
  await done;
  clearTimeout(timer);
  await consumer.disconnect();
  return messages;
}

/**
 * Reads a topic read_committed with kcat (librdkafka), one string per record value; [] while the
 * topic does not exist yet (or kcat cannot reach the broker). Not kafkajs: kafkajs 2.2.4 filters
 * aborted transactions one per record and assumes the broker lists them by first offset, so when
 * several producers' transactions abort at once (exactly what a kill -9 leaves behind) it can
 * hand out records of aborted transactions. librdkafka implements the Java client's algorithm.
 */
export async function readCommitted(brokers: string, topic: string): Promise<string[]> {
  try {
    const { stdout } = await exec('kcat', ['-C', '-b', brokers, '-t', topic, '-o', 'beginning', '-e', '-q', '-X', 'isolation.level=read_committed', '-f', '%s\\n'], { maxBuffer: 256 * 1024 * 1024 });
    return stdout.split('\n').filter((l) => l.length > 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('kcat is needed to read read_committed (apt-get install kcat)');
    return []; // not created yet
  }
}

export interface DaemonProcess {
  readonly proc: ChildProcess;
  readonly logs: string[];
  /** Resolves with the HTTP port once the daemon logged it. */
  readonly port: Promise<number>;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `fraudwatch run` as a child process, the way an operator would. */
export function spawnDaemon(env: Record<string, string>, args: string[] = []): DaemonProcess {
  const proc = spawn(process.execPath, ['bin/fraudwatch.js', 'run', ...args], {
    env: { ...process.env, FRAUDWATCH_HTTP_PORT: '0', FRAUDWATCH_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      logs.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.pattern.test(line)) waiters.splice(i, 1)[0]!.resolve(line);
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const waitForLog = (pattern: RegExp, timeoutMs = 60_000) => {
    const hit = logs.find((l) => pattern.test(l));
    if (hit) return Promise.resolve(hit);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms; last lines:\n${logs.slice(-15).join('\n')}`)), timeoutMs);
      waiters.push({ pattern, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  };
  const port = waitForLog(/http listening/).then((l) => JSON.parse(l).port as number);
  // A daemon killed before it listened (a chaos kill right after a restart) never resolves this:
  // whoever awaits it still gets the rejection, but an unawaited one must not end the process.
  port.catch(() => undefined);
  return {
    proc,
    logs,
    port,
    exited,
    waitForLog,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** Polls until `check` passes or the timeout ends; returns the last value. */
export async function eventually<T>(check: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await check();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, everyMs));
    v = await check();
  }
  return v;
}

/** The daemon's environment for a test's own topics. */
export function daemonEnv(brokers: string, topics: { input: string; alerts: string; dlq?: string; group?: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    FRAUDWATCH_BROKERS: brokers,
    FRAUDWATCH_INPUT_TOPIC: topics.input,
    FRAUDWATCH_ALERTS_TOPIC: topics.alerts,
    FRAUDWATCH_DLQ_TOPIC: topics.dlq ?? `${topics.input}.dlq`,
    FRAUDWATCH_GROUP_ID: topics.group ?? uniqueName('fw-group'),
    FRAUDWATCH_CLIENT_ID: 'fraudwatch-test',
    ...extra,
  };
}

/** Ten failed logins on each account, 20 s apart from `startMs`: one brute_force alert per account with default rules. */
export function attackLines(accounts: string[], startMs = 0): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 10; i++) for (const a of accounts) lines.push(JSON.stringify(login(a, startMs + i * 20_000, '198.51.100.1', false)));
  return lines;
}

/**
 * A broker of the test's own on `port`, fresh from the project's script, for tests that stop and
 * restart it (never the shared one), with a 2-partition input topic and a name for the alerts topic.
 */
export async function ownBroker(port: number, prefix: string): Promise<{ brokers: string; kafka: Kafka; input: string; alerts: string }> {
  await brokerScript('reset', port);
  const brokers = await brokerScript('start', port);
  const kafka = kafkaFor(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const input = uniqueName(`${prefix}-in`);
  await createTopic(admin, input, 2);
  await admin.disconnect();
  return { brokers, kafka, input, alerts: uniqueName(`${prefix}-alerts`) };
}

/**
 * Stops the broker on `brokerPort` under a running daemon, checks that the daemon turns not ready
 * but stays alive through the outage, then starts the broker again.
 */
export async function outage(daemon: DaemonProcess, httpPort: number, brokerPort: number): Promise<void> {
  await brokerScript('stop', brokerPort);
  const down = await eventually(() => httpGet(httpPort, '/readyz'), (r) => r.status === 503, 40_000);
  expect(down.status).toBe(503);
  expect((await httpGet(httpPort, '/healthz')).status).toBe(200);
  await new Promise((r) => setTimeout(r, 3000));
  expect(daemon.proc.exitCode).toBeNull(); // still running through the outage
  await brokerScript('start', brokerPort);
}
