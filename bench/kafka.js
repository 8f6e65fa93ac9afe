// Kafka end to end: `fraudwatch run` against a bare kafkajs pipe (consume, produce the same
// messages, commit: no processing) on the same broker and messages, and event-to-alert latency
// at a steady rate, eager (lateness 0) and with the default lateness.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

// FRAUDWATCH_BENCH_PORT moves the bench's own broker (several checkouts benchmarking side by side).
const BENCH_PORT = Number(process.env.FRAUDWATCH_BENCH_PORT ?? 19592);
const THROUGHPUT_EVENTS = Number(process.env.BENCH_KAFKA_EVENTS ?? 200_000);
const RATE = Number(process.env.BENCH_RATE ?? 5000);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 20);

let startedBroker = false;

/** The broker to measure against: the one given, else a local one started here (and stopped by `stopStartedBroker`). */
export function brokers() {
  const given = process.env.FRAUDWATCH_BENCH_BROKERS ?? process.env.FRAUDWATCH_TEST_BROKERS;
  if (given) return given;
  execFileSync('bash', ['scripts/kafka-local.sh', 'start'], { env: { ...process.env, KAFKA_PORT: String(BENCH_PORT) }, stdio: 'ignore' });
  if (!startedBroker) process.once('exit', stopStartedBroker); // also when a part fails
  startedBroker = true;
  return `127.0.0.1:${BENCH_PORT}`;
}

/** Stops the local broker if the bench started it: a bench leaves no server running behind it. */
export function stopStartedBroker() {
  if (!startedBroker) return;
  execFileSync('bash', ['scripts/kafka-local.sh', 'stop'], { env: { ...process.env, KAFKA_PORT: String(BENCH_PORT) }, stdio: 'ignore' });
  startedBroker = false;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const name = (p) => `${p}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

/**
 * Creates topics and waits until every partition has a leader. kafkajs's own waitForLeaders
 * gives up when a broker's metadata does not know a just-created topic yet
 * (UNKNOWN_TOPIC_OR_PARTITION), which a fresh Kafka 4 broker sometimes answers.
 */
export async function createTopics(admin, topics) {
  // Leaders are awaited below: kafkajs's own wait gives up after a few metadata retries, which a
  // broker busy with other jobs on the same cores (KRaft metadata still propagating) can exceed.
  await admin.createTopics({ topics, waitForLeaders: false });
  for (const { topic, numPartitions } of topics) {
    await waitUntil(
      async () => {
        try {
          const md = await admin.fetchTopicMetadata({ topics: [topic] });
          return md.topics[0].partitions.filter((p) => p.leader >= 0).length === numPartitions;
        } catch {
          return false;
        }
      },
      30_000,
    );
  }
}

async function committedTotal(admin, groupId, topic) {
  const r = await admin.fetchOffsets({ groupId, topics: [topic] });
  return r[0].partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

/** The node flags `fraudwatch` runs with: those on the launcher's #! line (the image's CMD has the same). */
export function launcherNodeFlags() {
  const first = readFileSync('bin/fraudwatch.js', 'utf8').split('\n', 1)[0];
  return first.replace(/^#!\S*env\s+(-S\s+)?node\b/, '').trim().split(/\s+/).filter(Boolean);
}

/** Starts `fraudwatch run` as the `fraudwatch` command does (its node flags), plus `nodeArgs`. */
export function spawnDaemon(env, nodeArgs = []) {
  const proc = spawn(process.execPath, [...launcherNodeFlags(), ...nodeArgs, 'bin/fraudwatch.js', 'run'], { env: { ...process.env, FRAUDWATCH_HTTP_PORT: '0', FRAUDWATCH_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (c) => (log += c));
  proc.stderr.on('data', (c) => (log += c));
  return { proc, log: () => log, stop: () => new Promise((r) => (proc.exitCode !== null ? r() : (proc.once('exit', r), proc.kill('SIGTERM')))) };
}

async function waitUntil(check, timeoutMs = 300_000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  throw new Error('timed out');
}

function percentile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function kafkaBench() {
  let bootstrap;
  try {
    bootstrap = brokers();
  } catch (err) {
    return { skipped: `no broker: ${err.message.split('\n')[0]}` };
  }
  const kafka = new Kafka({ clientId: 'fw-bench', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();

  // --- throughput: the same prefilled messages through the pipe and through the daemon -------
  const input = name('bench-in');
  await createTopics(admin, [{ topic: input, numPartitions: 3 }]);
  const lines = readFileSync(process.env.BENCH_LOG ?? findLog(), 'utf8').split('\n').filter((l) => l.startsWith('{"eventId"')).slice(0, THROUGHPUT_EVENTS);
  for (let i = 0; i < lines.length; i += 2000) {
    await producer.send({ topic: input, acks: -1, messages: lines.slice(i, i + 2000).map((value) => ({ key: /"accountId":"([^"]*)"/.exec(value)?.[1] ?? null, value })) });
  }
  const events = lines.length;

  // Bare pipe: consume, produce the same messages, commit after produce.
  const pipeOut = name('bench-pipe-out');
  await createTopics(admin, [{ topic: pipeOut, numPartitions: 3 }]);
  const pipeGroup = name('bench-pipe');
  const consumer = kafka.consumer({ groupId: pipeGroup, maxWaitTimeInMs: 100 });
  const pipeProducer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await pipeProducer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [input], fromBeginning: true });
  let joinedAt = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => (joinedAt = performance.now()));
  let piped = 0;
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      await pipeProducer.sendBatch({ acks: -1, topicMessages: [{ topic: pipeOut, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })) }] });
      for (const m of batch.messages) resolveOffset(m.offset);
      await consumer.commitOffsets([{ topic: input, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
      piped += batch.messages.length;
      await heartbeat();
    },
  });
  await waitUntil(async () => piped >= events);
  const pipeMs = performance.now() - joinedAt;
  await consumer.disconnect();
  await pipeProducer.disconnect();

  // The daemon, eager, on the same topic with its own group; timed from its group join to the
  // commit of the last offset (it commits only after producing alerts and dead letters).
  const daemonGroup = name('bench-daemon');
  const t0 = performance.now();
  // A short idle timeout: once one partition is drained, the default 2 s wait for it (event-time
  // alignment across partitions) would be timed as if it were processing.
  const d = spawnDaemon({ FRAUDWATCH_BROKERS: bootstrap, FRAUDWATCH_INPUT_TOPIC: input, FRAUDWATCH_ALERTS_TOPIC: name('bench-alerts'), FRAUDWATCH_GROUP_ID: daemonGroup, FRAUDWATCH_LATENESS: '0s', FRAUDWATCH_IDLE_TIMEOUT: '200ms', FRAUDWATCH_LOG_LEVEL: 'info' });
  await waitUntil(async () => d.log().includes('joined consumer group'), 60_000, 20);
  const daemonJoined = performance.now();
  await waitUntil(async () => (await committedTotal(admin, daemonGroup, input)) >= events, 600_000, 50);
  const daemonMs = performance.now() - daemonJoined;
  await d.stop();

  // --- latency at a steady rate: brute-force patterns, one alert per 10 events ---------------
  const latency = [];
  for (const lateness of (process.env.BENCH_LATENESS ?? '0s,30s').split(',')) {
    latency.push(await latencyRun(kafka, admin, producer, bootstrap, lateness));
  }

  await producer.disconnect();
  await admin.disconnect();
  return {
    broker: bootstrap,
    events,
    pipe: { ms: pipeMs, eventsPerSec: events / (pipeMs / 1000) },
    daemon: { ms: daemonMs, eventsPerSec: events / (daemonMs / 1000), startupMs: daemonJoined - t0 },
    latency,
    target: 'daemon ≥ 70% of the pipe; p99 < 100 ms at 5k ev/s with lateness 0',
  };
}

/** The largest generated log (the replay part's): smaller ones may be left by other parts. */
function findLog() {
  const dir = '.cache/bench';
  const logs = existsSync(dir)
    ? readdirSync(dir)
        .map((d) => `${dir}/${d}/events.jsonl`)
        .filter((f) => existsSync(f))
        .sort((a, b) => statSync(b).size - statSync(a).size)
    : [];
  if (logs.length === 0) throw new Error('no generated log in .cache/bench: run the replay part first');
  return logs[0];
}

async function latencyRun(kafka, admin, producer, bootstrap, lateness) {
  const input = name('bench-lat-in');
  const alerts = name('bench-lat-alerts');
  await createTopics(admin, [{ topic: input, numPartitions: 3 }, { topic: alerts, numPartitions: 3 }]);
  const d = spawnDaemon({ FRAUDWATCH_BROKERS: bootstrap, FRAUDWATCH_INPUT_TOPIC: input, FRAUDWATCH_ALERTS_TOPIC: alerts, FRAUDWATCH_GROUP_ID: name('bench-lat'), FRAUDWATCH_LATENESS: lateness, FRAUDWATCH_LOG_LEVEL: 'info' });
  await waitUntil(async () => d.log().includes('joined consumer group'), 60_000, 20);

  const sentAt = new Map();
  const latencies = [];
  const reader = kafka.consumer({ groupId: name('bench-lat-reader'), maxWaitTimeInMs: 10 });
  await reader.connect();
  await reader.subscribe({ topics: [alerts], fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      const now = performance.now();
      const ids = JSON.parse(message.value.toString()).eventIds;
      const t = sentAt.get(ids[ids.length - 1]);
      if (t !== undefined) latencies.push(now - t);
    },
  });
  await sleep(1000);

  // 10 ms ticks of RATE/100 events; accounts interleave, each gets 10 failures in a row of ticks.
  const perTick = Math.max(1, Math.round(RATE / 100));
  const latenessMs = Number.parseInt(lateness, 10) * 1000;
  // The stream runs a whole lateness (and a second of margin) longer than the measured part:
  // events of the last `lateness` seconds are released by the idle flush, not the watermark, so
  // they are not timed. Without the margin, the last timed events can sit just ahead of the final
  // watermark and wait for the idle flush, a whole lateness more.
  const seconds = LATENCY_SECONDS + latenessMs / 1000 + 1;
  const ticks = seconds * 100;
  let seq = 0;
  const start = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    const due = start + tick * 10;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const messages = [];
    const now = Date.now();
    for (let i = 0; i < perTick; i++, seq++) {
      const account = `lat-${lateness}-${Math.floor(seq / 10) % 1_000_000}-${Math.floor(seq / 10)}`;
      const eventId = `lat-${seq}`;
      messages.push({ key: account, value: JSON.stringify({ eventId, type: 'login', ts: now, accountId: account, ip: '198.51.100.7', success: false }) });
      if (tick < LATENCY_SECONDS * 100) sentAt.set(eventId, performance.now());
    }
    // Not awaited: a steady offered load, as independent producers would give.
    void producer.send({ topic: input, acks: 1, messages });
  }
  const expected = Math.floor((LATENCY_SECONDS * 100 * perTick) / 10);
  await waitUntil(async () => latencies.length >= expected, latenessMs + 120_000, 200).catch(() => {
    process.stderr.write(`latency run (lateness ${lateness}): ${latencies.length} of ${expected} alerts arrived\n${d.log().slice(-3000)}\n`);
  });
  await reader.disconnect();
  await d.stop();
  const sorted = [...latencies].sort((a, b) => a - b);
  return { lateness, latenessMs, rate: RATE, seconds: LATENCY_SECONDS, events: seq, alerts: latencies.length, expectedAlerts: expected, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}
