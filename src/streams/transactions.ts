import type { Kafka, Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { FraudwatchError } from '../errors.js';
import { defaultPartitioner } from '../kafka/client.js';

/** One record to produce in a transaction; `partition` pins it (changelog records), else the key decides. */
export interface OutRecord {
  readonly topic: string;
  readonly message: Message;
}

export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read, as Kafka commits it. */
  readonly offset: number;
}

/** Attempts of one transaction before the task gives up on it and starts over from its last commit. */
const MAX_ATTEMPTS = 6;

/** Errors meaning another producer with our transactional id took over: this one is a zombie. */
const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'INVALID_PRODUCER_ID_MAPPING']);

function errorTypes(err: unknown): string[] {
  const types: string[] = [];
  for (let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined; e; e = (e.cause ?? e.originalError) as typeof e) {
    if (typeof e.type === 'string') types.push(e.type);
    if (types.length > 5) break;
  }
  return types;
}

export function isFenced(err: unknown): boolean {
  return errorTypes(err).some((t) => FENCED.has(t)) || (err instanceof FraudwatchError && err.code === 'FW_KAFKA_FENCED');
}

/**
 * A transactional producer bound to one task (an input or repartition partition). kafkajs has
 * no KIP-447 group fencing, so zombies are fenced the way its docs describe: the transactional
 * id is a function of (group, topic, partition), and whoever owns the partition next calls
 * InitProducerId with the same id, which bumps the epoch, aborts the zombie's open transaction
 * and makes every later write of the zombie fail.
 *
 * `commit` is one consume-transform-produce step: records + sendOffsets + commit, atomically.
 * kafkajs starts a transaction before the previous one's markers are written and then retries
 * CONCURRENT_TRANSACTIONS (kafkajs#1315), and sendOffsets may throw it instead of retrying
 * (kafkajs#430): any failure aborts and retries the whole transaction a few times; the records
 * are in memory, so a retry sends the same bytes.
 */
export class TxnProducer {
  private readonly producer: Producer;
  private connected = false;

  constructor(
    kafka: Kafka,
    readonly transactionalId: string,
    private readonly groupId: string,
    private readonly log: Logger,
  ) {
    this.producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      // Longer than a slow batch, shorter than an operator's patience: a zombie's open
      // transaction is aborted by the broker after this even if nobody takes over.
      transactionTimeout: 60_000,
      createPartitioner: defaultPartitioner,
      // CONCURRENT_TRANSACTIONS clears within milliseconds on a healthy broker; the client's
      // default 300 ms first retry would add that much to every commit.
      retry: { initialRetryTime: 30, maxRetryTime: 2_000, retries: 12 },
    });
  }

  /**
   * Connects and claims the transactional id (InitProducerId): from here on, any previous owner
   * of this partition is fenced and its open transaction aborted. Must happen before the task
   * reads its committed offset and restores its state, so nothing can commit behind it.
   */
  async claim(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
    const txn = await this.producer.transaction();
    // Nothing was sent: kafkajs ends it locally, leaving the producer initialised and ready.
    await txn.abort();
  }

  async commit(records: readonly OutRecord[], offsets: readonly OffsetToCommit[]): Promise<void> {
    const chunks = chunkRecords(records);
    const topics = groupOffsets(offsets);
    let delay = 50;
    for (let attempt = 1; ; attempt++) {
      let txn: Awaited<ReturnType<Producer['transaction']>> | undefined;
      try {
        txn = await this.producer.transaction();
        for (const topicMessages of chunks) await txn.sendBatch({ acks: -1, topicMessages });
        if (topics.length > 0) await txn.sendOffsets({ consumerGroupId: this.groupId, topics });
        await txn.commit();
        return;
      } catch (err) {
        if (txn?.isActive()) await txn.abort().catch((e: unknown) => this.log.debug({ err: e, transactionalId: this.transactionalId }, 'abort after a failed transaction failed'));
        if (isFenced(err)) {
          throw new FraudwatchError('FW_KAFKA_FENCED', `another instance owns ${this.transactionalId}`, { transactionalId: this.transactionalId }, { cause: err });
        }
        if (attempt >= MAX_ATTEMPTS) {
          throw new FraudwatchError('FW_KAFKA_PRODUCE', `transaction failed ${attempt} times: ${(err as Error).message}`, { transactionalId: this.transactionalId, records: records.length }, { cause: err });
        }
        this.log.debug({ err: (err as Error).message, types: errorTypes(err), attempt, transactionalId: this.transactionalId }, 'transaction aborted; retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  async close(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }
}

/**
 * Each produce request carries one record batch per partition, and the broker refuses a batch
 * over max.message.bytes (1 MB by default): a commit with many changed keys (all bound for the
 * task's one changelog partition) or a large input batch is sent in requests of bounded size.
 */
const MAX_REQUEST_BYTES = 512 * 1024;

function chunkRecords(records: readonly OutRecord[]): { topic: string; messages: Message[] }[][] {
  const chunks: { topic: string; messages: Message[] }[][] = [];
  let current: OutRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = sizeOf(r.message.value) + sizeOf(r.message.key) + 64;
    if (bytes + size > MAX_REQUEST_BYTES && current.length > 0) {
      chunks.push(groupByTopic(current));
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) chunks.push(groupByTopic(current));
  return chunks;
}

function sizeOf(v: Buffer | string | null | undefined): number {
  return v === null || v === undefined ? 0 : typeof v === 'string' ? v.length * 2 : v.length;
}

function groupByTopic(records: readonly OutRecord[]): { topic: string; messages: Message[] }[] {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (!list) byTopic.set(r.topic, (list = []));
    list.push(r.message);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

function groupOffsets(offsets: readonly OffsetToCommit[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const byTopic = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    let list = byTopic.get(o.topic);
    if (!list) byTopic.set(o.topic, (list = []));
    list.push({ partition: o.partition, offset: String(o.offset) });
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}
