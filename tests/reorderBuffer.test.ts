import { describe, expect, it } from 'vitest';
import { ReorderBuffer } from '../src/engine/reorderBuffer.js';
import type { FraudEvent } from '../src/events/types.js';

const ev = (ts: number, eventId: string) => ({ type: 'login', eventId, ts, accountId: 'a', ip: '192.0.2.1', success: true }) as FraudEvent;

/** A seeded LCG: integers in [0, n). */
function lcg(seed: number): (n: number) => number {
  return (n) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
}

/**
 * The reference: the entries pushed (by tag, their index), those still buffered, and the least
 * of those found by a plain scan in release order.
 */
function reference() {
  const pushed: { ts: number; id: string }[] = [];
  const buffered = new Set<number>();
  const less = (a: number, b: number) => {
    const x = pushed[a]!;
    const y = pushed[b]!;
    return x.ts !== y.ts ? x.ts < y.ts : x.id !== y.id ? x.id < y.id : a < b;
  };
  const least = () => [...buffered].reduce((m, t) => (less(t, m) ? t : m));
  return { pushed, buffered, least };
}

describe('ReorderBuffer', () => {
  it('releases by (ts, eventId), then arrival, whatever the push and pop interleaving', () => {
    const rnd = lcg(3);
    const buf = new ReorderBuffer<number>();
    const { pushed, buffered, least } = reference();
    let pops = 0;
    for (let i = 0; i < 3000; i++) {
      // Few distinct times and ids, so ties on ts and on (ts, eventId) are common.
      pushed.push({ ts: rnd(200), id: `e${rnd(30)}` });
      buf.push(ev(pushed[i]!.ts, pushed[i]!.id), i);
      buffered.add(i);
      if (rnd(3) === 0) {
        const want = least();
        expect(buf.pop()!.tag).toBe(want);
        buffered.delete(want);
        pops++;
      }
    }
    expect(pops).toBeGreaterThan(800);
    expect(buf.size).toBe(buffered.size);
    while (buffered.size > 0) {
      const want = least();
      expect(buf.peekTs()).toBe(pushed[want]!.ts);
      expect(buf.pop()!.tag).toBe(want);
      buffered.delete(want);
    }
    expect(buf.pop()).toBeUndefined();
    expect(buf.peekTs()).toBe(Number.POSITIVE_INFINITY);
  });

  it('merges sources in order whatever their own order: in order, bounded disorder, reversed, shuffled, empty and refilled', () => {
    const rnd = lcg(11);
    const buf = new ReorderBuffer<number>();
    const { pushed, buffered, least } = reference();
    // Per source, the next event time: each source has its own way of being out of order.
    const clocks = [0, 0, 0, 0, 0];
    const nextTs = (s: number): number => {
      clocks[s]! += rnd(4);
      if (s === 0) return clocks[0]!; // in order
      if (s === 1) return clocks[1]! - rnd(6); // bounded disorder
      if (s === 2) return 100_000 - clocks[2]!; // reversed
      if (s === 3) return rnd(20_000); // shuffled
      return clocks[4]! - (rnd(50) === 0 ? 5_000 : 0); // in order with rare very late events
    };
    let pops = 0;
    for (let i = 0; i < 6000; i++) {
      // Bursts from one source at a time, as partition batches come.
      const s = rnd(5);
      for (let k = rnd(40); k >= 0; k--, i++) {
        const ts = nextTs(s);
        pushed[i] = { ts, id: `e${rnd(8)}` };
        buf.push(ev(ts, pushed[i]!.id), i, `p${s}`);
        buffered.add(i);
      }
      i--;
      // Sometimes drains everything, so that sources empty and fill again.
      const n = rnd(10) === 0 ? buffered.size : rnd(60);
      for (let k = 0; k < n && buffered.size > 0; k++) {
        const want = least();
        expect(buf.peekTs()).toBe(pushed[want]!.ts);
        expect(buf.pop()!.tag).toBe(want);
        buffered.delete(want);
        pops++;
      }
      expect(buf.size).toBe(buffered.size);
    }
    expect(pops).toBeGreaterThan(3000);
    expect(new Set(buf.tags())).toEqual(buffered);
    while (buffered.size > 0) {
      const want = least();
      expect(buf.pop()!.tag).toBe(want);
      buffered.delete(want);
    }
    expect(buf.pop()).toBeUndefined();
    expect(buf.size).toBe(0);
  });

  it('a long ordered source, popped and refilled past its queue\'s compaction, comes out in order', () => {
    const buf = new ReorderBuffer<number>();
    let next = 0;
    let want = 0;
    for (let round = 0; round < 6; round++) {
      for (let k = 0; k < 7_000; k++, next++) buf.push(ev(next, `e${next}`), next, 'p0');
      for (let k = 0; k < 5_000; k++, want++) expect(buf.pop()!.tag).toBe(want);
    }
    for (let e = buf.pop(); e !== undefined; e = buf.pop(), want++) expect(e.tag).toBe(want);
    expect(want).toBe(next);
  });

  it('a pop returns the least buffered entry', () => {
    const buf = new ReorderBuffer<string>();
    for (const [ts, id] of [[5, 'b'], [3, 'z'], [5, 'a'], [9, 'a'], [3, 'a']] as const) buf.push(ev(ts, id), `${ts}${id}`);
    const order: string[] = [];
    for (let e = buf.pop(); e !== undefined; e = buf.pop()) order.push(e.tag);
    expect(order).toEqual(['3a', '3z', '5a', '5b', '9a']);
  });
});
