/** The eviction warning: bounded in rate, yet every eviction is accounted for in the lines it writes. */
import { describe, expect, it } from 'vitest';
import { EvictionLog } from '../src/daemon/evictionLog.js';

interface Line {
  obj: Record<string, unknown>;
  msg: string;
}

function capture(): { log: { warn: (obj: Record<string, unknown>, msg: string) => void }; lines: Line[] } {
  const lines: Line[] = [];
  return { log: { warn: (obj, msg) => lines.push({ obj, msg }) }, lines };
}

const budget = { account: 100, ip: 200 };

describe('EvictionLog', () => {
  it('says nothing while nothing is evicted', () => {
    const { log, lines } = capture();
    const e = new EvictionLog(log as never, 60_000);
    for (let t = 0; t < 300_000; t += 200) e.check({ account: 0, ip: 0 }, budget, t);
    expect(lines).toEqual([]);
  });

  it('warns at most once per interval under a flood, with the evictions since the last warning and the totals', () => {
    const { log, lines } = capture();
    const e = new EvictionLog(log as never, 60_000);
    const counts = { account: 0, ip: 0 };
    // Five minutes of ticks every 200 ms, evicting on every one.
    for (let t = 0; t <= 300_000; t += 200) {
      counts.account += 5;
      if (t % 1000 === 0) counts.ip += 1;
      e.check(counts, budget, t);
    }
    expect(lines.length).toBe(6); // at 0, 60 s, ..., 300 s
    for (const l of lines) expect(l.obj).toMatchObject({ code: 'FW_STATE_EVICTING', budget });
    // Nothing hidden by the rate limit: the deltas add up to the totals of the last line.
    const sum = lines.reduce((a, l) => ({ account: a.account + (l.obj.evicted as typeof a).account, ip: a.ip + (l.obj.evicted as typeof a).ip }), { account: 0, ip: 0 });
    expect(sum).toEqual(lines.at(-1)!.obj.total);
    expect(lines.at(-1)!.obj.total).toEqual(counts);
  });

  it('reports a later burst after a quiet spell at once', () => {
    const { log, lines } = capture();
    const e = new EvictionLog(log as never, 60_000);
    e.check({ account: 10, ip: 0 }, budget, 0);
    e.check({ account: 10, ip: 0 }, budget, 500_000);
    e.check({ account: 12, ip: 0 }, budget, 500_200);
    expect(lines.map((l) => l.obj.evicted)).toEqual([
      { account: 10, ip: 0 },
      { account: 2, ip: 0 },
    ]);
  });
});
