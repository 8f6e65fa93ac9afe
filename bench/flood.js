// A flood of new keys: every login comes from a new account and a new random IPv4 or IPv6
// address, as a botnet's logins or an id bug upstream would look. Replays N such events with
// the default rules (so the default stateBudget) on the default heap, and reports the peak RSS
// and the time per event at each size: at the budget the cost per event must stay flat.
//
//   node bench/flood.js [sizes, default 1000000,5000000]
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';

const dataDir = '.cache/bench';

/** mulberry32: the same log on every machine. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function floodLog(n) {
  const path = `${dataDir}/flood-${n}.jsonl`;
  if (existsSync(path)) return path;
  mkdirSync(dataDir, { recursive: true });
  const next = prng(20261202);
  const byte = () => Math.floor(next() * 256);
  const hex = () => Math.floor(next() * 65536).toString(16);
  const t0 = Date.parse('2026-03-02T00:00:00Z');
  // Ten events a second of event time: 5M events span about six days, well within every
  // detector's retention, so nothing expires and only the budget can bound the state.
  const out = createWriteStream(`${path}.tmp`);
  for (let i = 0; i < n; i++) {
    const ip = next() < 0.8 ? `${1 + Math.floor(next() * 222)}.${byte()}.${byte()}.${byte()}` : `2a0${Math.floor(next() * 10)}:${hex()}:${hex()}:${hex()}::${hex()}`;
    const ok = next() < 0.9;
    const line = `{"eventId":"f${i}","type":"login","ts":${t0 + i * 100},"accountId":"bot-${i.toString(36)}-${Math.floor(next() * 1e9).toString(36)}","ip":"${ip}","success":${ok},"deviceId":"dev-${i.toString(36)}"}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  renameSync(`${path}.tmp`, path);
  return path;
}

/** One replay in a child on the default heap: elapsed replay time (from its summary) and peak RSS. */
function replay(path) {
  const rssFile = `${dataDir}/flood-maxrss.json`;
  rmSync(rssFile, { force: true });
  const child = spawnSync(process.execPath, ['--import', './bench/maxrss.mjs', 'bin/fraudwatch.js', 'replay', path, '--out', '/dev/null', '--no-progress'], {
    encoding: 'utf8',
    env: { ...process.env, BENCH_MAXRSS_OUT: rssFile },
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 1 << 26,
  });
  if (child.status !== 0) throw Object.assign(new Error(`replay exited ${child.status ?? child.signal}`), { stderr: child.stderr });
  return child.stderr;
}

export async function floodBench(sizes = [1_000_000, 5_000_000]) {
  const rows = [];
  for (const n of sizes) {
    const path = await floodLog(n);
    const rssFile = `${dataDir}/flood-maxrss.json`;
    let stderr;
    try {
      stderr = replay(path);
    } catch (err) {
      rows.push({ events: n, failed: String(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' | ') });
      continue;
    }
    const seconds = Number(/throughput\s+[\d,]+ events\/s \(([\d.]+) s\)/.exec(stderr)?.[1]);
    const evicted = /evicted keys\s+([\d,]+)(?:\s+\(([^)]*)\))?/.exec(stderr);
    const { maxRssKb } = JSON.parse(readFileSync(rssFile, 'utf8'));
    rows.push({ events: n, seconds, usPerEvent: (seconds * 1e6) / n, peakRssMb: maxRssKb / 1024, evicted: evicted?.[1] ?? '0', evictedByKind: evicted?.[2] ?? '' });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = (process.argv[2] ?? '1000000,5000000').split(',').map(Number);
  const rows = await floodBench(sizes);
  for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
}
