// fraudwatch beside a Kafka Streams peer (bench/peer/kstreams: the brute_force rule in Java) on
// the same broker, topic and data, in both processing modes.
//
// Input: `generate --seed 42 --accounts 960 --days 30` (about 507k lines, invalid and repeated
// lines included), produced once to a 6-partition topic keyed by accountId. Every run starts
// from a fresh group (application id) with topics of its own, which are deleted afterwards.
//
// Stopwatch: from the first 100 ms poll that finds the run's consumer group Stable (so JVM and
// Node start-up, topic creation and the group join are not timed) to the first poll where the
// group's committed offsets reach the input's end offsets, and, for fraudwatch exactly-once, are
// also past the last event of every repartition partition (stage 2 commits only up to its
// earliest buffered event, so that is "every event scored and its alerts committed").
// CPU is utime + stime of the process over the stopwatch (/proc/<pid>/stat), broker CPU the
// same for the broker's JVM, peak RSS the process's VmHWM. Runs of the six kinds are interleaved
// (the order rotates every round) and medians reported.
//
// fraudwatch runs eager (lateness 0s) with a 200 ms idle timeout, as bench/kafka.js does: the
// peer has no reorder buffer, and the default 30 s lateness would hold the last events for 30 s
// of wall time. Alerts are read back read_committed and counted.
//
// BENCH_PEER_ROUNDS (3), BENCH_PEER_LONG_EVENTS (5000000; 0 skips the long rows: a bigger log of
// the same generator, brute_force only, BENCH_PEER_LONG_KINDS (default peer_alo, fw_bf_alo,
// peer_eos, fw_bf_eos_keyed)).
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { DETECTOR_IDS } from '../dist/detectors/registry.js';
import { generateToDir } from '../dist/generate/generator.js';
import { internalTopicNames } from '../dist/streams/topics.js';
import { brokers, createTopics, name, sleep, spawnDaemon } from './kafka.js';
import { committedOffsets, lastEventEnds, peakRssMb, readRanges } from './scaling.js';

const PEER_DIR = 'bench/peer/kstreams';
const PEER_JAR = `${PEER_DIR}/target/kstreams-brute-force.jar`;
const PARTITIONS = 6;
const ROUNDS = Number(process.env.BENCH_PEER_ROUNDS ?? 3);
const LONG_EVENTS = Number(process.env.BENCH_PEER_LONG_EVENTS ?? 5_000_000);
const POLL_MS = 100;
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The runs of one round; `kind` decides how each is started. */
const KINDS = [
  { id: 'peer_alo', label: 'Kafka Streams at_least_once (brute_force)', peer: 'at_least_once' },
  { id: 'peer_eos', label: 'Kafka Streams exactly_once_v2 (brute_force)', peer: 'exactly_once_v2' },
  { id: 'fw_bf_alo', label: 'fraudwatch at-least-once, brute_force only', processing: 'at_least_once', rules: 'bf' },
  { id: 'fw_bf_eos', label: 'fraudwatch exactly-once, brute_force only', processing: 'exactly_once', rules: 'bf' },
  { id: 'fw_all_alo', label: 'fraudwatch at-least-once, all detectors', processing: 'at_least_once', rules: 'all' },
  { id: 'fw_all_eos', label: 'fraudwatch exactly-once, all detectors', processing: 'exactly_once', rules: 'all' },
  // Co-partitioned input (FRAUDWATCH_INPUT_KEYED=account): the topic is keyed by accountId with
  // the Java partitioner, so the account tasks read it directly, as the peer's tasks do.
  { id: 'fw_bf_eos_keyed', label: 'fraudwatch exactly-once co-partitioned, brute_force only', processing: 'exactly_once', keyed: true, rules: 'bf' },
  { id: 'fw_all_eos_keyed', label: 'fraudwatch exactly-once co-partitioned, all detectors', processing: 'exactly_once', keyed: true, rules: 'all' },
];
/** The long (5M-event) series: steady state of both modes, against the peer's. */
const LONG_KINDS = (process.env.BENCH_PEER_LONG_KINDS ?? 'peer_alo,fw_bf_alo,peer_eos,fw_bf_eos_keyed').split(',');

/** Java 17 and Maven present, and the peer built (once: again only when its sources are newer). */
function buildPeer() {
  for (const [cmd, arg] of [['java', '-version'], ['mvn', '-v']]) {
    try {
      execFileSync(cmd, [arg], { stdio: 'ignore' });
    } catch {
      return `${cmd} not found: the Kafka Streams peer needs Java 17 and Maven`;
    }
  }
  const newest = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((t, e) => Math.max(t, e.isDirectory() ? newest(`${dir}/${e.name}`) : statSync(`${dir}/${e.name}`).mtimeMs), 0);
  if (!existsSync(PEER_JAR) || statSync(PEER_JAR).mtimeMs < Math.max(newest(`${PEER_DIR}/src`), statSync(`${PEER_DIR}/pom.xml`).mtimeMs)) {
    process.stderr.write(`building the Kafka Streams peer (mvn -q -B package in ${PEER_DIR})\n`);
    try {
      execFileSync('mvn', ['-q', '-B', 'package', '-DskipTests'], { cwd: PEER_DIR, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch (err) {
      return `building the peer failed: ${String(err.message).split('\n')[0]}`;
    }
  }
  return undefined;
}

/** utime + stime of a process in seconds, or NaN once it is gone. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), counted from field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** The broker JVM's pid: scripts/kafka-local.sh knows it for a broker it started on this port. */
function brokerPid(bootstrap) {
  if (process.env.FRAUDWATCH_BENCH_BROKER_PID) return Number(process.env.FRAUDWATCH_BENCH_BROKER_PID);
  const port = /:(\d+)$/.exec(bootstrap.split(',')[0])?.[1];
  try {
    const out = execFileSync('bash', ['scripts/kafka-local.sh', 'status'], { env: { ...process.env, KAFKA_PORT: port }, encoding: 'utf8' });
    return Number(/pid (\d+)/.exec(out)?.[1]) || undefined;
  } catch {
    return undefined;
  }
}

async function peerLog(accounts) {
  const dir = `.cache/bench/peer-${accounts}x30`;
  if (!existsSync(`${dir}/events.jsonl`)) {
    process.stderr.write(`generating ${accounts} accounts × 30 days (seed 42) into ${dir}\n`);
    await generateToDir({ seed: 42, accounts, days: 30 }, dir);
  }
  return `${dir}/events.jsonl`;
}

function rulesFiles() {
  const dir = '.cache/bench/peer';
  mkdirSync(dir, { recursive: true });
  const bf = `${dir}/brute-force-only.yaml`;
  writeFileSync(bf, `detectors:\n${DETECTOR_IDS.map((d) => `  ${d}:\n    enabled: ${d === 'brute_force'}`).join('\n')}\n`);
  return { bf, all: 'rules/default.yaml' };
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function peerBench() {
  const skipped = buildPeer();
  if (skipped) return { skipped };
  let bootstrap;
  try {
    bootstrap = brokers();
  } catch (err) {
    return { skipped: `no broker: ${err.message.split('\n')[0]}` };
  }
  const kafka = new Kafka({ clientId: 'fw-bench-peer', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ctx = { kafka, admin, bootstrap, broker: brokerPid(bootstrap), rules: rulesFiles() };
  try {
    // BENCH_PEER_KINDS=fw_bf_eos,peer_eos: only those runs (a quick look while tuning one of them).
    const only = process.env.BENCH_PEER_KINDS?.split(',');
    const main = await series(ctx, await peerLog(960), only ? KINDS.filter((k) => only.includes(k.id)) : KINDS, ROUNDS);
    let long;
    if (LONG_EVENTS > 0) {
      // ~528 lines per account over 30 days in this generator (507,276 for 960 accounts).
      const accounts = Math.round((LONG_EVENTS / 507_276) * 960);
      long = await series(ctx, await peerLog(accounts), KINDS.filter((k) => LONG_KINDS.includes(k.id)), ROUNDS);
    }
    return { broker: bootstrap, brokerPid: ctx.broker, rounds: ROUNDS, partitions: PARTITIONS, main, long };
  } finally {
    await admin.disconnect();
  }
}

/** Produces `log` to a fresh topic, then runs every kind `rounds` times, interleaved. */
async function series(ctx, log, kinds, rounds) {
  const { kafka, admin } = ctx;
  const input = name('bench-peer-in');
  await createTopics(admin, [{ topic: input, numPartitions: PARTITIONS }]);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const runs = Object.fromEntries(kinds.map((k) => [k.id, []]));
  try {
    // Keyed by accountId (Kafka's murmur2 partitioner, as Java producers use): what the README
    // tells producers to do, and what the peer relies on. Unparseable lines go unkeyed.
    // Streamed: the 5M-event log is larger than the longest string Node can hold.
    let messages = [];
    for await (const value of createInterface({ input: createReadStream(log), crlfDelay: Infinity })) {
      if (value.length === 0) continue;
      messages.push({ key: /"accountId":"([^"]*)"/.exec(value)?.[1] ?? null, value });
      if (messages.length === 4000) {
        await producer.send({ topic: input, acks: -1, messages });
        messages = [];
      }
    }
    if (messages.length > 0) await producer.send({ topic: input, acks: -1, messages });
    const inputEnds = new Map((await admin.fetchTopicOffsets(input)).map((o) => [o.partition, Number(o.high)]));
    const events = [...inputEnds.values()].reduce((a, b) => a + b, 0);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < kinds.length; i++) {
        const kind = kinds[(i + round) % kinds.length];
        try {
          const r = await oneRun(ctx, kind, input, inputEnds);
          runs[kind.id].push(r);
          process.stderr.write(`peer bench round ${round + 1}: ${kind.id} ${(r.ms / 1000).toFixed(2)} s, cpu ${r.cpuS.toFixed(2)} s, broker ${r.brokerCpuS.toFixed(2)} s, ${r.alerts} alerts\n`);
        } catch (err) {
          process.stderr.write(`peer bench: ${kind.id} failed: ${err.stack ?? err}\n`);
          runs[kind.id].push({ error: String(err.message ?? err).split('\n')[0] });
        }
      }
    }
    const rows = {};
    for (const k of kinds) {
      const ok = runs[k.id].filter((r) => r.error === undefined);
      const ms = median(ok.map((r) => r.ms));
      rows[k.id] = {
        label: k.label,
        runs: runs[k.id],
        ms,
        eventsPerSec: events / (ms / 1000),
        cpuSecondsPerMillion: median(ok.map((r) => r.cpuS)) / (events / 1e6),
        brokerCpuSeconds: median(ok.map((r) => r.brokerCpuS)),
        peakRssMb: median(ok.map((r) => r.peakRssMb)),
        alerts: ok.map((r) => r.alerts),
      };
    }
    return { log, events, rows };
  } finally {
    await producer.disconnect();
    await admin.deleteTopics({ topics: [input] }).catch(() => undefined);
  }
}

/** Starts one run from a fresh group, times it, stops it, reads its alerts back, cleans up. */
async function oneRun(ctx, kind, input, inputEnds) {
  const { kafka, admin, bootstrap } = ctx;
  const group = name(`bench-${kind.id.replace(/_/g, '-')}`);
  const alertsTopic = `${group}-alerts`;
  const readerGroups = [];
  let topics = [alertsTopic];
  await createTopics(admin, [{ topic: alertsTopic, numPartitions: PARTITIONS }]);
  let proc;
  let stop;
  let output = () => '';
  const stateDir = `.cache/bench/peer-state/${group}`;
  if (kind.peer) {
    const args = ['-jar', PEER_JAR, '--bootstrap', bootstrap, '--input-topic', input, '--alerts-topic', alertsTopic, '--application-id', group, '--processing', kind.peer, '--commit-interval-ms', '100', '--state-dir', stateDir];
    proc = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    proc.stdout.on('data', (c) => (log = (log + c).slice(-20_000)));
    proc.stderr.on('data', (c) => (log = (log + c).slice(-20_000)));
    output = () => log;
    stop = () => new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : (proc.once('exit', r), proc.kill('SIGTERM'))));
  } else {
    const dlq = `${group}-dlq`;
    topics.push(dlq, `${alertsTopic}.shadow`);
    if (kind.processing === 'exactly_once') {
      const internal = internalTopicNames(group);
      topics.push(...(kind.keyed ? [] : [internal.repartition.account]), internal.repartition.ip, internal.changelog);
    }
    const d = spawnDaemon({
      FRAUDWATCH_BROKERS: bootstrap,
      FRAUDWATCH_PROCESSING: kind.processing,
      ...(kind.keyed ? { FRAUDWATCH_INPUT_KEYED: 'account' } : {}),
      FRAUDWATCH_GROUP_ID: group,
      FRAUDWATCH_INPUT_TOPIC: input,
      FRAUDWATCH_ALERTS_TOPIC: alertsTopic,
      FRAUDWATCH_DLQ_TOPIC: dlq,
      FRAUDWATCH_RULES: ctx.rules[kind.rules],
      FRAUDWATCH_LATENESS: '0s',
      FRAUDWATCH_IDLE_TIMEOUT: '200ms',
      FRAUDWATCH_LOG_LEVEL: 'warn',
      // BENCH_PEER_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof": profile the fraudwatch runs.
    }, process.env.BENCH_PEER_NODE_ARGS?.split(' ').filter(Boolean) ?? []);
    proc = d.proc;
    stop = d.stop;
    output = d.log;
  }
  try {
    const timed = await stopwatch(ctx, kind, group, proc, input, inputEnds, readerGroups);
    const peak = peakRssMb(proc.pid);
    await stop();
    const ids = new Set();
    let records = 0;
    await readRanges(kafka, admin, alertsTopic, (o) => o.low, (_p, m) => {
      if (m.value === null) return;
      records++;
      const a = JSON.parse(m.value.toString());
      ids.add(a.alertId ?? `${a.accountId}|${a.ts}|${a.severity}`);
    }, readerGroups);
    return { ...timed, peakRssMb: peak, alerts: ids.size, alertRecords: records };
  } catch (err) {
    process.stderr.write(`${kind.id} log (tail):\n${output().slice(-3000)}\n`);
    throw err;
  } finally {
    await stop();
    if (kind.peer) {
      topics = [...topics, ...(await admin.listTopics()).filter((t) => t.startsWith(`${group}-`))];
      rmSync(stateDir, { recursive: true, force: true });
    }
    await admin.deleteTopics({ topics: [...new Set(topics)] }).catch(() => undefined);
    await admin.deleteGroups([group, ...readerGroups]).catch(() => undefined);
  }
}

/** Group Stable → every input partition (and for fraudwatch exactly-once every repartition partition) committed. */
async function stopwatch(ctx, kind, group, proc, input, inputEnds, readerGroups) {
  const { kafka, admin } = ctx;
  const deadline = performance.now() + 900_000;
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  let t0;
  for (;;) {
    if (gone()) throw new Error(`exited before its group was Stable (${proc.exitCode ?? proc.signalCode})`);
    if (performance.now() > deadline) throw new Error('group never Stable');
    const d = await admin.describeGroups([group]).catch(() => undefined);
    if (d?.groups[0]?.state === 'Stable') break;
    await sleep(POLL_MS);
  }
  t0 = performance.now();
  const cpu0 = cpuSeconds(proc.pid);
  const broker0 = ctx.broker ? cpuSeconds(ctx.broker) : Number.NaN;
  const eos = kind.processing === 'exactly_once';
  const internal = internalTopicNames(group);
  // Co-partitioned: no account repartition topic; the input's committed offsets are the account
  // tasks' own, which wait for their reorder buffers, so "input committed" already means scored.
  const repartition = kind.keyed ? [internal.repartition.ip] : [internal.repartition.account, internal.repartition.ip];
  const inputDone = (c) => [...inputEnds].every(([p, end]) => (c.get(`${input}:${p}`) ?? -1) >= end);
  let ends;
  let endsError;
  let looking = false;
  for (;;) {
    if (gone()) throw new Error(`exited early (${proc.exitCode ?? proc.signalCode})`);
    if (performance.now() > deadline) throw new Error('not done after 900 s');
    const c = await committedOffsets(admin, group).catch(() => undefined);
    if (c !== undefined && inputDone(c)) {
      if (!eos) return finish();
      if (!looking) {
        looking = true;
        // Once stage 1 has committed the whole input, the repartition topics hold every event.
        lastEventEnds(kafka, admin, repartition, readerGroups).then((e) => (ends = e), (err) => (endsError = err));
      }
      if (endsError) throw endsError;
      if (ends !== undefined && [...ends].every(([k, end]) => (c.get(k) ?? 0) >= end)) return finish();
    }
    await sleep(POLL_MS / 2);
  }
  function finish() {
    return { ms: performance.now() - t0, cpuS: cpuSeconds(proc.pid) - cpu0, brokerCpuS: ctx.broker ? cpuSeconds(ctx.broker) - broker0 : Number.NaN };
  }
}

/** Table rows: the ratios first, then one row per kind. */
export function peerRows(p, fmt) {
  const rows = [];
  const m = p.main.rows;
  const ratio = (a, b) => (a === undefined || b === undefined ? Number.NaN : a / b);
  const none = { ms: undefined, brokerCpuSeconds: undefined, eventsPerSec: undefined };
  for (const k of KINDS) m[k.id] ??= { ...none, skipped: true };
  rows.push(['peer: fw EOS brute_force / KS exactly_once_v2, time', `${fmt(ratio(m.fw_bf_eos.ms, m.peer_eos.ms), 2)}x`, '', '', 'target ≤ 1.0x']);
  rows.push(['peer: fw EOS all detectors / KS exactly_once_v2, time', `${fmt(ratio(m.fw_all_eos.ms, m.peer_eos.ms), 2)}x`, '', '', 'target ≤ 1.5x']);
  rows.push(['peer: fw EOS brute_force / KS exactly_once_v2, broker CPU', `${fmt(ratio(m.fw_bf_eos.brokerCpuSeconds, m.peer_eos.brokerCpuSeconds), 2)}x`, '', '', 'target ≤ 1.5x']);
  if (!m.fw_bf_eos_keyed.skipped) {
    rows.push(['peer: fw EOS co-partitioned brute_force / KS exactly_once_v2, time', `${fmt(ratio(m.fw_bf_eos_keyed.ms, m.peer_eos.ms), 2)}x`, '', '', 'target ≤ 1.0x']);
    rows.push(['peer: fw EOS co-partitioned all detectors / KS exactly_once_v2, time', `${fmt(ratio(m.fw_all_eos_keyed.ms, m.peer_eos.ms), 2)}x`, '', '', 'target ≤ 1.5x']);
    rows.push(['peer: fw EOS co-partitioned brute_force / KS exactly_once_v2, broker CPU', `${fmt(ratio(m.fw_bf_eos_keyed.brokerCpuSeconds, m.peer_eos.brokerCpuSeconds), 2)}x`, '', '', 'target ≤ 1.5x']);
  }
  rows.push(['peer: fw ALO brute_force / KS at_least_once, time', `${fmt(ratio(m.fw_bf_alo.ms, m.peer_alo.ms), 2)}x`, '', '', '']);
  if (p.long) {
    const l = p.long.rows;
    rows.push([`peer: ${fmt(p.long.events)} events, fw ALO brute_force / KS at_least_once, events/s`, `${fmt(ratio(l.fw_bf_alo?.eventsPerSec, l.peer_alo?.eventsPerSec), 2)}x`, '', '', 'target ≥ 1.0x']);
    if (l.fw_bf_eos_keyed && l.peer_eos) rows.push([`peer: ${fmt(p.long.events)} events, fw EOS co-partitioned brute_force / KS exactly_once_v2, events/s`, `${fmt(ratio(l.fw_bf_eos_keyed.eventsPerSec, l.peer_eos.eventsPerSec), 2)}x`, '', '', '']);
  }
  const row = (prefix, r) => [
    `${prefix}${r.label}`,
    `${fmt(r.eventsPerSec)} ev/s`,
    `${fmt(r.ms / 1000, 2)} s, ${fmt(r.cpuSecondsPerMillion, 1)} CPU-s/M events`,
    `broker ${fmt(r.brokerCpuSeconds, 2)} CPU-s, peak RSS ${fmt(r.peakRssMb)} MB`,
    `alerts ${[...new Set(r.alerts)].join('/')}`,
  ];
  for (const r of Object.values(m)) if (!r.skipped) rows.push(row(`peer ${fmt(p.main.events)}: `, r));
  if (p.long) for (const r of Object.values(p.long.rows)) rows.push(row(`peer ${fmt(p.long.events)}: `, r));
  return rows;
}
