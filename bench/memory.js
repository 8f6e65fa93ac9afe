// Memory per tracked account: N distinct accounts, each with a successful login and a playback
// start from its own address, spread over 24 h of event time. The heap after GC is compared
// with the heap before, geolocation database and rules already loaded. Run with --expose-gc.
import { parseRules } from '../dist/config/rules.js';
import { Pipeline } from '../dist/engine/pipeline.js';
import { decodeEvent } from '../dist/events/decode.js';
import { GeoipLiteLocator } from '../dist/geo/locator.js';

const accounts = Number(process.argv[2] ?? 1_000_000);
// The state budget (rules stateBudget, 400,000 accounts by default) would evict accounts past it
// and make the figure per account meaningless: it is raised above the count measured.
const rules = parseRules(process.env.BENCH_RULES ?? `stateBudget:\n  accounts: ${Math.max(400_000, accounts + 1000)}\n`, 'bench');
const locator = new GeoipLiteLocator();
locator.lookup('8.8.8.8');
const pipeline = new Pipeline({ rules, locator, onAlert: () => {} });
globalThis.gc();
const before = process.memoryUsage();
let peakRss = before.rss;

const t0 = Date.parse('2026-03-02T00:00:00Z');
const step = Math.floor((24 * 3_600_000) / accounts) || 1;
for (let i = 0; i < accounts; i++) {
  // Addresses walk the routable space so geolocation sees many networks, as a real population does.
  const ip = `${11 + (i % 200)}.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`;
  const ts = t0 + i * step;
  pipeline.offer(decodeEvent(`{"eventId":"l${i}","type":"login","ts":${ts},"accountId":"acct-${i}","ip":"${ip}","success":true,"deviceId":"d${i}"}`), 0, undefined);
  pipeline.offer(decodeEvent(`{"eventId":"p${i}","type":"playback","ts":${ts + 1000},"accountId":"acct-${i}","ip":"${ip}","deviceId":"d${i}","sessionId":"s${i}","action":"start"}`), 0, undefined);
  if ((i & 0xffff) === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
}
pipeline.flush();
globalThis.gc();
const after = process.memoryUsage();
const keys = pipeline.core.keyCounts();
process.stdout.write(
  JSON.stringify({
    accounts,
    trackedAccounts: keys.account,
    trackedIps: keys.ip,
    baseRssMb: before.rss / 1e6,
    peakRssMb: Math.max(peakRss, after.rss) / 1e6,
    heapMb: after.heapUsed / 1e6,
    bytesPerAccount: (after.heapUsed - before.heapUsed) / accounts,
  }) + '\n',
);
// Keep the pipeline (and its state) reachable until after the measurement.
if (pipeline.buffered < 0) console.log(pipeline);
