import { createWriteStream } from 'node:fs';
import { JsonlSink } from '../alerts/sink.js';
import { bindGeo } from '../config/rules.js';
import { describeGeo } from '../geo/locator.js';
import { openLocator } from '../geo/setting.js';
import { FraudwatchError } from '../errors.js';
import { replayLog, type InvalidLine, type ProcessingErrorLine } from '../io/replay.js';
import { checkLogPath } from './logPath.js';
import { ProgressBar } from './progress.js';
import { rulesFromFlag, rulesLabel } from './rulesFlag.js';
import { formatSummary } from './summary.js';

export interface ReplayFlags {
  rules?: string;
  out?: string;
  shadowOut?: string;
  invalidOut?: string;
  lateness?: number;
  strict: boolean;
  progress: boolean;
  quiet: boolean;
}

/** Files under this size finish before a progress bar is worth drawing. */
const PROGRESS_MIN_BYTES = 20 * 1024 * 1024;

/** How many rejected lines are quoted on stderr; the rest are counted (and kept with --invalid-out). */
const INVALID_EXAMPLES = 5;

export async function replayCommand(events: string, flags: ReplayFlags): Promise<void> {
  // Rules first: a bad rules file fails before the 150 MB geolocation database loads.
  const parsed = rulesFromFlag(flags.rules);
  checkLogPath(events);
  // The database as opened now, for the whole log (never reloaded: two replays give the same
  // bytes); the rules name exactly that data, should the file have been replaced since parsing.
  const locator = await openLocator(parsed.effective.geo);
  const rules = bindGeo(parsed, locator.info);
  const sink = flags.out ? JsonlSink.toFile(flags.out) : JsonlSink.toStdout();
  const shadowSink = flags.shadowOut ? JsonlSink.toFile(flags.shadowOut) : sink;
  const invalidOut = flags.invalidOut ? createWriteStream(flags.invalidOut) : undefined;
  let quoted = 0;
  let quotedErrors = 0;
  let bar: ProgressBar | undefined;
  /** Written past the bar, a warning would land on the bar's line and be drawn over. */
  const warn = (line: string): void => {
    if (bar !== undefined) bar.log(line);
    else process.stderr.write(line);
  };

  const onInvalid = (inv: InvalidLine): void => {
    invalidOut?.write(JSON.stringify({ line: inv.lineNumber, reason: inv.reason, message: inv.message, text: inv.text }) + '\n');
    if (!flags.quiet && quoted < INVALID_EXAMPLES) {
      quoted++;
      warn(`${events}:${inv.lineNumber}: ${inv.reason}: ${inv.message}\n`);
    }
  };

  // A bug, not the log's fault: the event is skipped and replay goes on, as the daemon does
  // (which dead-letters it), so both give the same alerts. The first few are quoted.
  const onProcessingError = (e: ProcessingErrorLine): void => {
    if (!flags.quiet && quotedErrors < INVALID_EXAMPLES) {
      quotedErrors++;
      warn(`${events}:${e.lineNumber}: processing_error: FW_INTERNAL: event ${e.eventId}: ${e.message}\n`);
    }
  };

  const onProgress = async (bytes: number, size: number | undefined): Promise<void> => {
    if (bar === undefined && flags.progress && !flags.quiet && process.stderr.isTTY && size !== undefined && size >= PROGRESS_MIN_BYTES) {
      // Both rounded alike, so the whole file read shows 100%, not 21/22 MB.
      bar = new ProgressBar(process.stderr, 'replay [{bar}] {percentage}% | {value}/{total} MB | eta {eta}s', Math.round(size / 1e6));
    }
    bar?.update(Math.round(bytes / 1e6));
    await sink.drain();
  };

  try {
    const result = await replayLog({
      path: events,
      rules,
      locator,
      latenessMs: flags.lateness,
      strict: flags.strict,
      onAlert: (alert) => (alert.shadow ? shadowSink : sink).write(alert),
      onInvalid,
      onProcessingError,
      onProgress,
    });
    bar?.stop();
    if (!flags.quiet) {
      process.stderr.write(formatSummary(`fraudwatch replay: ${events}`, result.stats, result.lines, result.elapsedMs, `${rulesLabel(rules)}, geo ${describeGeo(rules.geo)}`));
    }
    const { evictions } = result.stats;
    if (!flags.quiet && evictions.account + evictions.ip > 0) {
      // Once, at the end: the alerts of this run already lack what the evicted keys would have
      // remembered, and the operator should know before trusting a quiet result.
      const budget = rules.stateBudget;
      warn(
        `fraudwatch: FW_STATE_EVICTING: state reached its budget (stateBudget accounts ${budget.account}, addresses ${budget.ip}): ` +
          `${evictions.account} account and ${evictions.ip} address keys evicted; detectors forgot their history\n`,
      );
    }
    const failed = result.stats.processingErrors;
    if (flags.strict && failed > 0) {
      // --strict promises that every line of the log was taken as it is. An event that could not
      // be scored breaks that promise, but only its own alerts are missing, so the whole log is
      // still replayed (the output is the daemon's) before the run fails; an invalid line, the
      // log's own fault, stops --strict at once instead. Exit 1 as for an invalid line: the log
      // did not go through whole (2 would say the command was misused).
      const err = new FraudwatchError('FW_INTERNAL', `--strict: ${failed} event(s) could not be scored (processing_error)`);
      process.stderr.write(`fraudwatch: ${err.code}: ${err.message}\n`);
      process.exitCode = 1;
    }
  } finally {
    bar?.stop();
    await sink.close();
    if (shadowSink !== sink) await shadowSink.close();
    invalidOut?.end();
  }
}
