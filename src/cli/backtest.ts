import { statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { analyse } from '../backtest/analyse.js';
import { formatBacktest } from '../backtest/format.js';
import { loadLabelsFile, type Labels } from '../backtest/labels.js';
import { renderReport } from '../backtest/report.js';
import { runBacktest } from '../backtest/run.js';
import type { Rules } from '../config/rules.js';
import { FraudwatchError } from '../errors.js';
import { GeoipLiteLocator } from '../geo/locator.js';
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
  const rules: Rules[] = [rulesFromFlag(flags.rules)];
  if (flags.compare !== undefined) rules.push(rulesFromFlag(flags.compare));
  const labels: Labels | undefined = flags.labels !== undefined ? loadLabelsFile(flags.labels) : undefined;
  // Fails with FW_INPUT_READ now rather than after the geolocation database has loaded.
  checkLogPath(events);
  openLog(events).stream.destroy();
  if (flags.report !== undefined && !isDirectory(dirname(flags.report))) {
    throw new FraudwatchError('FW_CLI_BAD_FLAG', `--report ${flags.report}: no such directory ${dirname(flags.report)}`, { path: flags.report });
  }

  const started = performance.now();
  const sides = await runBacktest({ path: events, rules, locator: new GeoipLiteLocator(), latenessMs: flags.lateness });
  const bt = analyse(events, sides, labels, flags.slack);
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
