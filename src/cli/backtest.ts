import { statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { analyse } from '../backtest/analyse.js';
import { formatBacktest } from '../backtest/format.js';
import { compareGeo, recordingLocator } from '../backtest/geo.js';
import { loadLabelsFile, type Labels } from '../backtest/labels.js';
import { loginRiskReport, scoreLogins, type LoginRiskReport } from '../backtest/loginRisk.js';
import { renderReport } from '../backtest/report.js';
import { runBacktest } from '../backtest/run.js';
import { bindGeo, type Rules } from '../config/rules.js';
import { FraudwatchError } from '../errors.js';
import type { CachedLocator, GeoLocator } from '../geo/locator.js';
import { openLocator } from '../geo/setting.js';
import { openLog } from '../io/lines.js';
import { checkLogPath } from './logPath.js';
import { rulesFromFlag } from './rulesFlag.js';

export interface BacktestFlags {
  rules?: string;
  compare?: string;
  labels?: string;
  report?: string;
  slack: number;
  examples: number;
  lateness?: number;
}

/**
 * `fraudwatch backtest`: runs one or two rule sets over a log, tabulates their alerts and, with
 * labels, scores them. The table goes to stdout (deterministic: no clock); the timing line to
 * stderr, so two runs' stdout can be diffed.
 */
export async function backtestCommand(events: string, flags: BacktestFlags): Promise<void> {
  // Every input is checked before the long runs: a typo in B must not cost a full run of A first.
  if (events === '-') throw new FraudwatchError('FW_CLI_BAD_FLAG', 'backtest reads the log once per rule set: give a file, not - (standard input)');
  const parsed: Rules[] = [rulesFromFlag(flags.rules)];
  if (flags.compare !== undefined) parsed.push(rulesFromFlag(flags.compare));
  const labels: Labels | undefined = flags.labels !== undefined ? loadLabelsFile(flags.labels) : undefined;
  // Fails with FW_INPUT_READ now rather than after the geolocation database has loaded.
  checkLogPath(events);
  openLog(events).stream.destroy();
  if (flags.report !== undefined && !isDirectory(dirname(flags.report))) {
    throw new FraudwatchError('FW_CLI_BAD_FLAG', `--report ${flags.report}: no such directory ${dirname(flags.report)}`, { path: flags.report });
  }

  const started = performance.now();
  // One database per distinct geo setting, opened before the long runs: two rule sets on the
  // same data share it (geoip-lite alone is 150 MB). Each is opened once and never reloaded.
  const opened = new Map<string, CachedLocator>();
  const locators: CachedLocator[] = [];
  for (const r of parsed) {
    const key = JSON.stringify(r.effective.geo ?? { provider: 'geoip-lite' });
    const locator = opened.get(key) ?? (await openLocator(r.effective.geo));
    opened.set(key, locator);
    locators.push(locator);
  }
  const rules = parsed.map((r, i) => bindGeo(r, locators[i]!.info));
  // Rule sets on different data (a provider comparison): A's run collects the log's addresses,
  // which both databases then place, to show how far the data itself moved.
  const compareData = locators.length === 2 && locators[0] !== locators[1];
  const addresses = new Set<string>();
  const runWith: GeoLocator[] = compareData ? [recordingLocator(locators[0]!, addresses), locators[1]!] : locators;
  const sides = await runBacktest({ path: events, rules, locator: runWith, latenessMs: flags.lateness });
  const geo = compareData ? compareGeo(addresses, locators[0]!, locators[1]!) : undefined;
  let bt = analyse(events, sides, labels, flags.slack, geo);
  if (labels !== undefined) {
    const loginRisk: LoginRiskReport[] = [];
    for (let i = 0; i < rules.length; i++) {
      const scored = await scoreLogins({ path: events, rules: rules[i]!, locator: locators[i]!, latenessMs: flags.lateness });
      if (scored !== undefined) loginRisk.push(loginRiskReport(sides[i]!.name, rules[i]!, scored, labels, flags.slack));
    }
    if (loginRisk.length > 0) bt = { ...bt, loginRisk };
  }
  process.stdout.write(formatBacktest(bt, { examples: flags.examples }));
  if (flags.report !== undefined) {
    try {
      writeFileSync(flags.report, renderReport(bt, { examples: flags.examples }));
    } catch (err) {
      throw new FraudwatchError('FW_CLI_BAD_FLAG', `--report ${flags.report}: ${(err as Error).message}`, { path: flags.report }, { cause: err });
    }
    process.stderr.write(`report written to ${flags.report}\n`);
  }
  const runs = sides.map((s) => `${s.name} ${(s.elapsedMs / 1000).toFixed(2)} s`).join(', ');
  process.stderr.write(`backtest finished in ${((performance.now() - started) / 1000).toFixed(2)} s (${runs})\n`);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
