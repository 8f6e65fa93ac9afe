/**
 * The short seeded chaos check for `npm test`: three runs of the harness in scenario.ts on a small
 * log (60 accounts, 7 days: about 8,000 lines and 30 alerts; one over co-partitioned input),
 * against its own broker. The long
 * randomised version is `npm run chaos`. Then the three field reports that the lag rule
 * (src/streams/sourceGroup.ts) answers, each once with a fixed seed: a backlog burst into idle
 * exactly-once daemons, exactly-once under kills and a broker restart, and an at-least-once
 * catch-up of a keyed backlog. Each failed on the code before it (events behind the watermark,
 * alerts missing or extra); `npm run chaos -- --scenario NAME --runs 10` repeats one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chaosBrokerForTests, killAllDaemons, runChaos, scenarios, stopChaosBroker, type ChaosOptions, type ChaosRow } from './scenario.js';

const broker = await chaosBrokerForTests();
/** One log for the three runs: generated and replayed once. */
const LOG = { logSeed: 5, accounts: 60, days: 7 } as const;

function expectPassed(row: ChaosRow): void {
  if (!row.passed) console.error(`chaos run failed: ${JSON.stringify(row, null, 2)}`);
  expect(row.inputRecords, 'the input topic holds the log, once').toBe(row.lines);
  expect(row.expected, 'the log has alerts to compare').toBeGreaterThan(10);
  expect(row.failures).toEqual([]);
  expect(row.missing).toBe(0);
  expect(row.extra).toBe(0);
  expect(row.duplicated).toBe(0);
  expect(row.late).toBe(0);
}

describe.skipIf(!broker)('chaos: the daemon gives the replay\'s alerts under faults (seeded)', () => {
  afterAll(async () => {
    killAllDaemons();
    await stopChaosBroker(broker!.port);
  });

  const log = (line: string) => console.log(`  chaos ${line}`);

  it('exactly_once, 2 instances: a kill -9 with restart and a broker restart while producing', async () => {
    const options: ChaosOptions = {
      broker: broker!,
      seed: 101,
      ...LOG,
      mode: 'exactly_once',
      instances: 2,
      partitions: 3,
      keyed: false,
      skewed: false,
      idleTimeout: '2s',
      production: { kind: 'chunks', chunks: 8 },
      kills: 1,
      killRestart: true,
      brokerRestart: true,
      log,
    };
    const row = await runChaos(options);
    expect([row.kills, row.restarts, row.brokerRestarts], 'the faults happened').toEqual([1, 1, 1]);
    expectPassed(row);
  }, 240_000);

  it('exactly_once over co-partitioned input (FRAUDWATCH_INPUT_KEYED=account), 3 instances: a kill -9 with restart and a broker restart while producing', async () => {
    const options: ChaosOptions = {
      broker: broker!,
      seed: 103,
      ...LOG,
      mode: 'exactly_once',
      instances: 3,
      partitions: 4,
      keyed: true,
      inputKeyed: true,
      idleTimeout: '2s',
      production: { kind: 'chunks', chunks: 8 },
      kills: 1,
      killRestart: true,
      brokerRestart: true,
      log,
    };
    const row = await runChaos(options);
    expect(row.inputKeyed, 'the run was co-partitioned').toBe(true);
    expect([row.kills, row.restarts, row.brokerRestarts], 'the faults happened').toEqual([1, 1, 1]);
    expectPassed(row);
  }, 240_000);

  it('at_least_once, 1 instance: a broker restart while producing', async () => {
    const row = await runChaos({
      broker: broker!,
      seed: 102,
      ...LOG,
      mode: 'at_least_once',
      partitions: 2,
      keyed: true,
      idleTimeout: '2s',
      production: { kind: 'chunks', chunks: 8 },
      brokerRestart: true,
      log,
    });
    expect(row.brokerRestarts, 'the broker restarted').toBe(1);
    expectPassed(row);
  }, 240_000);

  it('field report 1: a 14-day backlog burst, unkeyed, into an idle exactly-once daemon on 6 partitions', async () => {
    const row = await runChaos({ broker: broker!, ...scenarios.backlogBurst(20), log });
    expectPassed(row);
  }, 300_000);

  it('field report 2: exactly-once, 2 instances, kill -9 and restart every 10-15 s, a broker restart', async () => {
    const row = await runChaos({ broker: broker!, ...scenarios.underFaults(1), log });
    expect(row.kills, 'instances were killed').toBeGreaterThan(0);
    expect(row.brokerRestarts, 'the broker restarted').toBe(1);
    expectPassed(row);
  }, 420_000);

  it('field report 3: at-least-once catch-up of a keyed backlog on 6 partitions, idle 200ms, flow control pausing partitions', async () => {
    // A partition buffer of 100 events: the backlog's partitions drift apart in event time, so
    // flow control pauses and resumes them all along; the alerts must not change.
    const row = await runChaos({ broker: broker!, ...scenarios.catchUp(1), partitionBuffer: 100, log });
    expect(row.pauses, 'flow control paused partitions').toBeGreaterThan(0);
    expectPassed(row);
  }, 300_000);
});
