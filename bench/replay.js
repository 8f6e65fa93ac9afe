// One replay of a log, in-process, with the rules given (all detectors, or one). Alerts are
// counted, not written, so the figure is the engine's cost. Prints {events, ms, alerts, rssMb, heapMb}.
import { bindGeo, parseRules } from '../dist/config/rules.js';
import { openLocator } from '../dist/geo/setting.js';
import { replayLog } from '../dist/io/replay.js';

// A third argument `inline` decodes on the pipeline's thread (the row that shows what the decode thread buys).
const [path, rulesYaml = '', mode = 'thread'] = process.argv.slice(2);
const parsed = parseRules(rulesYaml, 'bench');
// Loaded before the clock starts: the database load is a start-up cost, not a per-event one.
// The rules' geo setting chooses it (geoip-lite by default), as in `fraudwatch replay`.
const locator = await openLocator(parsed.effective.geo);
const rules = bindGeo(parsed, locator.info);
locator.lookup('8.8.8.8');
let alerts = 0;
let peakRss = 0;
const t0 = performance.now();
const r = await replayLog({
  path,
  rules,
  locator,
  decodeThread: mode !== 'inline',
  onAlert: () => {
    alerts++;
  },
  onProgress: () => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  },
});
const ms = performance.now() - t0;
peakRss = Math.max(peakRss, process.memoryUsage.rss());
process.stdout.write(JSON.stringify({ events: r.stats.read, ms, alerts, peakRssMb: peakRss / 1e6, heapMb: process.memoryUsage().heapUsed / 1e6 }) + '\n');
