/**
 * vitest global setup: the suite cleans up the brokers it uses, whether its tests passed or not.
 *
 * - The main broker is started lazily, by the first test file that needs it (harness
 *   `testBrokers()`), on KAFKA_PORT or 19092, so a run of unit tests starts none.
 * - At the end, the topics (and consumer groups) the test files named with `uniqueName` are
 *   deleted from the main broker, the one given with FRAUDWATCH_TEST_BROKERS included.
 * - Every broker of this checkout (scripts/kafka-local.sh) that was started while the suite ran is
 *   stopped: the main one, and any a test file started on its own port and failed to stop (those
 *   are named in a warning). A broker that was running before the suite, or one given with
 *   FRAUDWATCH_TEST_BROKERS, is never stopped.
 * - Then it checks: a broker the suite started that is still running fails the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerCommand, deleteTracked, mainTestPort, NAMES_DIR_ENV, runningBrokers, trackedNames } from './suiteBrokers.js';

const warn = (msg: string) => console.warn(`[test brokers] ${msg}`);

function safePort(): number {
  try {
    return mainTestPort();
  } catch {
    return Number.NaN;
  }
}

export default function setup(): () => Promise<void> {
  const given = process.env.FRAUDWATCH_TEST_BROKERS || undefined;
  // With brokers given, KAFKA_PORT is not the suite's business (it may be anything, e.g. what
  // Kubernetes sets for a service named kafka); else the harness reports a bad one.
  const mainPort = given === undefined ? safePort() : Number.NaN;
  const before = new Set(runningBrokers());
  // Test workers inherit the main process's environment as it is when they start.
  const namesDir = mkdtempSync(join(tmpdir(), 'fraudwatch-test-names-'));
  process.env[NAMES_DIR_ENV] = namesDir;

  return async function teardown(): Promise<void> {
    const started = () => runningBrokers().filter((p) => !before.has(p));
    const names = trackedNames(namesDir);
    const mainBrokers = given ?? (runningBrokers().includes(mainPort) ? `127.0.0.1:${mainPort}` : undefined);
    if (mainBrokers !== undefined) {
      const deleted = await deleteTracked(mainBrokers, names, warn);
      if (deleted > 0) console.log(`[test brokers] deleted ${deleted} test topics on ${mainBrokers}`);
    }
    rmSync(namesDir, { recursive: true, force: true });

    for (const port of started()) {
      if (port === mainPort && given === undefined) console.log(`[test brokers] stopping the suite's broker on port ${port}`);
      else warn(`the broker on port ${port} was left running by a test file; stopping it`);
      await brokerCommand('stop', port).catch((err: Error) => warn(`stopping the broker on port ${port} failed: ${err.message}`));
    }
    const left = started();
    if (left.length > 0) {
      // vitest only logs an error thrown here: the exit status has to say it too.
      process.exitCode = 1;
      throw new Error(`test brokers still running after the suite on port(s) ${left.join(', ')} (scripts/kafka-local.sh stop with KAFKA_PORT=…)`);
    }
  };
}
