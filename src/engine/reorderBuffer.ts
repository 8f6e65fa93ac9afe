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

/** A binary min-heap of entries in release order. */
class EntryHeap<T> {
  readonly items: Entry<T>[] = [];

  push(entry: Entry<T>): void {
    const heap = this.items;
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

  pop(): Entry<T> {
    const heap = this.items;
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
}

/**
 * One source's buffered entries: those that arrived in release order after the source's last
 * such one are appended to `run` (a queue, O(1) both ways), the others go to `strays`, a heap.
 * A Kafka partition or a log is in order but for bounded disorder, so nearly every entry takes
 * the queue; a shuffled or reversed source still costs only a heap's log n.
 */
class SourceQueue<T> {
  run: Entry<T>[] = [];
  head = 0;
  readonly strays = new EntryHeap<T>();
  /** Index in the merge heap, or −1 while empty. */
  pos = -1;
  /** The least entry (undefined while empty): read at every level of the merge heap, so kept. */
  least: Entry<T> | undefined;

  /** Adds an entry; true when it is the queue's new least. */
  add(entry: Entry<T>): boolean {
    const run = this.run;
    if (this.head === run.length || !before(entry, run[run.length - 1]!)) run.push(entry);
    else this.strays.push(entry);
    if (this.least !== undefined && !before(entry, this.least)) return false;
    this.least = entry;
    return true;
  }

  /** Takes the least entry; the queue is not empty. */
  take(): Entry<T> {
    const top = this.least!;
    const strays = this.strays.items;
    if (strays[0] === top) {
      this.strays.pop();
    } else {
      this.run[this.head++] = undefined as unknown as Entry<T>;
      if (this.head === this.run.length) {
        this.run = [];
        this.head = 0;
      } else if (this.head >= 4096 && this.head * 2 >= this.run.length) {
        // Drop the taken prefix once it is most of the array: amortised O(1) per entry.
        this.run = this.run.slice(this.head);
        this.head = 0;
      }
    }
    const r = this.head < this.run.length ? this.run[this.head] : undefined;
    const s = strays[0];
    this.least = r === undefined ? s : s !== undefined && before(s, r) ? s : r;
    return top;
  }
}

/**
 * Event-time reorder buffer: events come out in (ts, eventId) order, an order that depends only
 * on the set of events, not on how they arrived, which is what makes replay equal to live and a
 * 6-partition topic equal to a 1-partition one.
 *
 * Each source (a Kafka partition, a log) has its own queue, and a small heap merges the sources
 * by their least entries. A single heap of every buffered event, as this was before, cost a
 * sift through log n levels of scattered entries at every release: on a backlog read from six
 * partitions, whose reads run ahead of one another by thousands of events, that was a sixth of
 * the daemon's thread. Merging k mostly ordered sources costs log k.
 */
export class ReorderBuffer<T = undefined> {
  private readonly queues = new Map<unknown, SourceQueue<T>>();
  /** Non-empty source queues, a min-heap by their least entries. */
  private readonly merge: SourceQueue<T>[] = [];
  private seq = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(event: FraudEvent, tag: T, source: unknown = 0): void {
    let q = this.queues.get(source);
    if (q === undefined) this.queues.set(source, (q = new SourceQueue<T>()));
    const entry: Entry<T> = { event, tag, seq: this.seq++ };
    this.count++;
    const least = q.add(entry);
    if (q.pos < 0) {
      q.pos = this.merge.length;
      this.merge.push(q);
      this.siftUp(q.pos);
    } else if (least) {
      // Only a new least entry moves the queue towards the root.
      this.siftUp(q.pos);
    }
  }

  /** The earliest buffered event's time, or +Infinity when empty. */
  peekTs(): number {
    return this.merge.length > 0 ? this.merge[0]!.least!.event.ts : Number.POSITIVE_INFINITY;
  }

  pop(): Entry<T> | undefined {
    const merge = this.merge;
    if (merge.length === 0) return undefined;
    const q = merge[0]!;
    const top = q.take();
    this.count--;
    if (q.least === undefined) {
      q.pos = -1;
      const last = merge.pop()!;
      if (last !== q) {
        merge[0] = last;
        last.pos = 0;
        this.siftDown(0);
      }
    } else {
      this.siftDown(0);
    }
    return top;
  }

  /** Every buffered tag, in no particular order (the daemon finds its lowest uncommitted offsets). */
  *tags(): IterableIterator<T> {
    for (const q of this.merge) {
      for (let i = q.head; i < q.run.length; i++) yield q.run[i]!.tag;
      for (const e of q.strays.items) yield e.tag;
    }
  }

  private siftUp(i: number): void {
    const merge = this.merge;
    const q = merge[i]!;
    const least = q.least!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = merge[parent]!;
      if (!before(least, p.least!)) break;
      merge[i] = p;
      p.pos = i;
      i = parent;
    }
    merge[i] = q;
    q.pos = i;
  }

  private siftDown(i: number): void {
    const merge = this.merge;
    const n = merge.length;
    const q = merge[i]!;
    const least = q.least!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let cMin = merge[l]!.least!;
      if (r < n) {
        const rMin = merge[r]!.least!;
        if (before(rMin, cMin)) {
          c = r;
          cMin = rMin;
        }
      }
      if (!before(cMin, least)) break;
      const child = merge[c]!;
      merge[i] = child;
      child.pos = i;
      i = c;
    }
    merge[i] = q;
    q.pos = i;
  }
}
