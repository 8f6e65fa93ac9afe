/**
 * The suite's broker housekeeping (tests/kafka/suiteBrokers.ts, globalSetup.ts), without a broker:
 * which port the main broker takes, which topics the teardown deletes, and that it never stops
 * a broker that was running before the suite. That nothing is left running after a whole run is
 * checked by the teardown itself and by tests/kafka/brokersLeft.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import setup from './globalSetup.js';
import { mainTestPort, NAMES_DIR_ENV, runningBrokers, topicsOf, trackedNames, trackName } from './suiteBrokers.js';

const savedDir = process.env[NAMES_DIR_ENV];
afterEach(() => {
  if (savedDir === undefined) delete process.env[NAMES_DIR_ENV];
  else process.env[NAMES_DIR_ENV] = savedDir;
});

describe('test broker housekeeping', () => {
  it('the main broker honours KAFKA_PORT, else 19092', () => {
    expect(mainTestPort({})).toBe(19092);
    expect(mainTestPort({ KAFKA_PORT: '' })).toBe(19092);
    expect(mainTestPort({ KAFKA_PORT: '29092' })).toBe(29092);
    expect(() => mainTestPort({ KAFKA_PORT: 'kafka' })).toThrow(/KAFKA_PORT=kafka/);
    expect(() => mainTestPort({ KAFKA_PORT: '65535' })).toThrow(/controller/);
  });

  it('tracks the names tests make, across workers, and deletes exactly the topics carrying them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-names-'));
    process.env[NAMES_DIR_ENV] = dir;
    trackName('demo-in-1a2b3c4d');
    trackName('demo-alerts-5e6f7a8b');
    trackName('fw-group-0badf00d');
    trackName('demo-in-1a2b3c4d');
    expect(trackedNames(dir).sort()).toEqual(['demo-alerts-5e6f7a8b', 'demo-in-1a2b3c4d', 'fw-group-0badf00d']);
    const topics = [
      'demo-in-1a2b3c4d',
      'demo-in-1a2b3c4d.dlq',
      'demo-alerts-5e6f7a8b',
      'demo-alerts-5e6f7a8b.shadow',
      'fw-group-0badf00d-repartition-account',
      'fw-group-0badf00d-state-changelog',
      'demo-in-1a2b3c4dx', // another name that happens to start the same way
      'account-events',
      '__consumer_offsets',
    ];
    expect(topicsOf(trackedNames(dir), topics)).toEqual(topics.slice(0, 6));
  });

  it('the teardown never stops a broker that was running before the suite (or one given with FRAUDWATCH_TEST_BROKERS)', async () => {
    const before = runningBrokers();
    const teardown = setup();
    await teardown();
    expect(runningBrokers()).toEqual(before);
  });
});
