// Scale-out of exactly-once processing: throughput of 1, 2 and 3 instances of
// `fraudwatch run --processing exactly-once` in one consumer group over the same 6-partition input.
// Each count starts from scratch (a fresh group, so fresh internal and output topics) and is timed
// from spawning the instances until stage 2 has processed every input event and committed its
// alerts. The alerts read back (read_committed) must be the same for every count.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { generateToDir } from '../dist/generate/generator.js';
import { internalTopicNames } from '../dist/streams/topics.js';
import { brokers, createTopics, name, sleep, spawnDaemon } from './kafka.js';

const TARGET_EVENTS = Number(process.env.BENCH_SCALING_EVENTS ?? 300_000);
const PARTITIONS = 6;
const INSTANCES = [1, 2, 3];
// The generated log is out of order by up to 9.5 s (held lines); a 10 s lateness keeps every
// event in order, so the alerts are the replay's whatever the instance count.
const LATENESS = '10s';
const POLL_MS = 100;
// Records read back from the end of each repartition partition to find its last event (see
// lastEventEnds); the whole partition is read only if this tail holds none.
const TAIL_RECORDS = 2000;
// The bench's own "clock" events (see injectClock): one account, never counted as input.
const CLOCK_ACCOUNT = 'bench-scaling-clock';
const RUN_TIMEOUT_MS = Math.max(300_000, TARGET_EVENTS * 3);

/** The generated log for this size, cached like run.js's (same seed and directory naming). */
async function scalingLog() {
  const days = 30;
  const accounts = Math.max(50, Math.round(TARGET_EVENTS / (days * 17.3)));
  const dir = `.cache/bench/log-${accounts}x${days}`;
  if (!existsSync(`${dir}/events.jsonl`)) {
    process.stderr.write(`generating ${accounts} accounts × ${days} days (seed 20260101) into ${dir}\n`);
    await generateToDir({ seed: 20260101, accounts, days }, dir);
  }
  return `${dir}/events.jsonl`;
}

export async function scalingBench() {
  let bootstrap;
  try {
    bootstrap = brokers();
  } catch (err) {
    return { skipped: `no broker: ${err.message.split('\n')[0]}` };
  }
  // Every line of the log, as it is: its invalid lines go to the dead letters in stage 1, its
  // repeated lines are dropped as duplicates in stage 2. Both are part of the work timed.
  const lines = readFileSync(await scalingLog(), 'utf8').split('\n').filter((l) => l.length > 0);
  let maxTs = Number.NEGATIVE_INFINITY;
  for (const line of lines) {
    try {
      const ts = JSON.parse(line).ts;
      const ms = typeof ts === 'number' ? ts : Date.parse(ts);
      if (ms > maxTs) maxTs = ms;
    } catch {
      // an invalid line: no event time
    }
  }

  const kafka = new Kafka({ clientId: 'fw-bench-scaling', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const input = name('bench-scale-in');
  const runs = [];
  try {
    // Keyed by accountId, as production producers should (README) and as kafka.js does. Stage 1
    // re-keys every event by account (and network) anyway, so the split of stage-2 work is the
    // same either way; keyed, each account's lines also keep their log order within one input
    // partition, so the only disorder stage 2 sees is the log's own (within the lateness), not
    // one made up by the bench's spreading an account over partitions.
    await createTopics(admin, [{ topic: input, numPartitions: PARTITIONS }]);
    for (let i = 0; i < lines.length; i += 2000) {
      await producer.send({ topic: input, acks: -1, messages: lines.slice(i, i + 2000).map((value) => ({ key: /"accountId":"([^"]*)"/.exec(value)?.[1] ?? null, value })) });
    }
    const inputEnds = new Map((await admin.fetchTopicOffsets(input)).map((o) => [o.partition, Number(o.high)]));

    for (const instances of INSTANCES) {
      try {
        runs.push(await scalingRun({ kafka, admin, producer, bootstrap, input, inputEnds, instances, clockTs: maxTs + instances * 3_600_000 }));
      } catch (err) {
        process.stderr.write(`scaling run with ${instances} instance(s) failed: ${err.stack ?? err}\n`);
        runs.push({ instances, error: String(err.message ?? err).split('\n')[0] });
      }
    }
  } finally {
    await admin.deleteTopics({ topics: [input] }).catch((err) => process.stderr.write(`deleting ${input}: ${err.message}\n`));
    await producer.disconnect();
    await admin.disconnect();
  }

  const one = runs.find((r) => r.instances === 1 && r.error === undefined);
  for (const r of runs) {
    if (r.error !== undefined || one === undefined) continue;
    r.speedup = r.eventsPerSec / one.eventsPerSec;
    r.sameAlertsAsOneInstance = r.alerts === one.alerts && r.alertDigest === one.alertDigest;
  }
  const ok = runs.filter((r) => r.error === undefined);
  return {
    broker: bootstrap,
    events: lines.length,
    partitions: PARTITIONS,
    lateness: LATENESS,
    runs,
    // False is a correctness problem, not noise: every instance count must give the same alerts.
    alertsConsistent: ok.length > 0 && ok.every((r) => r.alerts === ok[0].alerts && r.alertDigest === ok[0].alertDigest),
  };
}

async function scalingRun({ kafka, admin, producer, bootstrap, input, inputEnds, instances, clockTs }) {
  const group = name(`bench-scale${instances}`);
  const internal = internalTopicNames(group);
  const repartition = [internal.repartition.account, internal.repartition.ip];
  const alertsTopic = `${group}-alerts`;
  const topics = [alertsTopic, `${alertsTopic}.shadow`, `${group}-dlq`, ...repartition, internal.changelog];
  const readerGroups = [];
  const env = {
    FRAUDWATCH_BROKERS: bootstrap,
    FRAUDWATCH_PROCESSING: 'exactly_once',
    FRAUDWATCH_GROUP_ID: group,
    FRAUDWATCH_INPUT_TOPIC: input,
    FRAUDWATCH_ALERTS_TOPIC: alertsTopic,
    // Its own dead-letter topic: the default (<input>.dlq) would be shared by the runs.
    FRAUDWATCH_DLQ_TOPIC: `${group}-dlq`,
    FRAUDWATCH_LATENESS: LATENESS,
    // As in kafka.js: a drained partition stops holding back event time after 200 ms, not 2 s.
    FRAUDWATCH_IDLE_TIMEOUT: '200ms',
    FRAUDWATCH_LOG_LEVEL: 'info',
  };

  const t0 = performance.now();
  const daemons = Array.from({ length: instances }, () => spawnDaemon(env));
  try {
    const done = await untilProcessed({ kafka, admin, producer, group, input, inputEnds, repartition, daemons, t0, clockTs, readerGroups });
    // VmHWM is the process's peak resident set so far: one read before stopping is its peak.
    const peakRssMbPerInstance = daemons.map((d) => peakRssMb(d.proc.pid));
    await stopAll(daemons);
    for (const d of daemons) if (d.proc.exitCode !== 0) process.stderr.write(`an instance exited with ${d.proc.exitCode ?? d.proc.signalCode}:\n${d.log().slice(-2000)}\n`);

    // The alerts as a read_committed consumer sees them: distinct alertIds, and the raw count
    // too, so records of aborted transactions would show (kafkajs needs patches/ for that; README).
    const ids = new Set();
    let alertRecords = 0;
    await readRanges(kafka, admin, alertsTopic, (o) => o.low, (_p, m) => {
      if (m.value === null) return;
      const alert = JSON.parse(m.value.toString());
      if (alert.accountId === CLOCK_ACCOUNT) return;
      alertRecords++;
      ids.add(alert.alertId);
    }, readerGroups);
    const events = [...inputEnds.values()].reduce((a, b) => a + b, 0);
    return {
      instances,
      ms: done.ms,
      eventsPerSec: events / (done.ms / 1000),
      startupMs: done.startupMs,
      stage1Ms: done.stage1Ms,
      alerts: ids.size,
      alertRecords,
      alertDigest: createHash('sha256').update([...ids].sort().join('\n')).digest('hex').slice(0, 16),
      peakRssMbPerInstance,
    };
  } catch (err) {
    for (const d of daemons) process.stderr.write(`instance log (tail):\n${d.log().slice(-3000)}\n`);
    throw err;
  } finally {
    await stopAll(daemons);
    await admin.deleteTopics({ topics }).catch((err) => process.stderr.write(`deleting ${topics.join(', ')}: ${err.message}\n`));
    await admin.deleteGroups([group, ...readerGroups]).catch(() => undefined);
  }
}

/**
 * Completion signal: the group's committed offsets, polled every 100 ms from spawn.
 *
 * Every stage-1 and stage-2 transaction commits its consumed offsets (sendOffsets) together with
 * its output, and a stage-2 task commits only up to the earliest event still in its reorder
 * buffer. So once the group's offset on a repartition partition is past that partition's last
 * event, every event of it has been scored and its alerts are committed; once that holds for
 * every repartition partition (and stage 1 has committed the whole input, so nothing more will
 * come), the work is done. /metrics was not used: it counts stage-1 events, not stage-2 ones,
 * and its lag gauge is not updated by the transaction markers at a partition's end.
 *
 * "Past the last event" is not "at the partition's end offset": transaction markers occupy
 * offsets (one per transaction per partition, and several stage-1 producers interleave their
 * transactions, so a partition can end with several), aborted records too. The last event's
 * offset is found by reading the tail of each repartition partition read_committed, once stage 1
 * is done. The offsets seen before that are kept, so the completion time is that of the first
 * poll that satisfied the condition, not of the moment the tail read finished.
 *
 * The input's last events would stay in the reorder buffers until an idle flush a whole lateness
 * (10 s of wall time) after the last data: a finite input's artefact, not processing, and the
 * same for every instance count. So once stage 1 has read the whole input the bench appends one
 * "clock" event per input partition, an hour of event time after the log's end (injectClock):
 * it moves every task's watermark past the real events, which are then released at once. The
 * clock events themselves (one account, a cosmetic profile change) stay buffered, sit after
 * every real event in their repartition partition, are never counted as input, and are released
 * in later runs (by those runs' later clock events); their alerts, if any, are not counted.
 */
async function untilProcessed({ kafka, admin, producer, group, input, inputEnds, repartition, daemons, t0, clockTs, readerGroups }) {
  const samples = [];
  let ends; // "topic:partition" → offset after its last event, once known
  let endsError;
  let lookingForEnds = false;
  const inputDone = (c) => [...inputEnds].every(([p, end]) => (c.get(`${input}:${p}`) ?? -1) >= end);
  const stage2Done = (c) => [...ends].every(([k, end]) => (c.get(k) ?? 0) >= end);
  const deadline = t0 + RUN_TIMEOUT_MS;
  for (;;) {
    const gone = daemons.find((d) => d.proc.exitCode !== null || d.proc.signalCode !== null);
    if (gone) throw new Error(`an instance exited early (${gone.proc.exitCode ?? gone.proc.signalCode})`);
    let committed;
    try {
      committed = await committedOffsets(admin, group);
    } catch {
      committed = undefined; // the coordinator may still be loading the new group: poll again
    }
    if (committed !== undefined) {
      samples.push({ ms: performance.now() - t0, committed });
      if (!lookingForEnds && inputDone(committed)) {
        lookingForEnds = true;
        // Not awaited: the polls go on meanwhile.
        injectClock(producer, input, clockTs)
          .then(() => lastEventEnds(kafka, admin, repartition, readerGroups))
          .then((e) => (ends = e), (err) => (endsError = err));
      }
    }
    if (endsError) throw endsError;
    if (ends !== undefined) {
      const hit = samples.find((s) => inputDone(s.committed) && stage2Done(s.committed));
      if (hit) {
        // Also when the first input records were committed (startup: process start, topology,
        // group join, task claims) and when stage 1 had committed the whole input.
        const first = samples.find((s) => [...inputEnds.keys()].some((p) => (s.committed.get(`${input}:${p}`) ?? 0) > 0));
        return { ms: hit.ms, startupMs: first?.ms, stage1Ms: samples.find((s) => inputDone(s.committed)).ms };
      }
    }
    if (performance.now() > deadline) throw new Error(`not done after ${RUN_TIMEOUT_MS / 1000} s (stage 1 ${lookingForEnds ? 'done' : 'not done'})`);
    await sleep(POLL_MS);
  }
}

/** The group's committed offsets, "topic:partition" → offset (no topics given: all of the group's). */
export async function committedOffsets(admin, group) {
  const out = new Map();
  for (const t of await admin.fetchOffsets({ groupId: group })) for (const p of t.partitions) out.set(`${t.topic}:${p.partition}`, Number(p.offset));
  return out;
}

/** One clock event per input partition (see untilProcessed); eventIds unique per run. */
async function injectClock(producer, input, ts) {
  const messages = Array.from({ length: PARTITIONS }, (_, p) => ({
    partition: p,
    key: CLOCK_ACCOUNT,
    value: JSON.stringify({ eventId: `${CLOCK_ACCOUNT}-${ts}-${p}`, type: 'account_update', ts, accountId: CLOCK_ACCOUNT, change: 'profile' }),
  }));
  await producer.send({ topic: input, acks: -1, messages });
}

/**
 * Per repartition partition, the offset just after its last event (a record with a value that
 * is not a clock event; progress markers have none). Read once stage 1 has committed the whole
 * input: every event is then in a committed transaction, and whatever comes later (progress
 * markers and clock events) is not an event of the input.
 */
export async function lastEventEnds(kafka, admin, topics, readerGroups) {
  const ends = new Map();
  for (const topic of topics) {
    const last = new Map();
    const onMessage = (p, m) => {
      if (m.value !== null && !m.value.includes(CLOCK_ACCOUNT)) last.set(p, Math.max(last.get(p) ?? 0, Number(m.offset) + 1));
    };
    const tail = await readRanges(kafka, admin, topic, (o) => Math.max(o.low, o.high - TAIL_RECORDS), onMessage, readerGroups);
    // A tail without events (only markers): read the rest of those partitions.
    const again = tail.filter((r) => !last.has(r.partition) && r.from > r.low).map((r) => r.partition);
    if (again.length > 0) await readRanges(kafka, admin, topic, (o) => (again.includes(o.partition) ? o.low : o.high), onMessage, readerGroups);
    // No event readable at all: the records were purged (consumed) or there never were any.
    for (const r of tail) ends.set(`${topic}:${r.partition}`, last.get(r.partition) ?? r.low);
  }
  return ends;
}

/**
 * Reads `topic` read_committed, each partition from `fromOf({partition, low, high})` up to its
 * current end (the last stable offset), handing every record to onMessage(partition, message).
 * Done when each partition's fetch position reached its end: kafkajs reports the last offset of
 * each fetched batch, transaction markers and aborted records included, which eachBatch never sees.
 */
export async function readRanges(kafka, admin, topic, fromOf, onMessage, readerGroups) {
  const ranges = (await admin.fetchTopicOffsets(topic)).map((o) => {
    const r = { partition: o.partition, low: Number(o.low), high: Number(o.high) };
    return { ...r, from: fromOf(r) };
  });
  const pending = new Map(ranges.filter((r) => r.from < r.high).map((r) => [r.partition, r]));
  if (pending.size === 0) return ranges;
  const groupId = name('bench-scale-reader');
  readerGroups.push(groupId);
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, readUncommitted: false });
  const reached = new Set();
  let allReached;
  const finished = new Promise((r) => (allReached = r));
  consumer.on(consumer.events.GROUP_JOIN, () => {
    for (const r of pending.values()) if (r.from > r.low) consumer.seek({ topic, partition: r.partition, offset: String(r.from) });
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const r = pending.get(payload.partition);
    if (r !== undefined && Number(payload.lastOffset) + 1 >= r.high) reached.add(r.partition);
    if (reached.size === pending.size) allReached();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const r = pending.get(batch.partition);
        if (r === undefined) return;
        // Records below `from` arrive if a fetch started before the seek took effect.
        for (const m of batch.messages) if (Number(m.offset) >= r.from && Number(m.offset) < r.high) onMessage(batch.partition, m);
      },
    });
    let timer;
    const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`reading ${topic} back: not at its end after 120 s`)), 120_000)));
    await Promise.race([finished, timeout]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return ranges;
}

/** SIGTERM and wait for exit; an instance already gone (exit code or signal) is left alone. */
function stopAll(daemons) {
  return Promise.all(daemons.filter((d) => d.proc.exitCode === null && d.proc.signalCode === null).map((d) => d.stop()));
}

export function peakRssMb(pid) {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Math.round(Number(kb) / 1024);
  } catch {
    return null; // not Linux, or already gone
  }
}
