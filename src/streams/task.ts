import type { KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { Alert } from '../alerts/alert.js';
import type { Rules } from '../config/rules.js';
import type { KeyKind } from '../detectors/types.js';
import { Pipeline } from '../engine/pipeline.js';
import { decodeEvent } from '../events/decode.js';
import type { DecodeResult, FraudEvent } from '../events/types.js';
import type { GeoLocator } from '../geo/locator.js';
import { processingErrorDeadLetter, ProcessingErrorLog } from '../kafka/deadLetter.js';
import type { PartitionLog } from './changelog.js';
import { createRequire } from 'node:module';
import type { Stats } from '../engine/stats.js';
import type { ErrorCode } from '../errors.js';
import { deadLetterMessage, DLQ_HEADERS } from '../kafka/deadLetter.js';
import { MAX_EVENT_BYTES, progressMarkers, SOURCE_HEADERS, type RepartitionRoute } from './repartition.js';
import type { Topology } from './topics.js';
import { decodeKeySnapshot, decodeTaskRecord, encodeKeySnapshot, encodeTaskRecord, parseStateKey, RangeCursor, stateKey, TASK_KEY, toRanges, type TaskRecord } from './snapshot.js';
import { SourceGroup } from './sourceGroup.js';
import type { OffsetToCommit, OutRecord } from './transactions.js';

/** Where an event came from; travels with it through the reorder buffer. */
interface Tag {
  /** Offset in the repartition partition. */
  readonly offset: number;
  /** The input partition and offset the event was first read from (the alert's `source`). */
  readonly origin: number;
  readonly originOffset: string;
  readonly receivedAt: number;
  /** The record's value as decoded (the input record's bytes): dead-lettered with it should its scoring fail. */
  readonly raw: string;
}

export interface StateTaskOptions {
  readonly kind: KeyKind;
  readonly topic: string;
  readonly partition: number;
  readonly changelogTopic: string;
  readonly changelogPartition: number;
  readonly inputTopic: string;
  readonly inputPartitions: number;
  /** Partitions of the task's repartition topic: the task holds that share of the state budget (default 1). */
  readonly budgetShares?: number;
  readonly alertsTopic: string;
  readonly shadowTopic: string;
  /**
   * Where events whose scoring throws are dead-lettered; the input topic's `.dlq` (the default
   * dead-letter topic) when not given.
   */
  readonly dlqTopic?: string;
  readonly rules: Rules;
  readonly locator: GeoLocator;
  readonly latenessMs: number | undefined;
  /** The wall-clock grace applied to lag evidence (`--idle-timeout`). */
  readonly idleMs: number;
  readonly log: Logger;
  /** Set for an account task that reads an input partition directly (FRAUDWATCH_INPUT_KEYED=account). */
  readonly keyed?: KeyedInput;
}

/**
 * What a co-partitioned account task needs to do stage 1's work for its own input partition:
 * dead-letter invalid and mis-keyed records, forward the logins IP detectors read to the IP
 * tasks with progress markers, and count what it read.
 */
export interface KeyedInput {
  readonly topology: Topology;
  /** The route of the rules in effect (it changes on a hot reload). */
  readonly route: () => RepartitionRoute;
  /** Stage 1's counters (read, valid, invalid, by type), shared by the runner's tasks. */
  readonly stats: Stats;
  /** A record dead-lettered because its key is not its accountId or it is in another partition than the key's. */
  readonly onMiskeyed: () => void;
}

/** The dead-letter reason (and error code) of a record of co-partitioned input keyed otherwise. */
export const MISKEYED_REASON = 'not_keyed_by_account';
export const MISKEYED_CODE: ErrorCode = 'FW_INPUT_MISKEYED';

const require = createRequire(import.meta.url);
/** kafkajs's DefaultPartitioner hash: murmur2 as in the Java client, so Java producers place keys alike. */
const murmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: Buffer | string) => number;

/** The partition the Java-compatible default partitioner (Java clients, kafkajs DefaultPartitioner) gives a key. */
export function keyPartition(key: Buffer | string, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/**
 * The latest lag check of stage 1 (runner.pollDrained): per input partition, the offset stage 1
 * had committed once it had read the partition to its end (absent: not read to its end), as of
 * wall clock `askedAt`; `ok` false when the check failed.
 */
export interface DrainedCheck {
  readonly ok: boolean;
  readonly askedAt: number;
  readonly drained: ReadonlyMap<number, number>;
}

export interface RestoreSummary {
  readonly keys: number;
  readonly corrupt: number;
  readonly droppedStates: number;
  readonly hadTaskRecord: boolean;
}

/** What one commit of a task carries. */
export interface TaskCommit {
  readonly records: OutRecord[];
  readonly offsets: OffsetToCommit[];
  /** Called once the transaction committed. */
  readonly done: () => void;
}

/**
 * Stage 2: one partition of a repartition topic with its own Pipeline (reorder buffer, dedupe,
 * engine restricted to one key kind) and its own state. All events of a key land in one partition,
 * so per-task event-time order gives the same alerts as one global order.
 *
 * Each commit writes, in one transaction: the alerts, the snapshots of the keys that changed (and
 * tombstones of keys that expired), a `__task__` record with the task's position, and the offset
 * of the earliest event still buffered. A restore replays exactly that.
 */
export class StateTask {
  readonly pipeline: Pipeline<Tag>;
  private readonly log: Logger;
  private outbox: OutRecord[] = [];
  /** Next offset to read (the committed one on start, then past every record handed to us). */
  next = 0;
  /** The offset committed last (the group's view of this task). */
  committed = 0;
  /** Offsets at or above `committed` already released from the buffer (scored or dropped as duplicates). */
  private releasedAbove: number[] = [];
  /** From a restore: offsets above the committed one processed before the crash, skipped on re-read. */
  private skip: RangeCursor | undefined;
  /** Offsets below this are re-read only to remember their eventIds (dedupe rebuild). */
  private rebuildUntil = 0;
  /** (committed offset, last released ts) per commit, to find where the dedupe horizon starts. */
  private history: [number, number][] = [];
  private dedupeFrom = 0;
  /** Which input partitions (origins) hold back this task's event time (src/streams/sourceGroup.ts). */
  readonly progress: SourceGroup<number>;
  /** Per input partition: every event stage 1 forwarded from below this input offset has been read. */
  private readonly received = new Map<number, number>();
  private positionDirty = true;
  /** Keyed input: the input offset below which stage-1 output (dead letters, IP forwards) is committed or pending. */
  private routed = 0;
  /** Keyed input: newest event time read from the partition (progress markers to the IP tasks, and the watermark). */
  private readonly clock = { maxTs: Number.NEGATIVE_INFINITY };
  /** The input partitions that hold back this task's event time. */
  private readonly sources: readonly number[];
  private lateReported = 0;
  private readonly processingErrors: ProcessingErrorLog;
  errors = 0;

  constructor(private readonly o: StateTaskOptions) {
    this.log = o.log.child({ task: `${o.topic}-${o.partition}` });
    this.pipeline = new Pipeline<Tag>({
      rules: o.rules,
      locator: o.locator,
      latenessMs: o.latenessMs,
      keyKind: o.kind,
      budgetShares: o.budgetShares,
      onAlert: (alert, _trigger, tag) => this.queueAlert(alert, tag),
      onProcessingError: (err, ev, tag) => this.deadLetterProcessingError(err, ev, tag),
      onReleased: (tag) => {
        if (tag.offset >= this.committed) this.releasedAbove.push(tag.offset);
      },
    });
    this.pipeline.core.trackChanges();
    this.processingErrors = new ProcessingErrorLog(this.log);
    // The watermark waits for every input partition: an account's events may come from any of
    // them (upstream keys are arbitrary), and stage-1 tasks progress at their own pace. A new or
    // restored task knows nothing of them yet, exactly like one started fresh.
    // Co-partitioned input: every event of an account is in this task's own input partition, so
    // that partition alone holds back its event time, as in a Kafka Streams task.
    this.progress = new SourceGroup(o.idleMs);
    this.sources = o.keyed !== undefined ? [o.partition] : Array.from({ length: o.inputPartitions }, (_, p) => p);
    const now = Date.now();
    for (const p of this.sources) {
      this.pipeline.addSource(p);
      this.progress.add(p, now);
    }
  }

  get kind(): KeyKind {
    return this.o.kind;
  }

  /**
   * Loads the task's changelog partition (latest value per key) and its committed offset.
   * Returns the offset to start reading from: the dedupe rebuild point, at or before `committed`.
   */
  restore(log: PartitionLog, groupCommitted: number | undefined, freshStart = 0): { start: number; summary: RestoreSummary } {
    const engine = this.pipeline.core;
    let keys = 0;
    let corrupt = 0;
    let droppedStates = 0;
    let record: TaskRecord | undefined;
    for (const [k, value] of log) {
      if (k === TASK_KEY) {
        if (value === null) continue;
        try {
          record = decodeTaskRecord(value);
        } catch (err) {
          this.log.error({ err: (err as Error).message, code: 'FW_STATE_CORRUPT' }, 'corrupt task record ignored: the task restarts from its committed offset without a position');
        }
        continue;
      }
      if (value === null) continue;
      const parsed = parseStateKey(k);
      if (parsed === undefined || parsed.kind !== this.o.kind) {
        corrupt++;
        this.log.error({ key: k.slice(0, 80), code: 'FW_STATE_CORRUPT' }, 'changelog record with an unknown key skipped');
        continue;
      }
      try {
        const outcome = engine.restoreKey(parsed.kind, parsed.key, decodeKeySnapshot(value));
        droppedStates += outcome.dropped.length;
        keys++;
      } catch (err) {
        corrupt++;
        this.log.error({ key: k.slice(0, 80), err: (err as Error).message, code: 'FW_STATE_CORRUPT' }, 'corrupt state snapshot skipped: the key starts empty');
      }
    }
    // Restored state is what the changelog already holds: nothing to write back.
    engine.takeChanges();

    // freshStart: where a task with nothing committed begins (a keyed task: the input's low or high offset).
    let committed = groupCommitted ?? freshStart;
    if (record !== undefined && groupCommitted !== undefined && record.committed !== groupCommitted) {
      // Both are written in one transaction, so they agree unless the group's offsets expired
      // or were reset by hand; the record's processed list only makes sense at its own offset.
      this.log.warn({ record: record.committed, group: groupCommitted }, 'task record and group offset disagree; using the group offset without the record');
      record = undefined;
    }
    if (record !== undefined) {
      committed = record.committed;
      this.pipeline.restorePosition(record.position);
      // A keyed task's own partition counts as received only as far as it reads it again.
      if (this.o.keyed === undefined) for (const [origin, offset] of record.read ?? []) this.received.set(origin, offset);
      this.skip = new RangeCursor(record.processed);
      for (let i = 0; i < record.processed.length; i += 2) for (let o = record.processed[i]!; o < record.processed[i + 1]!; o++) this.releasedAbove.push(o);
      this.dedupeFrom = Math.min(record.dedupeFrom, committed);
      this.history = [
        [this.dedupeFrom, Number.NEGATIVE_INFINITY],
        [committed, record.position.lastTs],
      ];
    } else {
      this.dedupeFrom = committed;
      this.history = [[committed, Number.NEGATIVE_INFINITY]];
    }
    this.committed = committed;
    this.rebuildUntil = committed;
    this.next = this.dedupeFrom;
    this.routed = Math.max(committed, record?.routed ?? 0);
    // A keyed task has read its own partition as far as it is about to start: with nothing
    // buffered and nothing new, its partition can count as caught up without a first batch.
    if (this.o.keyed !== undefined) this.received.set(this.o.partition, this.next);
    return { start: this.dedupeFrom, summary: { keys, corrupt, droppedStates, hadTaskRecord: record !== undefined } };
  }

  /**
   * Feeds a fetched batch into the pipeline (the caller commits afterwards). `end`: keyed input
   * only, the offset past the batch's transaction markers and aborted records (see the runner).
   * `decoded`: keyed input only, what decodeEvent gives for each message's value, decoded on the
   * decode thread (src/kafka/recordDecoder.ts); decoded here when absent.
   */
  handle(messages: readonly KafkaMessage[], end?: number, decoded?: readonly DecodeResult[]): void {
    if (this.o.keyed !== undefined) {
      this.handleInput(messages, end, this.o.keyed, decoded);
      return;
    }
    const now = Date.now();
    const receivedAt = performance.now();
    for (const m of messages) {
      const offset = Number(m.offset);
      if (offset < this.next) continue; // a batch fetched again: already handed to the pipeline
      this.next = offset + 1;
      const progress = m.headers?.[SOURCE_HEADERS.progress];
      const read = m.headers?.[SOURCE_HEADERS.read];
      if (progress !== undefined || read !== undefined) {
        // Stage 1's marker: input partition `origin` has been read below input offset `read`,
        // up to this event time.
        const origin = Number(m.headers?.[SOURCE_HEADERS.partition]?.toString() ?? -1);
        if (origin < 0) continue;
        this.progress.onData(origin, now);
        const below = read === undefined ? Number.NaN : Number(read.toString());
        if (Number.isSafeInteger(below) && below > (this.received.get(origin) ?? 0)) this.received.set(origin, below);
        const ts = progress === undefined ? Number.NaN : Number(progress.toString());
        if (Number.isFinite(ts)) this.guard(() => this.pipeline.advance(origin, ts), offset);
        continue;
      }
      const raw = m.value === null ? '' : m.value.toString('utf8');
      const result = decodeEvent(raw);
      if (!result.ok) {
        // Stage 1 only forwards valid events with their original bytes: a record that does not
        // decode here was not written by fraudwatch (or by another release). Counted, skipped.
        this.errors++;
        this.log.error({ offset, reason: result.reason, code: 'FW_INTERNAL' }, 'undecodable repartition record skipped');
        continue;
      }
      const ev = result.event;
      if (this.rebuilt(offset, ev)) continue;
      const origin = Number(m.headers?.[SOURCE_HEADERS.partition]?.toString() ?? 0);
      const originOffset = m.headers?.[SOURCE_HEADERS.offset]?.toString() ?? '-1';
      this.progress.onData(origin, now);
      this.guard(() => this.pipeline.push(ev, origin, { offset, origin, originOffset, receivedAt, raw }), offset);
    }
    this.progress.sample(now, this.pipeline.newestTs());
    this.positionDirty = true;
  }

  /**
   * Keyed input: the records of the task's own input partition. Stage 1's work is done here for
   * the records at or above `routed` (below it, it is committed already): invalid records and
   * records keyed otherwise are dead-lettered, and the logins IP detectors read are forwarded.
   * Valid records keyed by their accountId, in the partition that key hashes to, are scored
   * like events read back from the account repartition topic.
   */
  private handleInput(messages: readonly KafkaMessage[], end: number | undefined, k: KeyedInput, decoded: readonly DecodeResult[] | undefined): void {
    const now = Date.now();
    const receivedAt = performance.now();
    const route = k.route();
    const { topology, stats } = k;
    const p = this.o.partition;
    const dlq = this.o.dlqTopic ?? `${this.o.inputTopic}.dlq`;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const offset = Number(m.offset);
      if (offset < this.next) continue;
      this.next = offset + 1;
      const route1 = offset >= this.routed;
      if (route1) stats.read++;
      const source = { topic: this.o.inputTopic, partition: p, offset: m.offset };
      if (m.value !== null && m.value.length > MAX_EVENT_BYTES) {
        if (route1) {
          stats.countInvalid('bad_value');
          this.outbox.push({ topic: dlq, message: deadLetterMessage({ ...m, value: m.value.subarray(0, MAX_EVENT_BYTES) }, source, 'bad_value', `record of ${m.value.length} bytes is larger than ${MAX_EVENT_BYTES}; value truncated`) });
        }
        continue;
      }
      const raw = m.value === null ? '' : m.value.toString('utf8');
      const result = decoded?.[i] ?? decodeEvent(raw);
      if (!result.ok) {
        if (route1) {
          stats.countInvalid(result.reason);
          this.outbox.push({ topic: dlq, message: deadLetterMessage(m, source, result.reason, result.message) });
        }
        continue;
      }
      const ev = result.event;
      if (m.key === null || m.key.toString('utf8') !== ev.accountId || keyPartition(m.key, topology.inputPartitions) !== p) {
        // Scoring it here would give its account two homes (this task and the one its key or
        // accountId hashes to): never silently. Dead-lettered whole, so no detector of either
        // kind sees it, in live runs as after a restore.
        if (route1) {
          k.onMiskeyed();
          const why = m.key === null ? 'no key' : m.key.toString('utf8') !== ev.accountId ? 'key is not the accountId' : `key hashes to partition ${keyPartition(m.key, topology.inputPartitions)}`;
          const letter = deadLetterMessage(m, source, MISKEYED_REASON, `FRAUDWATCH_INPUT_KEYED=account: ${why}`);
          letter.headers = { ...letter.headers, [DLQ_HEADERS.code]: MISKEYED_CODE };
          this.outbox.push({ topic: dlq, message: letter });
        }
        continue;
      }
      if (ev.ts > this.clock.maxTs) this.clock.maxTs = ev.ts;
      if (route1) {
        stats.valid++;
        stats.byType[ev.type]!++;
        const ipKey = route.ipKey(ev);
        if (ipKey !== undefined) {
          this.outbox.push({ topic: topology.repartition.ip, message: { key: ipKey, value: m.value, headers: { [SOURCE_HEADERS.partition]: String(p), [SOURCE_HEADERS.offset]: m.offset } } });
        }
      }
      // As with the repartition topic, account tasks see only what some account detector reads.
      if (!route.account(ev)) continue;
      if (this.rebuilt(offset, ev)) continue;
      this.guard(() => this.pipeline.push(ev, p, { offset, origin: p, originOffset: m.offset, receivedAt, raw }), offset);
    }
    if (end !== undefined && end > this.next) this.next = end;
    if (this.next > this.routed) this.routed = this.next;
    // The partition's event time moves with every record read, scored here or not (as stage 1's
    // progress markers move it for repartitioned tasks).
    if (this.clock.maxTs > Number.NEGATIVE_INFINITY) this.guard(() => this.pipeline.advance(p, this.clock.maxTs), this.next);
    if (messages.length > 0) this.progress.onData(p, now);
    this.received.set(p, this.next);
    this.progress.sample(now, this.pipeline.newestTs());
    this.positionDirty = true;
  }

  /**
   * A detector that throws is caught by the pipeline around that one event and dead-lettered
   * (deadLetterProcessingError); what reaches here is a failure of the pipeline itself, around
   * the event handed to it: skipped and logged, never retried forever.
   */
  /**
   * Whether a re-read record was scored before the restore: below the dedupe rebuild point, or in
   * the processed ranges above the committed offset. Its eventId is remembered for dedupe, and it
   * is not scored again.
   */
  private rebuilt(offset: number, ev: FraudEvent): boolean {
    if (offset < this.rebuildUntil) {
      this.pipeline.remember(ev.eventId, ev.ts);
      return true;
    }
    if (this.skip !== undefined) {
      if (this.skip.has(offset)) {
        this.pipeline.remember(ev.eventId, ev.ts);
        return true;
      }
      if (offset >= this.skip.end) this.skip = undefined;
    }
    return false;
  }

  private guard(fn: () => void, offset: number): void {
    try {
      fn();
    } catch (err) {
      this.errors++;
      this.log.error({ err, offset, code: 'FW_INTERNAL' }, 'scoring an event failed; event skipped');
    }
  }

  /**
   * The tick: applies stage 1's latest lag check, lets caught-up input partitions stop holding
   * back event time, drains, and releases everything once every input partition has been caught
   * up for a whole lateness. An input partition is caught up for this task only when stage 1 had
   * read it to its end *and* this task has read stage 1's marker up to there: wall-clock silence
   * would let a slow or failed-over stage-1 task's events arrive behind the watermark, and so
   * would the repartition partition's end offset (an open transaction of a crashed instance
   * hides the records committed after it until the transaction is aborted).
   */
  tick(now: number, check: DrainedCheck | undefined): void {
    for (const p of this.sources) {
      const drained = check?.drained.get(p);
      if (check === undefined || !check.ok) this.progress.onUnknown(p);
      else if (drained !== undefined && (this.received.get(p) ?? 0) >= drained) this.progress.onCaughtUp(p, check.askedAt);
      else this.progress.onBehind(p);
    }
    this.progress.sample(now, this.pipeline.newestTs());
    for (const p of this.sources) this.pipeline.setFloor(p, this.progress.floor(p));
    try {
      this.pipeline.drain();
      const lateness = this.o.latenessMs ?? this.pipeline.rules.latenessMs;
      // NaN (some input partition not caught up) never passes.
      if (this.pipeline.buffered > 0 && now - this.progress.quietSince() >= Math.max(lateness, this.o.idleMs)) {
        this.log.debug({ buffered: this.pipeline.buffered }, 'every input partition caught up for a whole lateness: buffered events released');
        this.pipeline.flush();
      }
    } catch (err) {
      this.errors++;
      this.log.error({ err, code: 'FW_INTERNAL' }, 'scoring an event failed; event skipped');
    }
    this.processingErrors.flush();
    const late = this.pipeline.stats.late;
    if (late > this.lateReported) {
      // Scored out of order: operators widen the lateness when this keeps coming.
      this.log.warn({ late: late - this.lateReported, total: late, code: 'FW_INPUT_LATE' }, 'events arrived behind the watermark (later than the lateness allows)');
      this.lateReported = late;
    }
  }

  /**
   * Records below this offset of the task's repartition partition are never read again: a
   * restore starts at the committed `dedupeFrom`, which only moves forward.
   */
  get purgeableBefore(): number {
    return Math.min(this.dedupeFrom, this.committed);
  }

  /** Something was released outside `handle` (an idle drain or flush): commit it. */
  markDirty(): void {
    this.positionDirty = true;
  }

  /** Output records (alerts, dead letters) waiting for the next commit. */
  pendingRecords(): number {
    return this.outbox.length;
  }

  /** True when a commit would change something: alerts, state, or the committed position. */
  hasWork(): boolean {
    return this.outbox.length > 0 || this.positionDirty;
  }

  /** Builds the transaction for everything scored so far. Nothing changes until `done()`. */
  prepareCommit(groupTopicPartition: { topic: string; partition: number }): TaskCommit {
    const engine = this.pipeline.core;
    const changes = engine.takeChanges();
    const kind = this.o.kind;
    const records: OutRecord[] = this.outbox;
    this.outbox = [];
    const clTopic = this.o.changelogTopic;
    const clPartition = this.o.changelogPartition;
    for (const key of changes.removed[kind]) {
      if (changes.dirty[kind].has(key)) continue;
      records.push({ topic: clTopic, message: { key: stateKey(kind, key), value: null, partition: clPartition } });
    }
    for (const key of changes.dirty[kind]) {
      const snap = engine.snapshotKey(kind, key);
      records.push({ topic: clTopic, message: { key: stateKey(kind, key), value: snap === undefined ? null : encodeKeySnapshot(snap), partition: clPartition } });
    }

    if (this.o.keyed !== undefined && this.o.keyed.route().ip) {
      // After the forwarded logins: an IP task that reads these has every one from below `routed`.
      // With no IP-kind detector on, the IP tasks score nothing: markers would only cost each of
      // them a transaction per commit interval. A reload that enables one brings them back with
      // the next commit (from then on the IP tasks see the logins read, as in the other mode).
      for (const m of progressMarkers(this.o.partition, this.routed, this.clock.maxTs, this.o.keyed.topology, ['ip'])) records.push(m);
    }
    // Commit only up to the earliest event still buffered: it has not been scored yet.
    let committed = this.next;
    for (const tag of this.pipeline.bufferedTags()) if (tag.offset < committed) committed = tag.offset;
    if (committed < this.committed) committed = this.committed;
    const above = this.releasedAbove.filter((o) => o >= committed).sort((a, b) => a - b);
    const position = this.pipeline.position();

    // The dedupe remembers ids with a ts at or after its horizon start; every such event was
    // released after the newest commit whose last released time is older than that, so it sits
    // at or above that commit's offset.
    const horizonStart = this.pipeline.dedupeHorizonStart();
    let dedupeFrom = this.dedupeFrom;
    let keepFrom = 0;
    for (let i = 0; i < this.history.length; i++) {
      if (this.history[i]![1] < horizonStart) {
        dedupeFrom = Math.max(dedupeFrom, this.history[i]![0]);
        keepFrom = i;
      }
    }
    records.push({
      topic: clTopic,
      message: { key: TASK_KEY, value: encodeTaskRecord({ committed, processed: toRanges(above), dedupeFrom, position, read: this.o.keyed === undefined ? [...this.received] : [], routed: this.o.keyed === undefined ? undefined : this.routed }), partition: clPartition },
    });
    const offsets = [{ topic: groupTopicPartition.topic, partition: groupTopicPartition.partition, offset: committed }];
    return {
      records,
      offsets,
      done: () => {
        this.committed = committed;
        this.releasedAbove = above;
        this.dedupeFrom = dedupeFrom;
        if (keepFrom > 0) this.history = this.history.slice(keepFrom);
        this.history.push([committed, position.lastTs]);
        this.positionDirty = false;
      },
    };
  }

  /**
   * An event whose scoring threw: dead-lettered as the task's other output, in the transaction
   * that commits past it, so a restore neither loses nor repeats it (its offset is among those
   * processed); never retried. A login is scored by an account task and by an IP task: each one
   * whose detectors throw on it dead-letters it.
   */
  private deadLetterProcessingError(err: unknown, ev: FraudEvent, tag: Tag): void {
    const source = { topic: this.o.inputTopic, partition: tag.origin, offset: tag.originOffset };
    this.outbox.push({ topic: this.o.dlqTopic ?? `${this.o.inputTopic}.dlq`, message: processingErrorDeadLetter(tag.raw, ev, source, err) });
    this.processingErrors.report(err, { eventId: ev.eventId, partition: tag.origin, offset: tag.originOffset });
  }

  private queueAlert(alert: Alert, tag: Tag): void {
    const value = JSON.stringify({ ...alert, detectedAt: new Date().toISOString(), source: { topic: this.o.inputTopic, partition: tag.origin, offset: tag.originOffset } });
    this.outbox.push({
      topic: alert.shadow ? this.o.shadowTopic : this.o.alertsTopic,
      message: { key: alert.accountId ?? alert.ip ?? null, value, headers: { 'fw-detector': alert.detector, 'fw-severity': alert.severity } },
    });
  }
}
