import type { EachBatchPayload, Kafka } from 'kafkajs';
import { Counter } from 'prom-client';
import type { Logger } from 'pino';
import type { Rules } from '../config/rules.js';
import { describeConfig, type DaemonConfig } from '../daemon/config.js';
import { reloadRulesFile } from '../daemon/lifecycle.js';
import { EvictionLog } from '../daemon/evictionLog.js';
import { DaemonMetrics } from '../daemon/metrics.js';
import { KafkaService, type ShutdownStep } from '../daemon/service.js';
import type { KeyKind } from '../detectors/types.js';
import { Stats } from '../engine/stats.js';
import type { FraudwatchError } from '../errors.js';
import { GeoBinding } from '../geo/live.js';
import type { GeoLocator } from '../geo/locator.js';
import { createKafka } from '../kafka/client.js';
import { RecordDecoder, type DecodedRecords } from '../kafka/recordDecoder.js';
import { readChangelog } from './changelog.js';
import { progressMarkers, repartitionBatch, repartitionRoute, type RepartitionRoute } from './repartition.js';
import { StateTask, type DrainedCheck } from './task.js';
import { changelogPartition, ensureTopology, transactionalId, type Topology } from './topics.js';
import { isFenced, TxnProducer, type OutRecord } from './transactions.js';

/** How often consumed repartition records are deleted (as Kafka Streams purges its repartition topics). */
const PURGE_MS = 30_000;
/**
 * A task's transaction spans its batches until this much wall time has passed since its last
 * commit (Kafka Streams' commit.interval.ms under exactly_once_v2), or until it holds
 * COMMIT_MAX_RECORDS output records; the tick (200 ms) commits whatever is left. One transaction
 * per fetched batch cost a transaction's round trips, a set of progress markers and a snapshot of
 * every changed key per batch. Nothing is visible downstream before its commit either way, so
 * only the size of what a crash makes the next owner redo changes, not what it produces.
 */
const COMMIT_INTERVAL_MS = 100;
const COMMIT_MAX_RECORDS = 20_000;
/** Wait before re-initialising a task whose init failed (broker hiccup), doubling to 30 s. */
const INIT_RETRY_MS = 1_000;

type Stage = 'repartition' | 'state';

/** One task: an assigned partition of the input (stage 1) or of a repartition topic (stage 2). */
interface Task {
  readonly id: string;
  readonly stage: Stage;
  readonly topic: string;
  readonly partition: number;
  readonly producer: TxnProducer;
  readonly state: StateTask | undefined;
  /** An account task reading an input partition directly (co-partitioned input). */
  readonly keyed: boolean;
  ready: boolean;
  closed: boolean;
  /** Stage 1: next input offset to read (what is pending included); stage 2 keeps its own. */
  next: number;
  /** Stage 1: output of the batches read since the last commit (committed with offset `next`). */
  pending: OutRecord[];
  /** performance.now() of the task's last commit (or start): when the next one is due. */
  lastCommit: number;
  /** The offset this task committed last. */
  committed: number;
  /** Stage 1: the newest event time read from this input partition (for progress markers). */
  readonly clock: { maxTs: number };
  /** Set after a seek until the first batch fetched from there arrives. */
  seekTo: number | undefined;
  lock: Promise<unknown>;
}

/** Stats of the state tasks that a scrape adds up; stage 1 counts events, the account tasks duplicates. */
const SUMMED = ['alerts', 'alertsBySeverity', 'shadowAlerts', 'alertsByDetectorSeverity', 'suppressedCooldown', 'suppressedAllowlist', 'evictions'] as const;

class StreamsMetrics extends DaemonMetrics {
  /** Co-partitioned input: records dead-lettered because their key is not their accountId (or hashes elsewhere). */
  miskeyedCount = 0;
  private miskeyedSeen = 0;
  private readonly miskeyed = new Counter({
    name: 'fraudwatch_miskeyed_records_total',
    help: 'FRAUDWATCH_INPUT_KEYED=account: records dead-lettered (FW_INPUT_MISKEYED) because their key is not their accountId or is not in the partition it hashes to',
    registers: [this.registry],
  });
  constructor(stats: Stats, private readonly refresh: () => void) {
    super(stats);
  }
  override sync(): void {
    this.refresh();
    super.sync();
    if (this.miskeyedCount > this.miskeyedSeen) {
      this.miskeyed.inc(this.miskeyedCount - this.miskeyedSeen);
      this.miskeyedSeen = this.miskeyedCount;
    }
  }
}

/**
 * `fraudwatch run --processing exactly-once`: the Kafka Streams task model in TypeScript.
 *
 *   input ──stage 1 (stateless, per input partition)──▶ <group>-repartition-account (key accountId)
 *                                                     ▶ <group>-repartition-ip      (key network, logins)
 *                                                     ▶ dead letters
 *   repartition partition ──stage 2 (a task: Pipeline + state)──▶ alerts, <group>-state-changelog
 *
 * One consumer group over the input and both repartition topics splits every partition across
 * the instances. Each task owns a transactional producer whose id is bound to its partition, and
 * each batch is one transaction: its output records plus its consumed offsets (sendOffsets).
 * Stage-2 state is snapshotted per changed key into the compacted changelog in the same
 * transaction, and restored, before any processing, by whichever instance gets the partition next.
 *
 * With co-partitioned input (FRAUDWATCH_INPUT_KEYED=account) there is no stage 1 and no account
 * repartition topic: each input partition is an account task (StateTask with `keyed`) that does
 * stage 1's work for its own records and forwards only what IP detectors read.
 */
export class StreamsRunner extends KafkaService {
  /** The transactional producers' client: see the constructor. */
  private readonly txnKafka: Kafka;
  private topology!: Topology;
  private rules: Rules;
  /** The rules as parsed, bound to the geolocation data in use (a database swap changes rulesVersion). */
  private readonly geo: GeoBinding;
  private route: RepartitionRoute;
  private readonly tasks = new Map<string, Task>();
  private assignment = new Set<string>();
  protected readonly metrics: StreamsMetrics;
  private readonly stage1Stats = new Stats();
  private readonly retired = new Stats();
  private readonly aggregate = new Stats();
  private readonly evictionLog: EvictionLog;
  /** The latest lag check of stage 1: input partitions it has read to their end (see pollDrained). */
  private drained: DrainedCheck | undefined;
  private lastPurge = Date.now();
  private readonly purged = new Map<string, number>();
  private polling = false;
  /** Bumped on every group join: tells a waiting task whether the group moved on meanwhile. */
  private generation = 0;
  private producersHealthy = true;
  /** Co-partitioned input's values are decoded on a thread of their own (src/kafka/recordDecoder.ts). */
  private readonly decoder: RecordDecoder;
  protected readonly shutdownTimeoutMessage =
    'shutdown took longer than 10 s; exiting without a clean disconnect (the next owner of each partition restores from the last commit)';

  constructor(
    config: DaemonConfig,
    rules: Rules,
    private readonly locator: GeoLocator,
    log: Logger,
  ) {
    super(config, log);
    // kafkajs logs every retried CONCURRENT_TRANSACTIONS between back-to-back transactions
    // (kafkajs#1315), several per commit: noise that would bury real warnings. The producers'
    // own client is quiet; TxnProducer reports what actually fails, with a code.
    this.txnKafka = createKafka(config, log.child({ component: 'txn' }, { level: 'error' }));
    this.geo = new GeoBinding(rules, locator, log);
    this.rules = this.geo.rules;
    this.route = repartitionRoute(rules);
    this.metrics = new StreamsMetrics(this.aggregate, () => this.refreshStats());
    this.evictionLog = new EvictionLog(log);
    this.metrics.rulesInfo.set({ version: this.rules.version }, 1);
    this.geo.attach(this.metrics, () => this.applyRules(this.geo.rules));
    this.decoder = new RecordDecoder(log);
  }

  protected startInfo(): Record<string, unknown> {
    return { config: describeConfig(this.config), rulesVersion: this.rules.version, processing: 'exactly_once' };
  }

  protected async connect(): Promise<void> {
    await this.admin.connect();
    this.topology = await ensureTopology(this.admin, this.config, this.log);
    this.log.info({ topology: this.topology }, 'topology ready');
  }

  protected flushSteps(): readonly ShutdownStep[] {
    return [
      // Commits what idle flushes scored since; events still buffered stay uncommitted.
      ['final commits', () => Promise.all([...this.tasks.values()].map((t) => this.exclusive(t, () => (t.state === undefined ? this.commitStage1(t) : this.commitState(t)))))],
      ['producers', () => Promise.all([...this.tasks.values()].map((t) => this.closeTask(t, 'shutdown')))],
      ['decode thread', () => this.decoder.close()],
    ];
  }

  protected logStopped(): void {
    this.log.info('stopped; events still in reorder buffers were not committed and will be read again by the next owner');
  }

  // ---- consumer and assignment ------------------------------------------------------------

  protected async startConsumer(): Promise<void> {
    const consumer = this.newConsumer({
      maxWaitTimeInMs: 500,
      // Restores run beside the consumer; the rebalance timeout bounds how long a join may wait for members.
      rebalanceTimeout: Math.max(60_000, this.config.sessionTimeoutMs),
      readUncommitted: false,
    });
    const ev = consumer.events;
    consumer.on(ev.GROUP_JOIN, (e) => {
      this.joined = true;
      this.generation++;
      const assigned: string[] = [];
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) for (const p of partitions as number[]) assigned.push(`${topic}:${p}`);
      this.log.info({ assignment: e.payload.memberAssignment, generation: e.payload.groupProtocol, leader: e.payload.isLeader }, 'joined consumer group');
      void this.onAssignment(new Set(assigned));
    });
    consumer.on(ev.END_BATCH_PROCESS, (e) => {
      // A batch of transaction markers or aborted records only never reaches eachBatch; stage 1
      // still commits past it (see repartition).
      // firstOffset null: nothing at or past the fetch offset (compacted away), nothing to pass.
      if (e.payload.batchSize !== 0 || e.payload.firstOffset === null) return;
      const t = this.tasks.get(`${e.payload.topic}:${e.payload.partition}`);
      if (t === undefined || !(t.stage === 'repartition' || t.keyed) || !t.ready || t.closed || t.seekTo !== undefined) return;
      const end = Number(e.payload.lastOffset) + 1;
      void this.exclusive(t, async () => {
        if (t.closed) return;
        try {
          if (t.stage === 'repartition') {
            if (end > t.next) await this.repartition(t, [], end);
          } else if (end > t.state!.next) {
            t.state!.handle([], end);
            if (this.commitDue(t, t.state!.pendingRecords())) await this.commitState(t);
          }
        } catch (err) {
          void this.resetTask(t, err);
        }
      });
    });
    await this.withBackoff('subscribe', async () => {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.topology.input], fromBeginning: this.config.fromBeginning });
      // Co-partitioned input: the input partitions are the account tasks; only the IP topic is read back.
      const repartitioned = this.topology.keyedInput ? [this.topology.repartition.ip] : [this.topology.repartition.account, this.topology.repartition.ip];
      await consumer.subscribe({ topics: repartitioned, fromBeginning: true });
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Several tasks in flight: one task's transaction round trips overlap another's scoring.
      partitionsConsumedConcurrently: 4,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /** A new consumer means a new generation: every task is claimed and restored again. */
  protected override async beforeConsumerRestart(): Promise<void> {
    await Promise.all([...this.tasks.values()].map((t) => this.closeTask(t, 'consumer restart')));
  }

  /**
   * A new generation: tasks no longer assigned are closed (their state dropped: the next owner
   * restores it from the changelog); new ones are claimed, restored, then started. Tasks kept
   * from the previous generation keep their state, unless someone else committed for them in
   * between (then their state is stale and they are restored afresh).
   */
  private async onAssignment(assigned: Set<string>): Promise<void> {
    this.assignment = assigned;
    // New tasks exist (not ready) before anything is awaited, so a batch that kafkajs delivers
    // for them meanwhile pauses their partition instead of being fetched again and again.
    const fresh: Task[] = [];
    for (const id of assigned) if (!this.tasks.has(id)) fresh.push(this.createTask(id));
    const closing: Promise<void>[] = [];
    for (const t of this.tasks.values()) if (!assigned.has(t.id)) closing.push(this.closeTask(t, 'revoked'));
    await Promise.all(closing);
    const kept = [...this.tasks.values()].filter((t) => assigned.has(t.id) && t.ready && !fresh.includes(t));
    if (kept.length > 0) {
      try {
        const committed = await this.fetchCommitted();
        for (const t of kept) {
          const c = committed.get(t.id);
          if (c !== undefined && c !== t.committed) {
            this.log.info({ task: t.id, ours: t.committed, group: c }, 'another instance committed for this task meanwhile; restoring it afresh');
            await this.closeTask(t, 'stale');
            fresh.push(this.createTask(t.id));
          }
        }
      } catch (err) {
        this.log.warn({ err }, 'cannot verify kept tasks; restoring them afresh');
        for (const t of kept) {
          await this.closeTask(t, 'unverified');
          fresh.push(this.createTask(t.id));
        }
      }
    }
    if (fresh.length > 0) await this.initTasks(fresh.filter((t) => !t.closed));
  }

  private createTask(id: string): Task {
    const sep = id.lastIndexOf(':');
    const topic = id.slice(0, sep);
    const partition = Number(id.slice(sep + 1));
    const keyed = topic === this.topology.input && this.topology.keyedInput;
    const stage: Stage = topic === this.topology.input && !keyed ? 'repartition' : 'state';
    const kind: KeyKind | undefined = stage === 'repartition' ? undefined : keyed || topic === this.topology.repartition.account ? 'account' : 'ip';
    const state =
      kind === undefined
        ? undefined
        : new StateTask({
            kind,
            topic,
            partition,
            changelogTopic: this.topology.changelog,
            changelogPartition: changelogPartition(this.topology, kind, partition),
            inputTopic: this.topology.input,
            inputPartitions: this.topology.inputPartitions,
            budgetShares: this.topology.partitions,
            alertsTopic: this.config.alertsTopic,
            shadowTopic: this.config.shadowTopic,
            dlqTopic: this.config.dlqTopic,
            rules: this.rules,
            locator: this.locator,
            latenessMs: this.config.latenessMs,
            idleMs: this.config.idleMs,
            log: this.log,
            keyed: keyed
              ? { topology: this.topology, route: () => this.route, stats: this.stage1Stats, onMiskeyed: () => this.metrics.miskeyedCount++ }
              : undefined,
          });
    const task: Task = {
      id,
      stage,
      topic,
      partition,
      producer: new TxnProducer(this.txnKafka, transactionalId(this.config.groupId, topic, partition), this.config.groupId, this.log),
      state,
      keyed,
      ready: false,
      closed: false,
      next: 0,
      pending: [],
      lastCommit: performance.now(),
      committed: -1,
      seekTo: undefined,
      clock: { maxTs: Number.NEGATIVE_INFINITY },
      lock: Promise.resolve(),
    };
    this.tasks.set(id, task);
    return task;
  }

  /**
   * Claim → read committed offsets → restore → start, for a set of tasks at once (one changelog
   * read for all of them). The order is what makes it sound: once the transactional ids are
   * claimed, no previous owner can commit, so the offsets and the changelog read next are final.
   */
  private async initTasks(tasks: Task[], attempt = 0): Promise<void> {
    const started = Date.now();
    try {
      await Promise.all(tasks.map((t) => t.producer.claim()));
      const committed = await this.fetchCommitted();
      const stateTasks = tasks.filter((t) => t.state !== undefined);
      const logs = await readChangelog(
        this.kafka,
        this.admin,
        this.topology.changelog,
        stateTasks.map((t) => changelogPartition(this.topology, t.state!.kind, t.partition)),
        this.log,
      );
      const inputEnds = tasks.some((t) => (t.stage === 'repartition' || t.keyed) && !committed.has(t.id)) ? await this.admin.fetchTopicOffsets(this.topology.input) : [];
      let restoredKeys = 0;
      for (const t of tasks) {
        if (t.closed) continue;
        const c = committed.get(t.id);
        let start: number;
        if (t.state !== undefined) {
          // A keyed task with nothing committed starts where a new group starts on the input.
          const end = t.keyed ? inputEnds.find((o) => o.partition === t.partition) : undefined;
          const freshStart = end === undefined ? 0 : this.config.fromBeginning ? Number(end.low) : Number(end.high);
          const { start: s, summary } = t.state.restore(logs.get(changelogPartition(this.topology, t.state.kind, t.partition))!, c, freshStart);
          start = s;
          t.committed = t.state.committed;
          restoredKeys += summary.keys;
          this.log.info({ task: t.id, ...summary, committed: t.committed, start }, 'task state restored');
        } else if (c !== undefined) {
          start = c;
          t.committed = c;
        } else {
          const end = inputEnds.find((o) => o.partition === t.partition);
          start = this.config.fromBeginning ? Number(end?.low ?? 0) : Number(end?.high ?? 0);
          // Commit the starting point right away, with markers saying so: stage 2 treats an input
          // partition as drained only once its offset is committed and its marker up to that
          // offset received, so an empty partition must not stay "unknown".
          await t.producer.commit(progressMarkers(t.partition, start, Number.NEGATIVE_INFINITY, this.topology), [{ topic: t.topic, partition: t.partition, offset: start }]);
          t.committed = start;
        }
        t.next = start;
        if (t.closed) continue;
        t.seekTo = start;
        this.consumer?.seek({ topic: t.topic, partition: t.partition, offset: String(start) });
        t.ready = true;
        // Always resume: the partition may have been paused for an earlier incarnation of this
        // task (closed by a failed init, a rebalance or a failed commit), whose flag died with it.
        this.consumer?.resume([{ topic: t.topic, partitions: [t.partition] }]);
      }
      this.producersHealthy = true;
      this.log.info({ tasks: tasks.map((t) => t.id), restoredKeys, ms: Date.now() - started }, 'tasks started');
    } catch (err) {
      this.log.error({ err, tasks: tasks.map((t) => t.id), attempt }, 'starting tasks failed; retrying');
      this.producersHealthy = false;
      const retry: Task[] = [];
      for (const t of tasks) {
        if (t.closed) continue;
        await this.closeTask(t, 'init failed');
        if (this.assignment.has(t.id)) retry.push(this.createTask(t.id));
      }
      if (retry.length > 0 && !this.stopping) {
        await new Promise((r) => setTimeout(r, Math.min(INIT_RETRY_MS * 2 ** attempt, 30_000)));
        if (!this.stopping) await this.initTasks(retry.filter((t) => !t.closed), attempt + 1);
      }
    }
  }

  /** The group's committed offset per task id (absent: none committed). */
  private async fetchCommitted(): Promise<Map<string, number>> {
    const topics = this.topology.keyedInput ? [this.topology.input, this.topology.repartition.ip] : [this.topology.input, this.topology.repartition.account, this.topology.repartition.ip];
    const res = await this.admin.fetchOffsets({ groupId: this.config.groupId, topics });
    const out = new Map<string, number>();
    for (const t of res) for (const p of t.partitions) if (Number(p.offset) >= 0) out.set(`${t.topic}:${p.partition}`, Number(p.offset));
    return out;
  }

  /** Drops a task: its producer is closed, its in-memory state forgotten, its stats kept for metrics. */
  private async closeTask(t: Task, why: string): Promise<void> {
    if (t.closed) return;
    t.closed = true;
    t.ready = false;
    if (this.tasks.get(t.id) === t) this.tasks.delete(t.id);
    await t.lock.catch(() => undefined);
    if (t.state !== undefined) {
      this.retire(t.state);
      this.metrics.forgetProgress(t.id);
    }
    await t.producer.close().catch((err: unknown) => this.log.warn({ err, task: t.id }, 'closing a task producer failed'));
    this.log.debug({ task: t.id, why }, 'task closed');
  }

  /**
   * A failed transaction leaves the task's memory ahead of what is committed, so it cannot just
   * go on: it is closed and, if still ours, restored from the changelog and re-read from its
   * committed offset.
   *
   * Fenced means another producer claimed the task's transactional id. Usually the group moved
   * the task and we will hear of it at the next heartbeat; then the task stays closed. But an
   * instance the group already dropped can claim a task it no longer owns (retrying its own
   * restore) before it hears of the new generation: if the group still gives us the task after
   * a couple of heartbeats, we take it back, or nobody would ever process that partition.
   */
  private async resetTask(t: Task, err: unknown): Promise<void> {
    const fenced = isFenced(err);
    this.log[fenced ? 'warn' : 'error']({ err, task: t.id, code: (err as FraudwatchError).code }, fenced ? 'task fenced by another instance; dropping it' : 'task commit failed; restoring the task from its last commit');
    if (!fenced) this.producersHealthy = false;
    await this.closeTask(t, fenced ? 'fenced' : 'commit failed');
    if (!this.assignment.has(t.id) || this.stopping) return;
    const generation = this.generation;
    // In the map but not ready: batches for it pause its partition, and onAssignment leaves it to us.
    const fresh = this.createTask(t.id);
    // Fenced: wait three heartbeats, so that a rebalance which moved the task reaches us first.
    await new Promise((r) => setTimeout(r, fenced ? 3 * this.config.heartbeatMs + INIT_RETRY_MS : INIT_RETRY_MS));
    while (!this.joined && !this.stopping && !fresh.closed) await new Promise((r) => setTimeout(r, 200));
    if (fresh.closed || this.stopping) return;
    if (!this.assignment.has(t.id)) {
      await this.closeTask(fresh, 'revoked');
      return;
    }
    if (fenced && generation === this.generation) this.log.warn({ task: t.id }, 'the group still assigns us a task another instance claimed; taking it back');
    await this.initTasks([fresh]);
  }

  // ---- processing -------------------------------------------------------------------------

  private async onBatch({ batch, isStale, pause, resolveOffset }: EachBatchPayload): Promise<void> {
    const t = this.tasks.get(`${batch.topic}:${batch.partition}`);
    if (t === undefined || t.closed) return;
    if (!t.ready) {
      // Never process a partition before its state is restored: hold it until init resumes it.
      pause();
      return;
    }
    if (isStale()) return;
    if (t.seekTo !== undefined) {
      const fetched = Number((batch as unknown as { fetchedOffset: string }).fetchedOffset);
      if (fetched < t.seekTo) return; // fetched before the seek took effect
      if (fetched > t.seekTo) this.log.error({ task: t.id, from: t.seekTo, fetched, code: 'FW_INTERNAL' }, 'records between the committed offset and the fetch position are gone (topic retention?)');
      t.seekTo = undefined;
    }
    // A keyed task reads the input itself: its batch is decoded on the decode thread while this
    // thread scores the batches of the other tasks in flight (partitionsConsumedConcurrently),
    // and awaited inside the task's turn, where a wait on the task's lock already was.
    const decoded = t.keyed ? this.decoder.decode(batch.messages.map((m) => m.value)) : undefined;
    await this.exclusive(t, async () => {
      if (t.closed) return;
      let records: DecodedRecords | undefined;
      if (decoded !== undefined) {
        records = await decoded;
        if (t.closed) return;
      }
      const started = performance.now();
      try {
        if (t.stage === 'repartition') await this.repartition(t, batch.messages, Number(batch.lastOffset()) + 1);
        else {
          t.state!.handle(batch.messages, t.keyed ? Number(batch.lastOffset()) + 1 : undefined, records?.results);
          if (this.commitDue(t, t.state!.pendingRecords())) await this.commitState(t);
        }
      } catch (err) {
        void this.resetTask(t, err);
        return;
      }
      // Moves kafkajs's fetch position only (autoCommit is off): what the group commits is
      // decided by the task, inside its transactions.
      resolveOffset(batch.lastOffset());
      this.metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(batch.highWatermark) - Number(batch.lastOffset()) - 1));
      this.metrics.batchSeconds.observe((performance.now() - started) / 1000);
    });
  }

  /**
   * Stage 1: forwards a batch and commits past it. `end` is the batch's end offset, past any
   * transaction markers and aborted records that follow its last message (an upstream producer
   * with transactions leaves a marker after every transaction): committing only past the last
   * message would leave a quiet partition never read to its end, so it would hold every task's
   * event time back for as long as it stays quiet.
   */
  private async repartition(t: Task, messages: EachBatchPayload['batch']['messages'], end: number): Promise<void> {
    const fresh = messages.filter((m) => Number(m.offset) >= t.next);
    const next = Math.max(end, fresh.length > 0 ? Number(fresh[fresh.length - 1]!.offset) + 1 : 0);
    if (next <= t.next) return;
    const records = repartitionBatch(fresh, t.partition, this.topology, this.config.dlqTopic, this.route, this.stage1Stats, t.clock);
    for (const r of records) t.pending.push(r);
    t.next = next;
    if (this.commitDue(t, t.pending.length)) await this.commitStage1(t);
  }

  /** Is a task's open transaction due: the commit interval passed, or enough output waits in it. */
  private commitDue(t: Task, records: number): boolean {
    return records >= COMMIT_MAX_RECORDS || performance.now() - t.lastCommit >= COMMIT_INTERVAL_MS;
  }

  /**
   * Stage 1's transaction: what the batches read since the last commit forwarded, then progress
   * markers to every task saying the input partition was read below `next`, and the input offset.
   */
  private async commitStage1(t: Task): Promise<void> {
    if (t.closed || !t.ready || t.next <= t.committed) return;
    const next = t.next;
    const records = t.pending;
    // Markers to every task, after the events: a task's watermark waits for each input
    // partition, and an input keyed like the repartition topics (by accountId) sends an account
    // task events from only one of them. Without markers the others would hold it back until
    // stage 1 had read everything.
    for (const m of progressMarkers(t.partition, next, t.clock.maxTs, this.topology)) records.push(m);
    t.pending = [];
    await t.producer.commit(records, [{ topic: t.topic, partition: t.partition, offset: next }]);
    t.committed = next;
    t.lastCommit = performance.now();
    this.producersHealthy = true;
  }

  /** One transaction: the task's alerts, changed keys, position record and committed offset. */
  private async commitState(t: Task): Promise<void> {
    const s = t.state;
    if (s === undefined || t.closed || !t.ready || !s.hasWork()) return;
    const c = s.prepareCommit({ topic: t.topic, partition: t.partition });
    await t.producer.commit(c.records, c.offsets);
    c.done();
    t.committed = s.committed;
    t.lastCommit = performance.now();
    this.producersHealthy = true;
  }

  /**
   * Per task: stage 1's latest lag check, caught-up input partitions, the quiet flush, progress
   * gauges; the only place the wall clock touches event processing (through lag evidence).
   */
  protected async onTick(): Promise<void> {
    if (this.stopping) return;
    const now = Date.now();
    const stateTasks = [...this.tasks.values()].filter((t) => t.state !== undefined && t.ready);
    for (const t of this.tasks.values()) {
      // Stage 1's open transactions: read input is committed within a tick of its commit interval.
      if (t.state !== undefined || !t.ready || t.next <= t.committed) continue;
      void this.exclusive(t, async () => {
        try {
          await this.commitStage1(t);
        } catch (err) {
          void this.resetTask(t, err);
        }
      });
    }
    if (stateTasks.length > 0 && !this.polling) void this.pollDrained();
    const check = this.drained;
    for (const t of stateTasks) {
      void this.exclusive(t, async () => {
        if (t.closed || !t.ready) return;
        const s = t.state!;
        const before = s.pipeline.stats.processed + s.pipeline.stats.duplicates;
        s.tick(Date.now(), check);
        this.metrics.setProgress(
          t.id,
          s.pipeline.watermark(),
          [...s.pipeline.sourceClocks()].map(([p, c]) => ({ partition: p, ts: c.maxTs, caughtUp: s.progress.lag(p as number) === 'caught_up' })),
        );
        if (s.pipeline.stats.processed + s.pipeline.stats.duplicates !== before) s.markDirty();
        try {
          await this.commitState(t);
        } catch (err) {
          void this.resetTask(t, err);
        }
      });
    }
    if (now - this.lastPurge >= PURGE_MS) {
      this.lastPurge = now;
      void this.purge(stateTasks);
    }
    this.metrics.buffered.set(stateTasks.reduce((n, t) => n + t.state!.pipeline.buffered, 0));
    let accounts = 0;
    let ips = 0;
    for (const t of stateTasks) {
      const k = t.state!.pipeline.core.keyCounts();
      accounts += k.account;
      ips += k.ip;
    }
    this.metrics.trackedKeys.set({ kind: 'account' }, accounts);
    this.metrics.trackedKeys.set({ kind: 'ip' }, ips);
    // Each state task holds its share of the budget for its own kind.
    const budget = { account: 0, ip: 0 };
    for (const t of stateTasks) budget[t.state!.kind] += t.state!.pipeline.core.budget()[t.state!.kind];
    this.metrics.stateBudget.set({ kind: 'account' }, budget.account);
    this.metrics.stateBudget.set({ kind: 'ip' }, budget.ip);
    this.refreshStats();
    this.evictionLog.check(this.aggregate.evictions, budget);
  }

  /**
   * Deletes repartition records no restore will read again (below each task's committed dedupe
   * start): the repartition topics would otherwise keep a copy of the whole input for the
   * broker's retention. Best effort: a failure only leaves the records for the next round.
   */
  private async purge(tasks: Task[]): Promise<void> {
    for (const t of tasks) {
      // A keyed task's partition is the input itself: never ours to delete.
      if (t.closed || !t.ready || t.keyed) continue;
      const before = t.state!.purgeableBefore;
      if (before <= (this.purged.get(t.id) ?? 0)) continue;
      try {
        await this.admin.deleteTopicRecords({ topic: t.topic, partitions: [{ partition: t.partition, offset: String(before) }] });
        this.purged.set(t.id, before);
      } catch (err) {
        this.log.debug({ err, task: t.id }, 'purging consumed repartition records failed; will retry');
      }
    }
  }

  /**
   * Which input partitions stage 1 has read to their end, with the offset it committed there, as
   * of the instant the check was issued: a stage-2 task that has received stage 1's marker up to
   * that offset had every event of the partition at that instant (src/streams/sourceGroup.ts).
   */
  private async pollDrained(): Promise<void> {
    this.polling = true;
    const askedAt = Date.now();
    try {
      const [committed, inputEnds] = await Promise.all([
        this.admin.fetchOffsets({ groupId: this.config.groupId, topics: [this.topology.input] }),
        this.admin.fetchTopicOffsets(this.topology.input),
      ]);
      const drained = new Map<number, number>();
      const done = new Map(committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
      for (const e of inputEnds) {
        // Co-partitioned input: stage 1's work is done by the account tasks, whose committed
        // offsets wait for their reorder buffers; what a task needs is to have read (its own
        // partition) or received the markers of (the IP tasks) everything up to the end.
        if (this.topology.keyedInput) {
          drained.set(e.partition, Number(e.high));
          continue;
        }
        const at = done.get(e.partition) ?? -1;
        if (at >= Number(e.high)) drained.set(e.partition, at);
      }
      this.drained = { ok: true, askedAt, drained };
      this.brokersAccepted();
    } catch (err) {
      this.drained = { ok: false, askedAt, drained: new Map() };
      if (!this.authRefused(err)) this.log.debug({ err }, 'lag check failed; input partitions hold back event time');
    } finally {
      this.polling = false;
    }
  }

  // ---- stats, rules, health ---------------------------------------------------------------

  private retire(s: StateTask): void {
    addStats(this.retired, s.pipeline.stats, s.kind === 'account');
  }

  private refreshStats(): void {
    const a = this.aggregate;
    resetStats(a);
    const s1 = this.stage1Stats;
    a.read = s1.read;
    a.valid = s1.valid;
    Object.assign(a.byType, s1.byType);
    Object.assign(a.invalid, s1.invalid);
    addStats(a, this.retired, true);
    for (const t of this.tasks.values()) if (t.state !== undefined) addStats(a, t.state.pipeline.stats, t.state.kind === 'account');
  }

  reloadRules(trigger: string): void {
    const rules = this.geo.reloaded(reloadRulesFile(this.config.rulesFile, this.geo.parsed, trigger, this.metrics, this.log), this.metrics, trigger);
    if (rules !== undefined) this.applyRules(rules);
  }

  private applyRules(rules: Rules): void {
    this.rules = rules;
    this.route = repartitionRoute(rules);
    for (const t of this.tasks.values()) {
      // Under the task's lock: the next released event of each task is scored with the new rules.
      if (t.state !== undefined) void this.exclusive(t, async () => t.state!.pipeline.setRules(rules));
    }
  }

  protected notReadyReason(): string | undefined {
    const restoring = [...this.tasks.values()].filter((t) => !t.ready).length;
    if (restoring > 0) return `restoring ${restoring} task(s)`;
    return this.producersHealthy ? undefined : 'cannot commit transactions to the brokers';
  }

  protected readyReason(): string {
    return `processing ${this.tasks.size} task(s)`;
  }

  /** Per task: batches, ticks, reloads and closing never interleave. */
  private exclusive<T>(t: Task, fn: () => Promise<T>): Promise<T> {
    const run = t.lock.then(fn, fn);
    t.lock = run.catch(() => undefined);
    return run;
  }
}

function resetStats(s: Stats): void {
  s.read = s.valid = s.processed = s.duplicates = s.late = s.processingErrors = 0;
  for (const o of [s.byType, s.invalid, ...SUMMED.map((k) => s[k])] as Record<string, number>[]) for (const k of Object.keys(o)) o[k] = 0;
}

/** Adds a task's counters; only account tasks add duplicates and processed (IP tasks see logins again). */
function addStats(into: Stats, from: Stats, countEvents: boolean): void {
  into.late += from.late;
  // Both kinds: a login that fails in an account task and in an IP task was two failures.
  into.processingErrors += from.processingErrors;
  if (countEvents) {
    into.duplicates += from.duplicates;
    into.processed += from.processed;
  }
  for (const k of SUMMED) {
    const dst = into[k] as Record<string, number>;
    for (const [key, n] of Object.entries(from[k] as Record<string, number>)) dst[key] = (dst[key] ?? 0) + n;
  }
}
