import type { FraudEvent } from '../events/types.js';

interface Entry<T> {
  readonly event: FraudEvent;
  readonly tag: T;
  readonly seq: number;
}

/** Release order: event time, then eventId, then arrival (only equal eventIds reach the last). */
function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  if (a.event.ts !== b.event.ts) return a.event.ts < b.event.ts;
  if (a.event.eventId !== b.event.eventId) return a.event.eventId < b.event.eventId;
  return a.seq < b.seq;
}

/**
 * Event-time reorder buffer: a binary min-heap keyed by (ts, eventId). Events come out in an
 * order that depends only on the set of events, not on how they arrived, which is what makes
 * replay equal to live and a 6-partition topic equal to a 1-partition one.
 */
export class ReorderBuffer<T = undefined> {
  private readonly heap: Entry<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(event: FraudEvent, tag: T): void {
    const heap = this.heap;
    const entry: Entry<T> = { event, tag, seq: this.seq++ };
    // Sift up by moving parents down into the hole, then place the entry once.
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(entry, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  /** The earliest buffered event's time, or +Infinity when empty. */
  peekTs(): number {
    return this.heap.length > 0 ? this.heap[0]!.event.ts : Number.POSITIVE_INFINITY;
  }

  pop(): Entry<T> | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      // Sift the last entry down from the root through the hole.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(heap[r]!, heap[l]!) ? r : l;
        const child = heap[c]!;
        if (!before(child, last)) break;
        heap[i] = child;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }

  /** Every buffered tag, in no particular order (the daemon finds its lowest uncommitted offsets). */
  tags(): IterableIterator<T> {
    return (function* (heap: Entry<T>[]) {
      for (const e of heap) yield e.tag;
    })(this.heap);
  }
}
