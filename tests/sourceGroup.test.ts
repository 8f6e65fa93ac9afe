/**
 * When a partition may stop holding back event time (src/streams/sourceGroup.ts), tested the way
 * Kafka tests its PartitionGroup, then against a simulated broker with adversarial timing: random
 * chunking and pauses, bursts after idle, skewed partitions, records in flight, slow and failed
 * lag checks. Seeded: a failure prints its seed.
 */
import { describe, expect, it } from 'vitest';
import { parseRules } from '../src/config/rules.js';
import { Pipeline } from '../src/engine/pipeline.js';
import type { FraudEvent } from '../src/events/types.js';
import { SourceGroup } from '../src/streams/sourceGroup.js';
import { StaticLocator } from '../src/geo/locator.js';
import { Rng } from '../src/generate/random.js';

describe('SourceGroup: the lag rule', () => {
  it('an unknown source holds back event time, however long it is silent', () => {
    const g = new SourceGroup<number>(200);
    g.add(0, 0);
    g.sample(0, 1_000);
    g.sample(1_000_000, 5_000);
    expect(g.lag(0)).toBe('unknown');
    expect(g.floor(0)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('a source behind its end offset holds back event time', () => {
    const g = new SourceGroup<number>(200);
    g.add(0, 0);
    g.sample(0, 1_000);
    g.onBehind(0);
    g.sample(60_000, 2_000);
    expect(g.floor(0)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('a caught-up source stops holding back only what was received a grace before the check', () => {
    const g = new SourceGroup<number>(200);
    g.add(0, 0);
    g.sample(1_000, 10_000);
    g.sample(1_150, 20_000);
    g.sample(1_300, 30_000);
    g.onCaughtUp(0, 1_350);
    // Received by 1_150 (1_350 − 200): up to 20_000; the 30_000 came after and is not covered.
    expect(g.floor(0)).toBe(20_000);
    g.onCaughtUp(0, 2_000);
    expect(g.floor(0)).toBe(30_000);
  });

  it('new data, a check that finds it behind, or a failed check forget the evidence at once', () => {
    const g = new SourceGroup<number>(200);
    g.add(0, 0);
    g.sample(100, 5_000);
    g.onCaughtUp(0, 1_000);
    expect(g.floor(0)).toBe(5_000);
    g.onData(0, 1_100);
    expect(g.floor(0)).toBe(Number.NEGATIVE_INFINITY);
    // A check issued before that data says nothing about it.
    g.onCaughtUp(0, 1_050);
    expect(g.lag(0)).toBe('unknown');
    g.onCaughtUp(0, 1_500);
    expect(g.lag(0)).toBe('caught_up');
    g.onBehind(0);
    expect(g.floor(0)).toBe(Number.NEGATIVE_INFINITY);
    g.onCaughtUp(0, 1_600);
    g.onUnknown(0);
    expect(g.floor(0)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('is quiet only when every source has been caught up without a break', () => {
    const g = new SourceGroup<number>(200);
    g.add(0, 0);
    g.add(1, 0);
    expect(g.quietSince()).toBeNaN();
    g.onCaughtUp(0, 1_000);
    expect(g.quietSince()).toBeNaN();
    g.onCaughtUp(1, 2_000);
    g.onCaughtUp(0, 3_000);
    expect(g.quietSince()).toBe(2_000);
    g.onData(1, 3_500);
    expect(g.quietSince()).toBeNaN();
  });
});

// ---- a simulated broker under adversarial timing ------------------------------------------------

const rules = parseRules('lateness: 30s\ndetectors: {}\n', 'sim.yaml');
const locator = new StaticLocator({});

interface SimEvent {
  readonly ev: FraudEvent;
  readonly partition: number;
  /** Wall clock at which the record is readable on the broker. */
  visibleAt: number;
}

interface SimOptions {
  readonly seed: number;
  /** The rule under test, or the old one: a partition silent for the grace no longer holds back. */
  readonly rule: 'lag' | 'silence';
  /** Overrides the grace drawn from the seed. */
  readonly graceMs?: number;
}

/**
 * One producer writes a log (event time increasing, disorder up to 20 s under a 30 s lateness)
 * to `partitions` partitions in chunks with pauses, sometimes a burst after a long idle; each
 * partition's records land up to 150 ms late (in flight). One consumer fetches random subsets of
 * partitions at random times; lag checks are issued every tick and answered after a random delay
 * (sometimes failing). Returns the number of late events and the release order.
 */
function simulate({ seed, rule, graceMs: graceOverride }: SimOptions): { late: number; released: string[]; events: SimEvent[] } {
  const rng = Rng.derive('source-group-sim', seed);
  const rnd = () => rng.next();
  const partitions = 1 + Math.floor(rnd() * 6);
  const weights = Array.from({ length: partitions }, () => 0.05 + rnd() ** 2);
  const wsum = weights.reduce((a, b) => a + b, 0);
  const pick = () => {
    let x = rnd() * wsum;
    for (let p = 0; p < partitions; p++) if ((x -= weights[p]!) <= 0) return p;
    return partitions - 1;
  };
  const drawn = rnd() < 0.5 ? 200 : 2_000;
  const graceMs = graceOverride ?? drawn;
  const events: SimEvent[] = [];
  let ts = Date.parse('2026-03-02T00:00:00Z');
  let wall = 0;
  const lastVisible = new Array<number>(partitions).fill(0);
  for (let chunk = 0; chunk < 40; chunk++) {
    // Pauses stay under the lateness: a real idle period longer than that may make data late.
    const r = rnd();
    wall += r < 0.1 ? 10_000 + Math.floor(rnd() * 15_000) : r < 0.5 ? 0 : Math.floor(rnd() * 3_000);
    const n = 1 + Math.floor(rnd() * (rnd() < 0.2 ? 2_000 : 100));
    for (let i = 0; i < n; i++) {
      ts += Math.floor(rnd() * 20_000);
      const p = pick();
      // Disorder up to 20 s: the log is written nearly, not exactly, in event-time order.
      const evTs = ts - Math.floor(rnd() * 20_000);
      wall += rnd() < 0.01 ? 1 : 0;
      const visibleAt = Math.max(lastVisible[p]!, wall + Math.floor(rnd() * 150));
      lastVisible[p] = visibleAt;
      events.push({ ev: { eventId: `e${events.length.toString().padStart(6, '0')}`, type: 'login', ts: evTs, accountId: `a${p}`, ip: '198.51.100.1', success: true } as FraudEvent, partition: p, visibleAt });
    }
  }
  const byPartition = Array.from({ length: partitions }, (_, p) => events.filter((e) => e.partition === p));
  const readTo = new Array<number>(partitions).fill(0);
  const released: string[] = [];
  const pipeline = new Pipeline<string>({ rules, locator, onAlert: () => undefined, onReleased: (id) => released.push(id) });
  const group = new SourceGroup<number>(graceMs);
  const lastData = new Array<number>(partitions).fill(0);
  for (let p = 0; p < partitions; p++) {
    pipeline.addSource(p);
    group.add(p, 0);
  }
  const end = Math.max(...events.map((e) => e.visibleAt)) + 120_000;
  const pending: { answerAt: number; askedAt: number; ends: number[] | undefined }[] = [];
  for (let now = 0; now < end; now += 1 + Math.floor(rnd() * 120)) {
    // A fetch of some partitions, each up to a random number of records.
    for (let p = 0; p < partitions; p++) {
      if (rnd() < 0.5) continue;
      const avail = byPartition[p]!;
      let took = 0;
      const max = 1 + Math.floor(rnd() * 500);
      while (readTo[p]! < avail.length && avail[readTo[p]!]!.visibleAt <= now && took < max) {
        const e = avail[readTo[p]!++]!;
        pipeline.push(e.ev, p, e.ev.eventId);
        took++;
      }
      if (took > 0) {
        lastData[p] = now;
        group.onData(p, now);
      }
    }
    group.sample(now, pipeline.newestTs());
    // Lag checks: the end offsets are read by the broker somewhere between asking and answering.
    if (pending.length === 0 || rnd() < 0.3) {
      const rtt = Math.floor(rnd() * 300);
      const seenAt = now + Math.floor(rnd() * rtt);
      const ends = rnd() < 0.05 ? undefined : byPartition.map((list) => list.filter((e) => e.visibleAt <= seenAt).length);
      pending.push({ answerAt: now + rtt, askedAt: now, ends });
    }
    for (let i = pending.length - 1; i >= 0; i--) {
      const c = pending[i]!;
      if (c.answerAt > now) continue;
      pending.splice(i, 1);
      for (let p = 0; p < partitions; p++) {
        if (c.ends === undefined) group.onUnknown(p);
        else if (readTo[p]! >= c.ends[p]!) group.onCaughtUp(p, c.askedAt);
        else group.onBehind(p);
      }
    }
    for (let p = 0; p < partitions; p++) {
      const silent = now - lastData[p]! >= graceMs;
      pipeline.setFloor(p, rule === 'lag' ? group.floor(p) : silent ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY);
    }
    pipeline.drain();
    if (rule === 'lag' && pipeline.buffered > 0 && now - group.quietSince() >= 30_000) pipeline.flush();
  }
  pipeline.flush();
  return { late: pipeline.stats.late, released, events };
}

describe('SourceGroup against a simulated broker with adversarial timing', () => {
  it('never lets an event arrive behind the watermark, and releases in the replay\'s order', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { late, released, events } = simulate({ seed, rule: 'lag' });
      const replay = [...events].sort((a, b) => a.ev.ts - b.ev.ts || (a.ev.eventId < b.ev.eventId ? -1 : 1)).map((e) => e.ev.eventId);
      expect(late, `seed ${seed}`).toBe(0);
      expect(released, `seed ${seed}`).toEqual(replay);
    }
  });

  it('this test can fail: idling a partition after wall-clock silence makes events late', () => {
    let late = 0;
    for (let seed = 1; seed <= 40; seed++) late += simulate({ seed, rule: 'silence' }).late;
    expect(late).toBeGreaterThan(0);
  });

  it('the grace is what covers records in flight: without it, some arrive late', () => {
    let late = 0;
    for (let seed = 1; seed <= 40; seed++) late += simulate({ seed, rule: 'lag', graceMs: 0 }).late;
    expect(late).toBeGreaterThan(0);
  });
});
