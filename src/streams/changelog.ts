import { randomUUID } from 'node:crypto';
import { AssignerProtocol, type Admin, type Kafka, type PartitionAssigner } from 'kafkajs';
import type { Logger } from 'pino';
import { FraudwatchError } from '../errors.js';

/** The latest value per key of one changelog partition; null is a tombstone. */
export type PartitionLog = Map<string, Buffer | null>;

/**
 * An assigner that gives its only member exactly the partitions asked for. kafkajs has no
 * manual assignment (assign()), and subscribing a throwaway group to the whole changelog would
 * make every restore read every task's state; this keeps a restore to its own partitions.
 */
function fixedAssigner(topic: string, partitions: readonly number[]): PartitionAssigner {
  return () => ({
    name: 'fraudwatch-restore',
    version: 1,
    async assign({ members }) {
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: i === 0 ? { [topic]: [...partitions] } : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return { name: 'fraudwatch-restore', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

/**
 * Reads changelog partitions from their beginning to their end (read_committed: the last stable
 * offset, fetched now — after the caller claimed the partitions' transactional ids, so no older
 * owner can still commit behind it) and keeps the latest value per key.
 *
 * Control records (transaction markers) are never delivered, so the end is detected from the
 * fetch position, which kafkajs reports for every batch, including marker-only ones.
 */
export async function readChangelog(kafka: Kafka, admin: Admin, topic: string, partitions: readonly number[], log: Logger): Promise<Map<number, PartitionLog>> {
  const result = new Map<number, PartitionLog>(partitions.map((p) => [p, new Map()]));
  if (partitions.length === 0) return result;
  const offsets = await admin.fetchTopicOffsets(topic);
  const end = new Map<number, number>();
  for (const o of offsets) {
    if (!result.has(o.partition)) continue;
    if (Number(o.high) > Number(o.low)) end.set(o.partition, Number(o.high));
  }
  if (end.size === 0) return result;

  const started = Date.now();
  const position = new Map<number, number>();
  const consumer = kafka.consumer({
    groupId: `fraudwatch-restore-${randomUUID()}`,
    partitionAssigners: [fixedAssigner(topic, [...end.keys()])],
    maxWaitTimeInMs: 100,
    sessionTimeout: 30_000,
    allowAutoTopicCreation: false,
    readUncommitted: false,
  });
  let records = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const advance = (partition: number, lastOffset: string | number) => {
        const next = Number(lastOffset) + 1;
        if (next > (position.get(partition) ?? 0)) position.set(partition, next);
        for (const [p, e] of end) if ((position.get(p) ?? 0) < e) return;
        resolve();
      };
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) => advance(e.payload.partition, e.payload.lastOffset));
      consumer.on(consumer.events.CRASH, (e) => reject(new FraudwatchError('FW_KAFKA_FATAL', `changelog restore failed: ${e.payload.error.message}`, {}, { cause: e.payload.error })));
      consumer
        .connect()
        .then(() => consumer.subscribe({ topics: [topic], fromBeginning: true }))
        .then(() =>
          consumer.run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const log = result.get(batch.partition)!;
              for (const m of batch.messages) {
                if (m.key === null) continue;
                log.set(m.key.toString('utf8'), m.value);
                records++;
              }
            },
          }),
        )
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch((err: unknown) => log.warn({ err }, 'restore consumer disconnect failed'));
  }
  log.debug({ topic, partitions: [...end.keys()], records, ms: Date.now() - started }, 'changelog read');
  return result;
}
