/**
 * When may a source (a Kafka partition the daemon reads, or an input partition a stage-2 task
 * hears from through stage 1) stop holding back event time? This is the one place fraudwatch's
 * live front doors answer it, and the only place the wall clock is allowed to matter.
 *
 * The rule is Kafka Streams' task idling, made safe for a reorder buffer:
 *
 * - A source holds the watermark at its newest event time, as in replay, unless there is
 *   evidence that it has nothing unread: a lag check, issued at a known wall-clock instant,
 *   that found everything the broker had for it at that instant already read. Silence is not
 *   evidence: a partition that has not been fetched yet (catch-up, a restart, a burst) may hold
 *   the oldest data of all.
 * - Evidence is about an instant, so it only covers data received before that instant. A
 *   caught-up source stops holding the watermark back up to the *frontier*: the newest event
 *   time of all the data received at least `graceMs` before its latest evidence. Data that
 *   reaches the source afterwards was produced after everything behind the frontier, so with
 *   the producers' disorder within the lateness it cannot be released late. The grace absorbs
 *   records in flight between the producers and the brokers' logs (different partitions'
 *   batches of one producer land a few milliseconds apart).
 * - New data on a source, a lag check that finds it behind, or a failed check forget the
 *   evidence at once: the source holds the watermark at its own time again.
 *
 * Pure bookkeeping: the caller feeds wall-clock instants, lag evidence and the pipeline's newest
 * event time, and applies the floors it gets back to the pipeline. Tested like Kafka's
 * PartitionGroupTest: unknown lag waits, lag > 0 waits, lag 0 only covers what came before it.
 */

/** What is known about a source's backlog on the brokers. */
export type LagState = 'unknown' | 'behind' | 'caught_up';

interface SourceState {
  lag: LagState;
  /** Wall clock of the latest data from the source (evidence older than that says nothing). */
  lastData: number;
  /** Caught up: when the latest lag check that found it so was issued. */
  evidenceAt: number;
  /** Caught up: when the unbroken run of caught-up checks began (for the quiet flush). */
  caughtUpSince: number;
}

export interface SourceView<S> {
  readonly source: S;
  readonly lag: LagState;
  /** Event time up to which this source no longer holds back the watermark (−∞: it holds at its own time). */
  readonly floor: number;
}

/** How long frontier samples are kept beyond the grace: lag checks answer well within it. */
const SAMPLE_KEEP_MS = 120_000;

export class SourceGroup<S = number> {
  private readonly sources = new Map<S, SourceState>();
  /** (wall clock, newest event time received by then), both increasing. */
  private times: number[] = [];
  private frontiers: number[] = [];
  private newest = Number.NEGATIVE_INFINITY;

  constructor(private graceMs: number) {}

  /** The wall-clock wait applied to evidence (`--idle-timeout`). */
  setGrace(ms: number): void {
    this.graceMs = ms;
  }

  /** A new source (an assigned partition, a restored task's inputs): nothing is known of it. */
  add(source: S, now: number): void {
    if (!this.sources.has(source)) this.sources.set(source, { lag: 'unknown', lastData: now, evidenceAt: Number.NEGATIVE_INFINITY, caughtUpSince: Number.NaN });
  }

  remove(source: S): void {
    this.sources.delete(source);
  }

  has(source: S): boolean {
    return this.sources.has(source);
  }

  /** The source delivered data (or stage 1's progress for it): its evidence is out of date. */
  onData(source: S, now: number): void {
    const s = this.sources.get(source);
    if (s === undefined) return;
    s.lastData = now;
    s.lag = 'unknown';
    s.caughtUpSince = Number.NaN;
  }

  /** A lag check found unread data for the source (or its fetch position behind the end). */
  onBehind(source: S): void {
    const s = this.sources.get(source);
    if (s === undefined) return;
    s.lag = 'behind';
    s.caughtUpSince = Number.NaN;
  }

  /** A lag check could not be made (brokers unreachable): nothing is known any more. */
  onUnknown(source: S): void {
    const s = this.sources.get(source);
    if (s === undefined) return;
    s.lag = 'unknown';
    s.caughtUpSince = Number.NaN;
  }

  /**
   * A lag check issued at wall-clock `askedAt` found nothing unread for the source. Ignored when
   * the source has had data since: the check says nothing about what came after it.
   */
  onCaughtUp(source: S, askedAt: number): void {
    const s = this.sources.get(source);
    if (s === undefined || askedAt < s.lastData) return;
    if (s.lag !== 'caught_up') s.caughtUpSince = askedAt;
    s.lag = 'caught_up';
    if (askedAt > s.evidenceAt) s.evidenceAt = askedAt;
  }

  /** Records the newest event time received so far, at wall clock `now` (after every batch and tick). */
  sample(now: number, newestTs: number): void {
    if (newestTs > this.newest) this.newest = newestTs;
    const n = this.times.length;
    if (n > 0 && this.frontiers[n - 1] === this.newest) return;
    if (n > 0 && this.times[n - 1]! >= now) {
      this.frontiers[n - 1] = this.newest;
    } else {
      this.times.push(now);
      this.frontiers.push(this.newest);
    }
    // Keep one sample at or before the oldest instant any future frontier lookup can ask for.
    const cutoff = now - this.graceMs - SAMPLE_KEEP_MS;
    let drop = 0;
    while (drop + 1 < this.times.length && this.times[drop + 1]! <= cutoff) drop++;
    if (drop > 64) {
      this.times = this.times.slice(drop);
      this.frontiers = this.frontiers.slice(drop);
    }
  }

  /** The newest event time received at or before wall clock `at` (−∞ before the first sample). */
  frontierAt(at: number): number {
    const t = this.times;
    let lo = 0;
    let hi = t.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (t[mid]! <= at) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? Number.NEGATIVE_INFINITY : this.frontiers[found]!;
  }

  /** How far `source` has stopped holding back event time (−∞: not at all). */
  floor(source: S): number {
    const s = this.sources.get(source);
    if (s === undefined || s.lag !== 'caught_up') return Number.NEGATIVE_INFINITY;
    return this.frontierAt(s.evidenceAt - this.graceMs);
  }

  lag(source: S): LagState {
    return this.sources.get(source)?.lag ?? 'unknown';
  }

  /**
   * Since when every source has been caught up without a break (NaN if one is not): after a
   * whole lateness of that, nothing can reorder what is buffered, and it is released.
   */
  quietSince(): number {
    let since = Number.NEGATIVE_INFINITY;
    for (const s of this.sources.values()) {
      if (s.lag !== 'caught_up') return Number.NaN;
      if (s.caughtUpSince > since) since = s.caughtUpSince;
    }
    return this.sources.size === 0 ? Number.NaN : since;
  }

  *view(): IterableIterator<SourceView<S>> {
    for (const source of this.sources.keys()) yield { source, lag: this.lag(source), floor: this.floor(source) };
  }
}
