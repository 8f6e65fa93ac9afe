import type { KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { Alert } from '../alerts/alert.js';
import type { Rules } from '../config/rules.js';
import type { KeyKind } from '../detectors/types.js';
import { Pipeline } from '../engine/pipeline.js';
import { decodeEvent } from '../events/decode.js';
import type { FraudEvent } from '../events/types.js';
import type { GeoLocator } from '../geo/locator.js';
import { processingErrorDeadLetter, ProcessingErrorLog } from '../kafka/deadLetter.js';
import type { PartitionLog } from './changelog.js';
import { SOURCE_HEADERS } from './repartition.js';
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
    this.progress = new SourceGroup(o.idleMs);
    const now = Date.now();
    for (let p = 0; p < o.inputPartitions; p++) {
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
  restore(log: PartitionLog, groupCommitted: number | undefined): { start: number; summary: RestoreSummary } {
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

    let committed = groupCommitted ?? 0;
    if (record !== undefined && groupCommitted !== undefined && record.committed !== groupCommitted) {
      // Both are written in one transaction, so they agree unless the group's offsets expired
      // or were reset by hand; the record's processed list only makes sense at its own offset.
      this.log.warn({ record: record.committed, group: groupCommitted }, 'task record and group offset disagree; using the group offset without the record');
      record = undefined;
    }
    if (record !== undefined) {
      committed = record.committed;
      this.pipeline.restorePosition(record.position);
      for (const [origin, offset] of record.read ?? []) this.received.set(origin, offset);
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
    return { start: this.dedupeFrom, summary: { keys, corrupt, droppedStates, hadTaskRecord: record !== undefined } };
  }

  /** Feeds a fetched batch into the pipeline (the caller commits afterwards). */
  handle(messages: readonly KafkaMessage[]): void {
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
      if (offset < this.rebuildUntil) {
        this.pipeline.remember(ev.eventId, ev.ts);
        continue;
      }
      if (this.skip !== undefined) {
        if (this.skip.has(offset)) {
          this.pipeline.remember(ev.eventId, ev.ts);
          continue;
        }
        if (offset >= this.skip.end) this.skip = undefined;
      }
      const origin = Number(m.headers?.[SOURCE_HEADERS.partition]?.toString() ?? 0);
      const originOffset = m.headers?.[SOURCE_HEADERS.offset]?.toString() ?? '-1';
      this.progress.onData(origin, now);
      this.guard(() => this.pipeline.push(ev, origin, { offset, origin, originOffset, receivedAt, raw }), offset);
    }
    this.progress.sample(now, this.pipeline.newestTs());
    this.positionDirty = true;
  }

  /**
   * A detector that throws is caught by the pipeline around that one event and dead-lettered
   * (deadLetterProcessingError); what reaches here is a failure of the pipeline itself, around
   * the event handed to it: skipped and logged, never retried forever.
   */
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
    for (let p = 0; p < this.o.inputPartitions; p++) {
      const drained = check?.drained.get(p);
      if (check === undefined || !check.ok) this.progress.onUnknown(p);
      else if (drained !== undefined && (this.received.get(p) ?? 0) >= drained) this.progress.onCaughtUp(p, check.askedAt);
      else this.progress.onBehind(p);
    }
    this.progress.sample(now, this.pipeline.newestTs());
    for (let p = 0; p < this.o.inputPartitions; p++) this.pipeline.setFloor(p, this.progress.floor(p));
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
      message: { key: TASK_KEY, value: encodeTaskRecord({ committed, processed: toRanges(above), dedupeFrom, position, read: [...this.received] }), partition: clPartition },
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
