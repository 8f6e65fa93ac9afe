import type { EachBatchPayload, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Alert } from '../alerts/alert.js';
import type { Rules } from '../config/rules.js';
import { Pipeline } from '../engine/pipeline.js';
import type { FraudEvent } from '../events/types.js';
import { FraudwatchError } from '../errors.js';
import { GeoBinding } from '../geo/live.js';
import type { GeoLocator } from '../geo/locator.js';
import { defaultPartitioner } from '../kafka/client.js';
import { deadLetterMessage, processingErrorDeadLetter, ProcessingErrorLog } from '../kafka/deadLetter.js';
import { RecordDecoder, type DecodedRecords, type RawValues } from '../kafka/recordDecoder.js';
import { SourceGroup } from '../streams/sourceGroup.js';
import { describeConfig, type DaemonConfig } from './config.js';
import { EvictionLog } from './evictionLog.js';
import { reloadRulesFile } from './lifecycle.js';
import { DaemonMetrics } from './metrics.js';
import { OffsetLedger, type LedgerEntry } from './offsetLedger.js';
import { KafkaService, type ShutdownStep } from './service.js';

/** Where an event came from; travels with it through the reorder buffer. */
interface Tag extends LedgerEntry {
  readonly partition: number;
  readonly offset: number;
  /** Wall clock (performance.now) when the daemon received it, for the latency histogram. */
  readonly receivedAt: number;
  /** Its batch's values and its index there: dead-lettered with its bytes should its scoring fail. */
  readonly raw: RawValues;
  readonly index: number;
}

/** A fetched partition batch, as handed from kafkajs to the processing chain. */
interface Fetched {
  readonly partition: number;
  readonly messages: KafkaMessage[];
  readonly decoded: Promise<DecodedRecords>;
  /** The consumer generation it was fetched in (`generation`). */
  readonly generation: number;
  readonly receivedAt: number;
  /** Past the batch's trailing transaction markers. */
  readonly end: number;
  readonly highWatermark: number;
}

interface Outgoing {
  readonly topic: string;
  readonly message: Message;
  /** Set for alerts: when their triggering event was received. */
  readonly receivedAt?: number;
}

export { DLQ_HEADERS } from '../kafka/deadLetter.js';

/** Per produce request: well under the broker's default 1 MB message batch limit. */
const PRODUCE_CHUNK_MESSAGES = 1000;
const PRODUCE_CHUNK_BYTES = 512 * 1024;

/**
 * Offsets are committed at most this often after batches (and at every tick): alerts still go out
 * with their batch, before any commit that covers them, but a commit round trip per fetched
 * partition batch was a large share of a backlog's time. A crash re-reads at most this much more.
 * Kafka Streams commits on an interval too (commit.interval.ms).
 */
const COMMIT_INTERVAL_MS = 100;
/**
 * Fetched records handed on for decoding and scoring but not scored yet: beyond this, kafkajs's
 * batch callback waits before it returns, and so before the next fetch. Measured on a 5M-event
 * backlog: 10,000, 20,000 and 50,000 ran as fast; 50,000 peaked 115 MB higher than 10,000.
 */
const MAX_IN_FLIGHT_RECORDS = 20_000;
/**
 * kafkajs fetches again as soon as the batch callbacks return, before those batches are scored,
 * so the fetch under way leaves out a partition that flow control resumes while scoring them;
 * the resumed partition is read from the next fetch, which this bounds. At 1 s (what it was
 * when scoring ran inside the callback) a backlog stalled a second at a time near its end: 7.3 s
 * for what takes 4 s.
 */
const FETCH_MAX_WAIT_MS = 200;

/**
 * `fraudwatch run`: the Kafka front door to the same Pipeline replay uses.
 *
 * Delivery: at least once. For each batch, events are scored, their alerts and dead letters
 * are produced with acks=all, and only then are offsets committed, and for each partition
 * never past the earliest event still waiting in the reorder buffer. A crash anywhere
 * re-reads from the last commit; redelivered alerts carry the same alertId.
 */
export class Daemon extends KafkaService {
  private readonly producer: Producer;
  private readonly pipeline: Pipeline<Tag>;
  protected readonly metrics: DaemonMetrics;
  /** The rules as parsed, bound to the geolocation data in use (a database swap changes rulesVersion). */
  private readonly geo: GeoBinding;
  private outbox: Outgoing[] = [];
  /** Per partition: the next offset to read (all below it were pushed into the pipeline). */
  private readonly consumed = new Map<number, number>();
  /** Per partition: the fetch position, past transaction markers too (what the end offset is compared with). */
  private readonly readTo = new Map<number, number>();
  private readonly committed = new Map<number, number>();
  private assigned = new Set<number>();
  /** Per partition, the offsets still in the reorder buffer (what may be committed, and flow control). */
  private readonly ledger = new OffsetLedger();
  /** When offsets were last committed (performance.now). */
  private lastCommit = Number.NEGATIVE_INFINITY;
  /** Partitions paused by flow control (`flowControl`). */
  private readonly paused = new Set<number>();
  /** Which partitions hold back event time: the only wall-clock decision (src/streams/sourceGroup.ts). */
  private readonly progress: SourceGroup<number>;
  private polling = false;
  private lateReported = 0;
  private producerHealthy = true;
  private readonly processingErrors: ProcessingErrorLog;
  private readonly evictionLog: EvictionLog;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly decoder: RecordDecoder;
  /** Counts consumer group generations (GROUP_JOIN): a batch fetched in an earlier one is dropped unscored. */
  private generation = 0;
  /** Batches handed on and not yet scored, oldest first, with their record counts. */
  private readonly inFlight: { readonly records: number; readonly done: Promise<unknown> }[] = [];
  private inFlightRecords = 0;
  /** The first error of a batch scored after kafkajs's callback returned: thrown from the next callback. */
  private failure: unknown;
  protected readonly shutdownTimeoutMessage = 'shutdown took longer than 10 s; exiting without a clean disconnect';

  constructor(config: DaemonConfig, rules: Rules, locator: GeoLocator, log: Logger) {
    super(config, log);
    // Not idempotent: a retried send may duplicate an alert, which at-least-once allows and the
    // deterministic alertId lets consumers drop; kafkajs's idempotent mode would demand unbounded retries.
    this.producer = this.kafka.producer({ createPartitioner: defaultPartitioner });
    this.geo = new GeoBinding(rules, locator, log);
    this.pipeline = new Pipeline<Tag>({
      rules: this.geo.rules,
      locator,
      latenessMs: config.latenessMs,
      onAlert: (alert, trigger, tag) => this.queueAlert(alert, trigger, tag),
      onProcessingError: (err, ev, tag) => this.deadLetterProcessingError(err, ev, tag),
      onReleased: (tag) => this.ledger.release(tag),
    });
    this.processingErrors = new ProcessingErrorLog(log);
    this.evictionLog = new EvictionLog(log);
    this.metrics = new DaemonMetrics(this.pipeline.stats);
    this.metrics.rulesInfo.set({ version: this.pipeline.rules.version }, 1);
    this.geo.attach(this.metrics, () => void this.exclusive(async () => this.pipeline.setRules(this.geo.rules)));
    this.progress = new SourceGroup(config.idleMs);
    this.decoder = new RecordDecoder(log);
  }

  protected startInfo(): Record<string, unknown> {
    return { config: describeConfig(this.config), rulesVersion: this.pipeline.rules.version };
  }

  protected async connect(): Promise<void> {
    await this.admin.connect();
    await this.ensureTopics();
    await this.producer.connect();
    this.producerHealthy = true;
  }

  protected override beforeConsumerStop(): readonly ShutdownStep[] {
    // Commits on an interval leave up to COMMIT_INTERVAL_MS of scored events uncommitted; they
    // go through the consumer, so before it stops. Batches still running meanwhile commit at
    // once (`stopping`).
    return [['commit', () => this.exclusive(() => this.produceAndCommit())]];
  }

  protected flushSteps(): readonly ShutdownStep[] {
    return [
      // Alerts of events already scored but not yet produced (an idle flush in flight).
      ['final flush', () => this.exclusive(() => this.produceAndCommit())],
      ['producer', () => this.producer.disconnect()],
      ['decode thread', () => this.decoder.close()],
    ];
  }

  protected logStopped(): void {
    this.log.info({ buffered: this.pipeline.buffered }, 'stopped; buffered events were not committed and will be read again');
  }

  // ---- Kafka plumbing -------------------------------------------------------------------

  private async ensureTopics(): Promise<void> {
    const existing = new Set(await this.admin.listTopics());
    const wanted = [this.config.alertsTopic, this.config.shadowTopic, this.config.dlqTopic].filter((t) => !existing.has(t));
    if (wanted.length > 0) {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: wanted.map((topic) => ({ topic, numPartitions: this.config.topicPartitions, replicationFactor: this.config.topicReplication })),
      });
      this.log.info({ topics: wanted }, 'created missing output topics');
    }
    if (!existing.has(this.config.inputTopic)) {
      this.log.warn({ topic: this.config.inputTopic }, 'input topic does not exist yet; waiting for it to be created');
    }
  }

  protected async startConsumer(): Promise<void> {
    // A fetch waits at most FETCH_MAX_WAIT_MS for data: it bounds fetch latency when traffic is
    // thin, makes the FETCH event a heartbeat of broker reachability for /readyz, and bounds how
    // long a partition flow control resumes waits for the fetch already under way without it.
    const consumer = this.newConsumer({ maxWaitTimeInMs: FETCH_MAX_WAIT_MS });
    // A new consumer (a restart after a crash) fetches every partition: nothing of it is paused.
    this.paused.clear();
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      // A batch of transaction markers or aborted records only never reaches eachBatch, but the
      // fetch position moved past it: without this a quiet partition written with transactions
      // would look behind its end offset for ever and hold back event time.
      if (e.payload.batchSize !== 0 || e.payload.firstOffset === null || !this.assigned.has(e.payload.partition)) return;
      const end = Number(e.payload.lastOffset) + 1;
      if (end > (this.readTo.get(e.payload.partition) ?? -1)) this.readTo.set(e.payload.partition, end);
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.joined = true;
      // kafkajs fetches from the committed offsets again: what was fetched before is read again.
      this.generation++;
      const partitions = (e.payload.memberAssignment[this.config.inputTopic] ?? []) as number[];
      this.onAssignment(partitions);
      this.log.info({ partitions, groupId: e.payload.groupId, leader: e.payload.isLeader }, 'joined consumer group');
    });
    await this.withBackoff('subscribe', async () => {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.config.inputTopic], fromBeginning: this.config.fromBeginning });
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onFetch(payload),
    });
  }

  private onAssignment(partitions: number[]): void {
    const now = Date.now();
    const next = new Set(partitions);
    for (const p of this.assigned) {
      if (!next.has(p)) {
        this.pipeline.removeSource(p);
        this.progress.remove(p);
        this.consumed.delete(p);
        this.readTo.delete(p);
        this.committed.delete(p);
        this.ledger.remove(p);
        this.paused.delete(p);
        this.metrics.forgetProgress(this.config.inputTopic, p);
      }
    }
    // A new partition holds back event time until it sends or a lag check finds it caught up:
    // after a rebalance or a restart it may hold the oldest unread data of all.
    for (const p of next) {
      this.pipeline.addSource(p);
      this.progress.add(p, now);
    }
    this.assigned = next;
  }

  /**
   * kafkajs's batch callback: hands the batch to the decode thread and queues its scoring, then
   * returns, so that kafkajs fetches again while it is decoded and scored (kafkajs fetches only
   * once every callback of the last fetch has returned). The fetch position moves past the batch
   * at once; what is committed is decided in produceAndCommit, after scoring, as before.
   */
  private async onFetch({ batch, isRunning, isStale, heartbeat, resolveOffset }: EachBatchPayload): Promise<void> {
    if (this.failure !== undefined) {
      // A batch scored after its callback returned failed (its alerts could not be produced):
      // thrown here, so kafkajs backs off and fetches this batch again, as when scoring ran inside it.
      const err = this.failure;
      this.failure = undefined;
      throw err;
    }
    const messages = batch.messages;
    if (messages.length === 0 || !isRunning() || isStale()) return;
    const fetched: Fetched = {
      partition: batch.partition,
      messages,
      decoded: this.decoder.decode(messages.map((m) => m.value)),
      generation: this.generation,
      receivedAt: performance.now(),
      end: Number(batch.lastOffset()) + 1,
      highWatermark: Number(batch.highWatermark),
    };
    resolveOffset(messages[messages.length - 1]!.offset);
    const done = this.exclusive(() => this.onBatch(fetched));
    const entry = { records: messages.length, done };
    this.inFlight.push(entry);
    this.inFlightRecords += entry.records;
    void done.then(
      () => this.settled(entry),
      (err: unknown) => {
        this.failure ??= err;
        this.settled(entry);
      },
    );
    // Stopping: the consumer's disconnect waits for running callbacks, so this one waits for its
    // batch to be scored (and committed) before the consumer goes.
    if (this.stopping) await done.catch(() => undefined);
    while (this.inFlightRecords > MAX_IN_FLIGHT_RECORDS && this.inFlight.length > 0) await this.inFlight[0]!.done.catch(() => undefined);
    await heartbeat();
  }

  private settled(entry: (typeof this.inFlight)[number]): void {
    const i = this.inFlight.indexOf(entry);
    if (i >= 0) this.inFlight.splice(i, 1);
    this.inFlightRecords -= entry.records;
  }

  /** Scores one fetched batch once decoded: in fetch order, never beside another batch, a tick or a reload. */
  private async onBatch(f: Fetched): Promise<void> {
    const { results, raw } = await f.decoded;
    // Fetched before a rebalance or a restart of the consumer, which fetches from the committed
    // offsets again: scoring it as well would skip those records when they come again.
    if (f.generation !== this.generation || !this.assigned.has(f.partition)) return;
    const started = performance.now();
    const partition = f.partition;
    const messages = f.messages;
    let next = this.consumed.get(partition) ?? -1;
    const receivedAt = f.receivedAt;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const offset = Number(m.offset);
      // A batch fetched again after a failed produce: those messages are already in the pipeline.
      if (offset < next) continue;
      const result = results[i]!;
      const tag: Tag = { partition, offset, receivedAt, raw, index: i, released: false };
      if (result.ok) {
        // In the ledger before the push: an event behind the watermark is released during it.
        this.ledger.add(tag);
        this.pipeline.push(result.event, partition, tag);
      } else {
        this.pipeline.offer(result, partition, tag);
        this.outbox.push({ topic: this.config.dlqTopic, message: deadLetterMessage(m, { topic: this.config.inputTopic, partition, offset }, result.reason, result.message) });
      }
      next = offset + 1;
    }
    this.consumed.set(partition, next);
    const now = Date.now();
    this.progress.onData(partition, now);
    this.progress.sample(now, this.pipeline.newestTs());
    // Past the batch's trailing transaction markers too.
    this.readTo.set(partition, Math.max(this.readTo.get(partition) ?? -1, f.end, next));
    this.metrics.lag.set({ topic: this.config.inputTopic, partition: String(partition) }, Math.max(0, f.highWatermark - next));
    await this.produceAndCommit(!this.stopping);
    this.flowControl();
    this.metrics.batchSeconds.observe((performance.now() - started) / 1000);
  }

  /**
   * Lag checks, caught-up partitions and the quiet flush: the only place the wall clock touches
   * event processing, and only through lag evidence (src/streams/sourceGroup.ts).
   */
  protected async onTick(): Promise<void> {
    if (this.stopping || this.consumer === undefined) return;
    if (!this.polling) void this.pollLag();
    await this.exclusive(async () => {
      const now = Date.now();
      this.progress.sample(now, this.pipeline.newestTs());
      for (const p of this.assigned) this.pipeline.setFloor(p, this.progress.floor(p));
      this.pipeline.drain();
      const lateness = this.config.latenessMs ?? this.pipeline.rules.latenessMs;
      // Every partition has been caught up for a whole lateness: nothing can reorder what is
      // buffered any more, so it is scored now rather than held until traffic resumes. (NaN,
      // some partition not caught up, never passes.)
      if (this.pipeline.buffered > 0 && now - this.progress.quietSince() >= Math.max(lateness, this.config.idleMs)) this.pipeline.flush();
      this.reportProgress();
      this.processingErrors.flush();
      this.metrics.buffered.set(this.pipeline.buffered);
      const keys = this.pipeline.core.keyCounts();
      const budget = this.pipeline.core.budget();
      this.metrics.trackedKeys.set({ kind: 'account' }, keys.account);
      this.metrics.trackedKeys.set({ kind: 'ip' }, keys.ip);
      this.metrics.stateBudget.set({ kind: 'account' }, budget.account);
      this.metrics.stateBudget.set({ kind: 'ip' }, budget.ip);
      this.evictionLog.check(this.pipeline.stats.evictions, budget);
      if (this.outbox.length > 0 || this.hasUncommitted()) await this.produceAndCommit();
      this.flowControl();
    }).catch((err) => this.log.warn({ err }, 'idle flush failed; will retry'));
  }

  /**
   * One lag check of every assigned partition: the input's end offsets (issued at `askedAt`)
   * against how far each partition has been read. A partition not read yet starts from its
   * committed offset, or the start the group's reset policy gives it.
   */
  private async pollLag(): Promise<void> {
    this.polling = true;
    const askedAt = Date.now();
    try {
      const ends = await this.admin.fetchTopicOffsets(this.config.inputTopic);
      if ([...this.assigned].some((p) => !this.readTo.has(p))) {
        const committed = await this.admin.fetchOffsets({ groupId: this.config.groupId, topics: [this.config.inputTopic] });
        for (const c of committed[0]?.partitions ?? []) {
          if (!this.assigned.has(c.partition) || this.readTo.has(c.partition)) continue;
          const end = ends.find((e) => e.partition === c.partition);
          const start = Number(c.offset) >= 0 ? Number(c.offset) : this.config.fromBeginning ? Number(end?.low ?? 0) : Number(end?.high ?? 0);
          this.readTo.set(c.partition, start);
        }
      }
      for (const e of ends) {
        if (!this.assigned.has(e.partition)) continue;
        const at = this.readTo.get(e.partition);
        if (at !== undefined && at >= Number(e.high)) this.progress.onCaughtUp(e.partition, askedAt);
        else this.progress.onBehind(e.partition);
        this.metrics.lag.set({ topic: this.config.inputTopic, partition: String(e.partition) }, Math.max(0, Number(e.high) - (at ?? 0)));
      }
      this.brokersAccepted();
    } catch (err) {
      // No evidence: every partition holds back event time again until the brokers answer.
      for (const p of this.assigned) this.progress.onUnknown(p);
      if (!this.authRefused(err)) this.log.debug({ err }, 'lag check failed; partitions hold back event time');
    } finally {
      this.polling = false;
    }
  }

  /** Gauges of event-time progress, and a warning when events were scored behind the watermark. */
  private reportProgress(): void {
    const task = this.config.inputTopic;
    this.metrics.setProgress(
      task,
      this.pipeline.watermark(),
      [...this.pipeline.sourceClocks()].map(([p, c]) => ({ partition: p, ts: c.maxTs, caughtUp: this.progress.lag(p as number) === 'caught_up' })),
    );
    const late = this.pipeline.stats.late;
    if (late > this.lateReported) {
      // Scored out of order: data older than the watermark arrived after its partition had been
      // caught up; operators widen the lateness when this keeps coming.
      this.log.warn({ late: late - this.lateReported, total: late, code: 'FW_INPUT_LATE' }, 'events arrived behind the watermark (later than the lateness allows)');
      this.lateReported = late;
    }
  }

  private hasUncommitted(): boolean {
    for (const [p, off] of this.commitTargets()) if (off > (this.committed.get(p) ?? -1)) return true;
    return false;
  }

  /** Per partition, the offset up to which everything has left the reorder buffer. */
  private commitTargets(): Map<number, number> {
    const targets = new Map<number, number>();
    for (const [p, consumed] of this.consumed) targets.set(p, this.ledger.earliestHeld(p) ?? consumed);
    return targets;
  }

  /**
   * Flow control, as Kafka Streams pauses a partition whose record buffer is full: a partition
   * with more than `partitionBuffer` events waiting in the reorder buffer is paused while another
   * partition holds event time back, and resumed at half of it or once it is the one holding
   * event time back. The partition(s) holding event time back are never paused: they are what
   * releases the others, so flow control cannot stop the stream. Without it, a backlog whose
   * partitions move through event time at different speeds (fetches are by bytes, and partitions
   * differ in events per hour) buffered the faster partitions' events without bound: memory, and
   * the cost of every release, grew with the backlog.
   */
  private flowControl(): void {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    let slowest = Number.POSITIVE_INFINITY;
    const clocks = new Map<number, number>();
    for (const [p, c] of this.pipeline.sourceClocks()) {
      if (!this.assigned.has(p as number)) continue;
      const t = c.floor > c.maxTs ? c.floor : c.maxTs;
      clocks.set(p as number, t);
      if (t < slowest) slowest = t;
    }
    const limit = this.config.partitionBuffer;
    const pause: number[] = [];
    const resume: number[] = [];
    for (const p of this.assigned) {
      const held = this.ledger.held(p);
      const holdsBack = (clocks.get(p) ?? Number.NEGATIVE_INFINITY) <= slowest;
      if (this.paused.has(p)) {
        if (holdsBack || held <= limit / 2) resume.push(p);
      } else if (!holdsBack && held > limit) pause.push(p);
    }
    if (pause.length > 0) {
      consumer.pause([{ topic: this.config.inputTopic, partitions: pause }]);
      for (const p of pause) this.paused.add(p);
      this.metrics.partitionPauses.inc(pause.length);
    }
    if (resume.length > 0) {
      consumer.resume([{ topic: this.config.inputTopic, partitions: resume }]);
      for (const p of resume) this.paused.delete(p);
    }
    this.metrics.pausedPartitions.set(this.paused.size);
  }

  /**
   * Produces queued alerts and dead letters (acks=all), then commits what they cover. After a
   * batch (`interval`) the commit waits until COMMIT_INTERVAL_MS have passed since the last one;
   * the tick and shutdown commit whatever is due.
   */
  private async produceAndCommit(interval = false): Promise<void> {
    while (this.outbox.length > 0) {
      // Bounded requests: a burst (an idle flush of a long lateness) can queue thousands of
      // alerts, and one request over the broker's message size limit would fail for ever.
      let bytes = 0;
      let n = 0;
      while (n < this.outbox.length && n < PRODUCE_CHUNK_MESSAGES && bytes < PRODUCE_CHUNK_BYTES) {
        const m = this.outbox[n]!.message;
        bytes += (m.value as string | Buffer | null)?.length ?? 0;
        n++;
      }
      const chunk = this.outbox.slice(0, n);
      const byTopic = new Map<string, Message[]>();
      for (const o of chunk) {
        let list = byTopic.get(o.topic);
        if (!list) byTopic.set(o.topic, (list = []));
        list.push(o.message);
      }
      try {
        await this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        this.producerHealthy = true;
      } catch (err) {
        this.producerHealthy = false;
        // The rest of the outbox is kept: it goes out before anything newer, once the brokers answer.
        throw new FraudwatchError('FW_KAFKA_PRODUCE', (err as Error).message, { messages: chunk.length }, { cause: err });
      }
      this.outbox = this.outbox.slice(n);
      const acked = performance.now();
      for (const o of chunk) if (o.receivedAt !== undefined) this.metrics.alertLatency.observe((acked - o.receivedAt) / 1000);
    }
    if (process.env.FRAUDWATCH_FAULT === 'exit-before-commit') {
      // Test hook: die between produce and commit, the window at-least-once must survive.
      this.log.warn('FRAUDWATCH_FAULT=exit-before-commit: exiting before the commit');
      process.exit(86);
    }
    if (interval && performance.now() - this.lastCommit < COMMIT_INTERVAL_MS) return;
    this.lastCommit = performance.now();
    const offsets: { topic: string; partition: number; offset: string }[] = [];
    for (const [partition, offset] of this.commitTargets()) {
      if (offset > (this.committed.get(partition) ?? -1) && this.assigned.has(partition)) {
        offsets.push({ topic: this.config.inputTopic, partition, offset: String(offset) });
      }
    }
    if (offsets.length === 0 || this.consumer === undefined) return;
    try {
      await this.consumer.commitOffsets(offsets);
    } catch (err) {
      throw new FraudwatchError('FW_KAFKA_COMMIT', (err as Error).message, {}, { cause: err });
    }
    for (const o of offsets) this.committed.set(o.partition, Number(o.offset));
  }

  /**
   * An event whose scoring threw: dead-lettered in order with the alerts (committed only once it
   * is produced, as they are), never retried; the next events are scored as usual.
   */
  private deadLetterProcessingError(err: unknown, ev: FraudEvent, tag: Tag): void {
    const source = { topic: this.config.inputTopic, partition: tag.partition, offset: tag.offset };
    this.outbox.push({ topic: this.config.dlqTopic, message: processingErrorDeadLetter(tag.raw.text(tag.index), ev, source, err) });
    this.processingErrors.report(err, { eventId: ev.eventId, partition: tag.partition, offset: tag.offset });
  }

  private queueAlert(alert: Alert, _trigger: FraudEvent, tag: Tag): void {
    const value = JSON.stringify({ ...alert, detectedAt: new Date().toISOString(), source: { topic: this.config.inputTopic, partition: tag.partition, offset: String(tag.offset) } });
    this.outbox.push({
      topic: alert.shadow ? this.config.shadowTopic : this.config.alertsTopic,
      message: { key: alert.accountId ?? alert.ip ?? null, value, headers: { 'fw-detector': alert.detector, 'fw-severity': alert.severity } },
      receivedAt: tag.receivedAt,
    });
  }

  // ---- rules hot reload ----------------------------------------------------------------

  /** Re-reads the rules file; valid rules take effect at the next event, invalid ones are logged and ignored. */
  reloadRules(trigger: string): Promise<void> {
    return this.exclusive(async () => {
      const rules = this.geo.reloaded(reloadRulesFile(this.config.rulesFile, this.geo.parsed, trigger, this.metrics, this.log), this.metrics, trigger);
      if (rules !== undefined) this.pipeline.setRules(rules);
    });
  }

  // ---- health ---------------------------------------------------------------------------

  protected notReadyReason(): string | undefined {
    return this.producerHealthy ? undefined : 'cannot produce to the brokers';
  }

  protected readyReason(): string {
    return 'consuming';
  }

  // ---- helpers ----------------------------------------------------------------------------

  /** Runs `fn` after everything queued before it: batches, idle flushes and reloads never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }
}
