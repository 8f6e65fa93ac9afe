import { describe, expect, it } from 'vitest';
import { Deduper } from '../src/engine/dedupe.js';

const H = 60_000;

describe('Deduper', () => {
  it('drops an id seen within the horizon and keeps new ids', () => {
    const d = new Deduper(H);
    d.expire(10 * H + 5);
    expect(d.isDuplicate('a', 10 * H + 5)).toBe(false);
    expect(d.isDuplicate('b', 10 * H + 6)).toBe(false);
    expect(d.isDuplicate('a', 10 * H + 5)).toBe(true);
    d.expire(11 * H + 30_000);
    expect(d.isDuplicate('a', 10 * H + 5)).toBe(true);
    expect(d.size).toBe(2);
  });

  it('forgets an id once the clock is two generations past its event time, not before', () => {
    const d = new Deduper(H);
    d.expire(10 * H);
    d.isDuplicate('a', 10 * H + 59_999);
    d.expire(11 * H + 59_999);
    expect(d.isDuplicate('a', 10 * H + 59_999)).toBe(true);
    d.expire(12 * H);
    expect(d.isDuplicate('a', 10 * H + 59_999)).toBe(false);
  });

  it('does not record an event older than both generations', () => {
    const d = new Deduper(H);
    d.expire(20 * H);
    expect(d.isDuplicate('old', 3 * H)).toBe(false);
    expect(d.isDuplicate('old', 3 * H)).toBe(false);
    expect(d.size).toBe(0);
    expect(d.horizonStart(20 * H + 1)).toBe(19 * H);
  });

  it('a rebuilt deduper (clock set, released ids since horizonStart re-recorded) answers like the original', () => {
    // Pseudo-random release stream with late events and repeats.
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const stream: { id: string; ts: number }[] = [];
    let clock = 0;
    for (let i = 0; i < 4000; i++) {
      clock += Math.floor(rnd() * 2000);
      const late = rnd() < 0.1 ? Math.floor(rnd() * 3 * H) : 0;
      const repeat = rnd() < 0.2 && stream.length > 0 ? stream[stream.length - 1 - Math.floor(rnd() * Math.min(stream.length, 200))]! : undefined;
      stream.push(repeat ?? { id: `e${i}`, ts: clock - late });
    }
    const feed = (d: Deduper, ev: { id: string; ts: number }, now: { t: number }) => {
      if (ev.ts > now.t) {
        now.t = ev.ts;
        d.expire(ev.ts);
      }
      return d.isDuplicate(ev.id, ev.ts);
    };
    const whole = new Deduper(H);
    const wholeNow = { t: Number.NEGATIVE_INFINITY };
    const expected = stream.map((ev) => feed(whole, ev, wholeNow));
    expect(expected.filter(Boolean).length).toBeGreaterThan(100);

    for (const cut of [500, 1777, 3000]) {
      const before = new Deduper(H);
      const now = { t: Number.NEGATIVE_INFINITY };
      stream.slice(0, cut).forEach((ev) => feed(before, ev, now));
      const rebuilt = new Deduper(H);
      rebuilt.expire(now.t);
      const from = rebuilt.horizonStart(now.t);
      for (const ev of stream.slice(0, cut)) if (ev.ts >= from) rebuilt.isDuplicate(ev.id, ev.ts);
      expect(rebuilt.size).toBe(before.size);
      const got = stream.slice(cut).map((ev) => feed(rebuilt, ev, now));
      expect(got).toEqual(expected.slice(cut));
    }
  });
});
