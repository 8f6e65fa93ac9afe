// One geolocation provider in its own process: the memory it takes to load (RSS after GC, before
// and after), the time to load, and the per-lookup cost, uncached (the provider itself) and
// through the cached locator over a log's address stream (what replay sees). Run with
// --expose-gc. Prints {provider, loadMs, rssDeltaMb, heapDeltaMb, uncachedNs, cachedNs, …}.
//
//   node --expose-gc bench/geolookup.js floor|geoip-lite|mmdb ADDRESSES.txt STREAM.txt [DB.mmdb]
//
// `floor` does what every lookup does at least, whatever the database: a Map hit on the same
// address strings (the cache hit of CachedLocator), so the ratios say what the database adds.
import { readFileSync } from 'node:fs';
import { CachedLocator, GeoipLiteProvider } from '../dist/geo/locator.js';
import { openMmdb } from '../dist/geo/mmdb.js';

const [which, addressFile, streamFile, dbPath] = process.argv.slice(2);
const addresses = readFileSync(addressFile, 'utf8').trim().split('\n');
const stream = readFileSync(streamFile, 'utf8').trim().split('\n');

function settle() {
  for (let i = 0; i < 3; i++) globalThis.gc();
  return process.memoryUsage();
}

/** Best of 5 passes over `list`, in ns per call: the least disturbed by a shared machine. */
function perCall(list, fn) {
  let best = Infinity;
  let sink = 0;
  for (let pass = 0; pass < 5; pass++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < list.length; i++) if (fn(list[i]) !== null) sink++;
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / list.length);
  }
  if (sink < 0) console.log(sink);
  return best;
}

const before = settle();
const t0 = performance.now();
let provider;
if (which === 'geoip-lite') provider = new GeoipLiteProvider();
else if (which === 'mmdb') provider = await openMmdb(dbPath);
const loadMs = performance.now() - t0;
const after = settle();

let result;
if (which === 'floor') {
  const table = new Map(addresses.map((a) => [a, a]));
  const hit = (ip) => table.get(ip) ?? null;
  result = { uncachedNs: perCall(addresses, hit), cachedNs: perCall(stream, hit) };
} else {
  const placed = addresses.filter((ip) => provider.locate(ip) !== null).length;
  const uncachedNs = perCall(addresses, (ip) => provider.locate(ip));
  // A fresh locator per pass would measure misses only; one warm locator is replay's steady state.
  const locator = new CachedLocator(provider);
  const cachedNs = perCall(stream, (ip) => locator.lookup(ip));
  result = { uncachedNs, cachedNs, placed, info: provider.info };
}
process.stdout.write(
  JSON.stringify({
    provider: which,
    addresses: addresses.length,
    stream: stream.length,
    loadMs,
    rssDeltaMb: (after.rss - before.rss) / 1e6,
    // external includes the ArrayBuffers (geoip-lite's and the mmdb's file buffers).
    heapDeltaMb: (after.heapUsed + after.external - before.heapUsed - before.external) / 1e6,
    ...result,
  }) + '\n',
);
