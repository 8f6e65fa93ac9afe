import { describe, expect, it } from 'vitest';
import { OffsetLedger, type LedgerEntry } from '../src/daemon/offsetLedger.js';
import { fuzzSeed, rng, withSeed } from './fuzz/prng.js';

describe('the at-least-once offset ledger', () => {
  it('gives the earliest offset still buffered per partition, against a scan of every entry (seeded random arrivals and releases)', () => {
    const seed = fuzzSeed(4_242);
    const r = rng(seed);
    const ledger = new OffsetLedger();
    const partitions = 4;
    const next = new Array<number>(partitions).fill(0);
    let live: LedgerEntry[] = [];
    // What the daemon did before: every buffered entry scanned.
    const scan = (p: number): number | undefined => {
      let min: number | undefined;
      for (const e of live) if (e.partition === p && !e.released && (min === undefined || e.offset < min)) min = e.offset;
      return min;
    };
    withSeed('offset ledger', seed, () => {
      for (let step = 0; step < 40_000; step++) {
        const roll = r.int(100);
        if (roll < 55) {
          // Skewed: partition 0 gets most of the traffic; offsets skip (dead letters, transaction markers).
          const p = r.chance(0.5) ? 0 : r.int(partitions);
          const e: LedgerEntry = { partition: p, offset: next[p]!, released: false };
          next[p]! += 1 + (r.chance(0.1) ? r.int(5) : 0);
          ledger.add(e);
          live.push(e);
        } else if (roll < 98 && live.length > 0) {
          // Released out of offset order, as event time orders them; sometimes twice (idempotent).
          const e = live[r.int(live.length)]!;
          ledger.release(e);
          if (r.chance(0.05)) ledger.release(e);
        } else if (roll < 99) {
          // A revoked partition is forgotten, whatever it still held; a later assignment starts anew.
          const p = r.int(partitions);
          ledger.remove(p);
          live = live.filter((e) => e.partition !== p);
        } else {
          live = live.filter((e) => !e.released);
        }
        const p = r.int(partitions);
        expect(ledger.earliestHeld(p)).toBe(scan(p));
        expect(ledger.held(p)).toBe(live.filter((e) => e.partition === p && !e.released).length);
      }
    });
  });

  it('a release of an entry from before its partition was revoked does not count against the new assignment', () => {
    const ledger = new OffsetLedger();
    const old: LedgerEntry = { partition: 1, offset: 5, released: false };
    ledger.add(old);
    ledger.remove(1);
    const fresh: LedgerEntry = { partition: 1, offset: 9, released: false };
    ledger.add(fresh);
    ledger.release(old);
    expect(ledger.held(1)).toBe(1);
    expect(ledger.earliestHeld(1)).toBe(9);
    ledger.release(fresh);
    expect(ledger.held(1)).toBe(0);
    expect(ledger.earliestHeld(1)).toBeUndefined();
  });
});
