import { watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { rulesFromFlag } from '../cli/rulesFlag.js';
import type { Rules } from '../config/rules.js';
import { FraudwatchError, formatRulesIssue, RulesError } from '../errors.js';
import type { DaemonMetrics } from './metrics.js';

/*
 * What both daemons share: the at-least-once daemon (src/daemon/daemon.ts) and the exactly-once
 * runner (src/streams/runner.ts) differ in how they process and commit, not in how they retry
 * start-up, reload rules and shut down.
 */

/** A clean shutdown that takes longer than this ends the process anyway (exit 1). */
export const SHUTDOWN_DEADLINE_MS = 10_000;

/**
 * Runs the shutdown steps in order. Every step runs even if an earlier one failed; past the
 * deadline the process exits with `timeoutMessage` logged, rather than hang on a dead broker.
 */
export async function runShutdown(log: Logger, steps: readonly (readonly [string, () => Promise<unknown>])[], timeoutMessage: string): Promise<void> {
  const deadline = setTimeout(() => {
    log.error(timeoutMessage);
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS);
  deadline.unref();
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (err) {
      log.warn({ err, step: name }, 'shutdown step failed');
    }
  }
  clearTimeout(deadline);
}

/**
 * Retries a start-up step with capped exponential backoff until it succeeds, the daemon stops,
 * or the error says that retrying cannot help (a non-retriable FraudwatchError, such as a topic
 * with the wrong partition count, or FW_KAFKA_AUTH).
 *
 * One log line per failed attempt, so an unreachable broker costs at most one warning per
 * back-off step (0.5 s doubling to 30 s): a coded error's code and details (FW_KAFKA_CONNECT's
 * broker list) with the delay before the next attempt. A step that will not be retried is logged
 * once at error with its code before it is thrown, so the JSON log says why the process ends.
 * `onFailure` hears every failure (the service's readiness reason).
 */
export async function retryWithBackoff(
  what: string,
  fn: () => Promise<void>,
  log: Logger,
  stopping: () => boolean,
  onFailure: (err: unknown) => void = () => undefined,
): Promise<void> {
  let delay = 500;
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return;
    } catch (err) {
      if (stopping()) throw err;
      onFailure(err);
      const coded = err instanceof FraudwatchError ? { ...err.details, code: err.code } : {};
      if (err instanceof FraudwatchError && !err.retriable && err.details.retry !== true) {
        log.error({ ...coded, err: err.message, attempt }, `${what} failed; not retrying`);
        throw err;
      }
      log.warn({ ...coded, err: (err as Error).message, attempt, retryInMs: delay }, `${what} failed; retrying in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }
}

/**
 * Calls `onChange` shortly after the rules file changes (a burst of writes is one change).
 * Watches the directory, not the file: editors, config managers and Kubernetes replace files by
 * rename, which ends a watch on the old inode. Returns the function that stops watching.
 */
export function watchRulesFile(rulesFile: string | undefined, onChange: () => void, log: Logger): () => void {
  if (!rulesFile) return () => undefined;
  const file = resolve(rulesFile);
  let timer: NodeJS.Timeout | undefined;
  try {
    const watcher = watch(dirname(file), (_event, name) => {
      // Kubernetes updates a mounted ConfigMap by swapping its hidden `..data` link: the file's
      // own name never shows up in the events.
      if (name !== null && name !== basename(file) && name !== '..data') return;
      clearTimeout(timer);
      timer = setTimeout(onChange, 250);
    });
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  } catch (err) {
    log.warn({ err, file }, 'cannot watch the rules file; SIGHUP still reloads');
    return () => undefined;
  }
}

/**
 * Reads the rules file again. Returns the new rules for the caller to apply, or undefined when
 * they are unchanged or invalid; an invalid file is logged with its positioned errors and
 * counted, and the running rules stay.
 */
export function reloadRulesFile(rulesFile: string | undefined, current: Rules, trigger: string, metrics: DaemonMetrics, log: Logger): Rules | undefined {
  try {
    const rules = rulesFromFlag(rulesFile);
    if (rules.version === current.version) {
      log.info({ trigger, rulesVersion: rules.version }, 'rules unchanged');
      return undefined;
    }
    metrics.rulesInfo.reset();
    metrics.rulesInfo.set({ version: rules.version }, 1);
    metrics.reloads.inc({ result: 'applied' });
    metrics.lastReloadSuccess.setToCurrentTime();
    log.info({ trigger, previous: current.version, rulesVersion: rules.version }, 'rules reloaded');
    return rules;
  } catch (err) {
    metrics.reloads.inc({ result: 'rejected' });
    const issues = err instanceof RulesError ? err.issues.map(formatRulesIssue) : [(err as Error).message];
    log.error({ trigger, issues, rulesVersion: current.version }, 'rules rejected; the previous rules keep running');
    return undefined;
  }
}
