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
    heap.push({ event, tag, seq: this.seq++ });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
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
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
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
