/**
 * Remembers eventIds for a bounded event-time horizon, so a redelivered event (producer retry,
 * consumer restart) is processed once without remembering every id forever.
 *
 * A Map iterates in insertion order, and ids are inserted in release order, which is event-time
 * order, so expiry pops from the front and stops at the first young entry: O(1) amortised.
 */
export class Deduper {
  private readonly seen = new Map<string, number>();

  constructor(private readonly horizonMs: number) {}

  get size(): number {
    return this.seen.size;
  }

  /** True when the id was seen within the horizon; otherwise records it. */
  isDuplicate(eventId: string, ts: number): boolean {
    if (this.seen.has(eventId)) return true;
    this.seen.set(eventId, ts);
    return false;
  }

  expire(now: number): void {
    const cutoff = now - this.horizonMs;
    for (const [id, ts] of this.seen) {
      if (ts >= cutoff) break;
      this.seen.delete(id);
    }
  }
}
