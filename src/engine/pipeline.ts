import type { Alert } from '../alerts/alert.js';
import type { Rules } from '../config/rules.js';
import type { DecodeResult, FraudEvent } from '../events/types.js';
import type { KeyKind } from '../detectors/types.js';
import type { GeoLocator } from '../geo/locator.js';
import { Deduper } from './dedupe.js';
import { Engine, type EngineClock } from './engine.js';
import { ReorderBuffer } from './reorderBuffer.js';
import { Stats } from './stats.js';

export interface PipelineOptions<T> {
  readonly rules: Rules;
  readonly locator: GeoLocator;
  /** Called for every alert, with the tag the triggering event was pushed with. */
  readonly onAlert: (alert: Alert, trigger: FraudEvent, tag: T) => void;
  /** Called when an event leaves the pipeline (scored, or dropped as a duplicate). */
  readonly onReleased?: (tag: T) => void;
  /** Overrides the rules' lateness (the daemon's `--lateness`, benchmarks' eager mode). */
  readonly latenessMs?: number;
  /** Run only the detectors of this key kind (the exactly-once runner's account and IP tasks). */
  readonly keyKind?: KeyKind;
  /** See EngineOptions.budgetShares. */
  readonly budgetShares?: number;
  /**
   * Called when scoring one released event threw (a bug in a detector): the event has been
   * counted (`stats.processingErrors`) and skipped, and the pipeline goes on with the next one.
   * The daemon dead-letters it, replay reports it. Throwing from here stops the pipeline (replay
   * --strict); its state is then only good for being dropped.
   */
  readonly onProcessingError?: (err: unknown, event: FraudEvent, tag: T) => void;
}

/**
 * Test hook (like the daemon's FRAUDWATCH_FAULT=exit-before-commit): with
 * FRAUDWATCH_FAULT=throw-on-event:<eventId>, scoring that event throws in every pipeline of the
 * process (replay, the daemon, each exactly-once task), as a detector bug would. Read once per
 * pipeline; unset, it costs one comparison per event.
 */
const FAULT_THROW_ON_EVENT = 'throw-on-event:';

function faultEventId(): string | undefined {
  const fault = process.env.FRAUDWATCH_FAULT;
  return fault !== undefined && fault.startsWith(FAULT_THROW_ON_EVENT) ? fault.slice(FAULT_THROW_ON_EVENT.length) : undefined;
}

/**
 * Where a pipeline stands in event time: what was released last, each source's newest time, the
 * engine's sweep clock. The exactly-once runner commits it with each transaction, so a task
 * restored elsewhere releases, flags late events and sweeps exactly as the original would have.
 */
export interface PipelinePosition {
  readonly lastTs: number;
  readonly lastId: string;
  readonly sources: readonly (readonly [string | number, number])[];
  readonly engine: EngineClock;
}

interface SourceClock {
  maxTs: number;
  /**
   * Event time up to which the source no longer holds back the watermark although it has sent
   * nothing that late (−∞: it holds at its own newest time). Set by the daemon from lag evidence
   * (src/streams/sourceGroup.ts); cleared by the source's next event or progress marker.
   */
  floor: number;
}

/**
 * The one processing path every front door uses (replay, daemon, backtest):
 *
 *   decoded event → reorder buffer (event-time order, watermark = min over sources of
 *   max ts seen − lateness) → de-duplication by eventId → Engine (detectors, suppression).
 *
 * Front doors differ only in where events come from and where alerts go. The only wall-clock
 * decision, letting a caught-up source stop holding back event time (its floor), belongs to
 * the caller (the daemon, through src/streams/sourceGroup.ts); replay never makes it.
 */
export class Pipeline<T = undefined> {
  readonly stats = new Stats();
  private readonly engine: Engine;
  private readonly buffer = new ReorderBuffer<T>();
  private readonly dedupe: Deduper;
  private readonly sources = new Map<string | number, SourceClock>();
  private latenessMs: number;
  private readonly latenessOverride: number | undefined;
  private lastTs = Number.NEGATIVE_INFINITY;
  private lastId = '';
  private newest = Number.NEGATIVE_INFINITY;
  private currentTag: T | undefined;
  private readonly faultEventId = faultEventId();

  constructor(private readonly options: PipelineOptions<T>) {
    this.latenessOverride = options.latenessMs;
    this.latenessMs = options.latenessMs ?? options.rules.latenessMs;
    this.dedupe = new Deduper(options.rules.dedupeHorizonMs);
    this.engine = new Engine(
      options.rules,
      options.locator,
      this.stats,
      (alert, trigger) => options.onAlert(alert, trigger, this.currentTag as T),
      { keyKind: options.keyKind, budgetShares: options.budgetShares },
    );
  }

  get rules(): Rules {
    return this.engine.currentRules;
  }

  get buffered(): number {
    return this.buffer.size;
  }

  /** The engine, for state inspection (metrics, memory benchmark, changelog). */
  get core(): Engine {
    return this.engine;
  }

  /** Hot reload: the next released event is scored with the new rules. */
  setRules(rules: Rules): void {
    this.engine.setRules(rules);
    this.latenessMs = this.latenessOverride ?? rules.latenessMs;
  }

  /** Counts an invalid record (the caller dead-letters or reports it) or pushes a valid one. */
  offer(result: DecodeResult, source: string | number, tag: T): void {
    this.stats.read++;
    if (!result.ok) {
      this.stats.countInvalid(result.reason);
      return;
    }
    this.push(result.event, source, tag);
  }

  /** Accepts a valid event from `source` and releases whatever the watermark now allows. */
  push(ev: FraudEvent, source: string | number, tag: T): void {
    this.stats.valid++;
    this.stats.byType[ev.type]!++;
    let clock = this.sources.get(source);
    if (clock === undefined) {
      clock = { maxTs: ev.ts, floor: Number.NEGATIVE_INFINITY };
      this.sources.set(source, clock);
    }
    clock.floor = Number.NEGATIVE_INFINITY;
    if (ev.ts > clock.maxTs) clock.maxTs = ev.ts;
    if (ev.ts > this.newest) this.newest = ev.ts;

    if (ev.ts < this.lastTs || (ev.ts === this.lastTs && ev.eventId < this.lastId)) {
      // Later than the lateness allows: events after it were already scored. It is still
      // scored (never dropped), out of order, and counted so operators can widen the lateness.
      this.stats.late++;
      this.release(ev, tag);
      return;
    }
    this.buffer.push(ev, tag, source);
    this.drain();
  }

  /**
   * Lets a source stop holding back the watermark up to event time `floor` (the daemon's lag
   * evidence: everything it had was read before data up to that time arrived elsewhere), or makes
   * it hold at its own time again (−∞). The source's next event or marker clears it.
   */
  setFloor(source: string | number, floor: number): void {
    const clock = this.sources.get(source);
    if (clock) clock.floor = floor;
  }

  /**
   * Declares a source before its first event (an assigned Kafka partition), so the watermark
   * waits for it until it sends or is found caught up, instead of racing ahead of its first fetch.
   */
  addSource(source: string | number): void {
    if (!this.sources.has(source)) this.sources.set(source, { maxTs: Number.NEGATIVE_INFINITY, floor: Number.NEGATIVE_INFINITY });
  }

  removeSource(source: string | number): void {
    this.sources.delete(source);
  }

  /** The event time up to which events are released: the slowest source's time, less the lateness. */
  watermark(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const c of this.sources.values()) {
      const t = c.floor > c.maxTs ? c.floor : c.maxTs;
      if (t < min) min = t;
    }
    if (min === Number.POSITIVE_INFINITY) return Number.NEGATIVE_INFINITY;
    return min - this.latenessMs;
  }

  /** The newest event time received from any source (what a caught-up source's floor can reach). */
  newestTs(): number {
    return this.newest;
  }

  /** Each source's newest event time and floor (metrics: which partition holds event time back). */
  sourceClocks(): IterableIterator<[string | number, Readonly<SourceClock>]> {
    return this.sources.entries();
  }

  /** The newest event time released (scored or dropped as a duplicate). */
  get releasedTs(): number {
    return this.lastTs;
  }

  /** Releases buffered events the watermark has passed. */
  drain(): void {
    const wm = this.watermark();
    while (this.buffer.peekTs() <= wm) {
      const e = this.buffer.pop()!;
      this.release(e.event, e.tag);
    }
  }

  /** End of input (or every source caught up for a whole lateness): release everything buffered. */
  flush(): void {
    for (let e = this.buffer.pop(); e !== undefined; e = this.buffer.pop()) this.release(e.event, e.tag);
  }

  /** Tags of events still buffered: their offsets must not be committed yet. */
  bufferedTags(): IterableIterator<T> {
    return this.buffer.tags();
  }

  position(): PipelinePosition {
    return {
      lastTs: this.lastTs,
      lastId: this.lastId,
      sources: [...this.sources].map(([s, c]) => [s, c.maxTs] as const),
      engine: this.engine.clockState(),
    };
  }

  /** Restores a saved position; every source holds back event time until the caller has lag evidence. */
  restorePosition(p: PipelinePosition): void {
    this.lastTs = p.lastTs;
    this.lastId = p.lastId;
    // The dedupe's generations follow the released clock; rebuilt ids (remember) are filed under it.
    this.dedupe.expire(p.lastTs);
    for (const [source, maxTs] of p.sources) {
      const clock = this.sources.get(source);
      if (clock === undefined) this.sources.set(source, { maxTs, floor: Number.NEGATIVE_INFINITY });
      else if (maxTs > clock.maxTs) clock.maxTs = maxTs;
      if (maxTs > this.newest) this.newest = maxTs;
    }
    this.engine.restoreClock(p.engine);
  }

  /**
   * Moves a source's clock to `ts` without an event (a progress marker: the exactly-once runner's
   * stage 1 tells every task how far each input partition has been read, so a task that gets no
   * events from that partition is not held back by it). Releases what the watermark now allows.
   */
  advance(source: string | number, ts: number): void {
    let clock = this.sources.get(source);
    if (clock === undefined) {
      clock = { maxTs: ts, floor: Number.NEGATIVE_INFINITY };
      this.sources.set(source, clock);
    }
    clock.floor = Number.NEGATIVE_INFINITY;
    if (ts > clock.maxTs) clock.maxTs = ts;
    if (ts > this.newest) this.newest = ts;
    this.drain();
  }

  /**
   * Records an eventId as seen without scoring it: a restored task re-reads events it had already
   * processed before the crash so that their redelivered duplicates are still recognised.
   */
  remember(eventId: string, ts: number): void {
    this.dedupe.isDuplicate(eventId, ts);
  }

  /**
   * The earliest event time the dedupe still remembers: a restore must re-read every event
   * released with a ts at or after it to rebuild the dedupe exactly.
   */
  dedupeHorizonStart(): number {
    return this.dedupe.horizonStart(this.lastTs);
  }

  private release(ev: FraudEvent, tag: T): void {
    if (ev.ts > this.lastTs || (ev.ts === this.lastTs && ev.eventId > this.lastId)) {
      this.lastTs = ev.ts;
      this.lastId = ev.eventId;
      this.dedupe.expire(ev.ts);
    }
    if (this.dedupe.isDuplicate(ev.eventId, ev.ts)) {
      this.stats.duplicates++;
    } else {
      this.stats.processed++;
      this.currentTag = tag;
      try {
        if (this.faultEventId === ev.eventId) throw new Error(`FRAUDWATCH_FAULT test hook: scoring event ${ev.eventId} fails`);
        this.engine.process(ev);
      } catch (err) {
        // Around one event, after the buffer and the dedupe have let it go: a detector that throws
        // on some input would otherwise stop the stream, or crash the batch and have the same event
        // read and thrown on again for ever. The event is skipped (its id stays seen, so a
        // redelivery is a duplicate), none of its findings is raised, the engine starts the next
        // event clean (Engine.process), and what follows is scored in order. Detectors that ran
        // before the one that threw keep what they saw of it: there is no rollback.
        this.currentTag = undefined;
        this.stats.processingErrors++;
        this.options.onProcessingError?.(err, ev, tag);
      }
      this.currentTag = undefined;
    }
    this.options.onReleased?.(tag);
  }
}
