import { describe, expect, it } from 'vitest';
import { ReorderBuffer } from '../src/engine/reorderBuffer.js';
import type { FraudEvent } from '../src/events/types.js';

const ev = (ts: number, eventId: string) => ({ type: 'login', eventId, ts, accountId: 'a', ip: '192.0.2.1', success: true }) as FraudEvent;

describe('ReorderBuffer', () => {
  it('releases by (ts, eventId), then arrival, whatever the push and pop interleaving', () => {
    let seed = 3;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const buf = new ReorderBuffer<number>();
    const pushed: { ts: number; id: string }[] = [];
    const less = (a: number, b: number) => {
      const x = pushed[a]!;
      const y = pushed[b]!;
      return x.ts !== y.ts ? x.ts < y.ts : x.id !== y.id ? x.id < y.id : a < b;
    };
    // The reference: what is buffered, and its least entry found by a plain scan.
    const buffered = new Set<number>();
    const least = () => [...buffered].reduce((m, t) => (less(t, m) ? t : m));
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

  it('a pop returns the least buffered entry', () => {
    const buf = new ReorderBuffer<string>();
    for (const [ts, id] of [[5, 'b'], [3, 'z'], [5, 'a'], [9, 'a'], [3, 'a']] as const) buf.push(ev(ts, id), `${ts}${id}`);
    const order: string[] = [];
    for (let e = buf.pop(); e !== undefined; e = buf.pop()) order.push(e.tag);
    expect(order).toEqual(['3a', '3z', '5a', '5b', '9a']);
  });
});
