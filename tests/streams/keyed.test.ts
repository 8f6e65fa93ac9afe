/**
 * Co-partitioned input (FRAUDWATCH_INPUT_KEYED=account) without a broker: the setting's
 * validation, the partition check's hash against the producer's own partitioner, and the task
 * record's `routed` position. The broker runs are in eos.test.ts.
 */
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { resolveDaemonConfig } from '../../src/daemon/config.js';
import { FraudwatchError } from '../../src/errors.js';
import { decodeTaskRecord, encodeTaskRecord } from '../../src/streams/snapshot.js';
import { keyPartition } from '../../src/streams/task.js';
import { rng } from '../fuzz/prng.js';

describe('FRAUDWATCH_INPUT_KEYED', () => {
  it('defaults to none, takes account under exactly_once, and is refused in at_least_once', () => {
    expect(resolveDaemonConfig({}, {}).inputKeyed).toBe('none');
    expect(resolveDaemonConfig({}, { FRAUDWATCH_PROCESSING: 'exactly_once', FRAUDWATCH_INPUT_KEYED: 'account' }).inputKeyed).toBe('account');
    let err: unknown;
    try {
      resolveDaemonConfig({}, { FRAUDWATCH_INPUT_KEYED: 'account' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FraudwatchError);
    expect((err as FraudwatchError).code).toBe('FW_CLI_BAD_FLAG');
    expect(() => resolveDaemonConfig({}, { FRAUDWATCH_PROCESSING: 'exactly_once', FRAUDWATCH_INPUT_KEYED: 'ip' })).toThrow(FraudwatchError);
  });
});

describe('keyPartition', () => {
  it("is the partition kafkajs's DefaultPartitioner gives a keyed record (seeded keys, several counts)", () => {
    const r = rng(1707);
    const partitioner = Partitioners.DefaultPartitioner();
    let moved = 0;
    for (const partitions of [1, 3, 6, 7, 12]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
      for (let i = 0; i < 300; i++) {
        const key = `acct-${r.int(1e9).toString(36)}`;
        const want = partitioner({ topic: 't', partitionMetadata, message: { key, value: 'v' } });
        expect(keyPartition(key, partitions)).toBe(want);
        expect(keyPartition(Buffer.from(key), partitions)).toBe(want);
        if (want !== 0) moved++;
      }
    }
    // Not all in partition 0: the comparison above is not vacuous.
    expect(moved).toBeGreaterThan(500);
  });
});

describe('task record', () => {
  const position = { lastTs: 5, lastId: 'e', sources: [[0, 5]] as [number, number][], engine: { clock: 5, nextSweep: 10 } };
  it('keeps a keyed task\'s routed offset, and a record without one decodes without it', () => {
    const keyed = decodeTaskRecord(encodeTaskRecord({ committed: 10, processed: [12, 14], dedupeFrom: 3, position, read: [], routed: 20 }));
    expect(keyed.routed).toBe(20);
    const plain = decodeTaskRecord(encodeTaskRecord({ committed: 10, processed: [], dedupeFrom: 3, position, read: [[0, 7]] }));
    expect(plain.routed).toBeUndefined();
    expect(plain.read).toEqual([[0, 7]]);
  });
});
