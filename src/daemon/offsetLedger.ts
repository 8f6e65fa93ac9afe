/**
 * Which read offsets of each partition are still in the reorder buffer, for the at-least-once
 * daemon's commits and flow control.
 *
 * A partition's events enter the buffer in offset order and leave it in event-time order, so the
 * offset that may be committed is that of the earliest entry not yet released. Entries are kept
 * per partition in arrival order with a released mark: the commit point moves past the released
 * head, and each entry is stepped over once. (Scanning the whole buffer at every commit, as an
 * earlier version did, cost time in proportion to the buffer at every batch, which on a long
 * backlog with one partition behind in event time grew with the log.)
 */
export interface LedgerEntry {
  readonly partition: number;
  readonly offset: number;
  released: boolean;
  /** The partition's entries it was added to (set by `add`): a partition revoked and assigned again starts anew. */
  owner?: object;
}

class PartitionEntries {
  entries: LedgerEntry[] = [];
  head = 0;
  /** Entries not yet released. */
  held = 0;
}

export class OffsetLedger {
  private readonly partitions = new Map<number, PartitionEntries>();

  /** Records an entry about to be pushed into the buffer (before the push: a late event is released at once). */
  add(entry: LedgerEntry): void {
    let p = this.partitions.get(entry.partition);
    if (p === undefined) this.partitions.set(entry.partition, (p = new PartitionEntries()));
    entry.owner = p;
    p.entries.push(entry);
    p.held++;
  }

  /** Marks an entry released (scored, or dropped as a duplicate). */
  release(entry: LedgerEntry): void {
    if (entry.released) return;
    entry.released = true;
    const p = this.partitions.get(entry.partition);
    // An entry of a partition revoked meanwhile: nothing to account for.
    if (p !== undefined && entry.owner === p) p.held--;
  }

  /** Entries of `partition` still in the buffer. */
  held(partition: number): number {
    return this.partitions.get(partition)?.held ?? 0;
  }

  /** The offset of the partition's earliest entry still buffered, or undefined when none is. */
  earliestHeld(partition: number): number | undefined {
    const p = this.partitions.get(partition);
    if (p === undefined) return undefined;
    const entries = p.entries;
    let head = p.head;
    while (head < entries.length && entries[head]!.released) head++;
    if (head === entries.length) {
      p.entries = [];
      p.head = 0;
      return undefined;
    }
    // Drop the stepped-over prefix now and then, not at every move: one copy per half of the array.
    if (head > 4096 && head * 2 > entries.length) {
      p.entries = entries.slice(head);
      head = 0;
    }
    p.head = head;
    return p.entries[head]!.offset;
  }

  /** Forgets a revoked partition. */
  remove(partition: number): void {
    this.partitions.delete(partition);
  }
}
