import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { defaultRules, parseRules } from '../../src/config/rules.js';
import type { KeyKind } from '../../src/detectors/types.js';
import { Pipeline } from '../../src/engine/pipeline.js';
import { decodeEvent } from '../../src/events/decode.js';
import type { FraudEvent } from '../../src/events/types.js';
import { GeoipLiteLocator } from '../../src/geo/locator.js';
import { generateLog } from '../../src/generate/generator.js';
import {
  decodeKeySnapshot,
  decodeTaskRecord,
  encodeKeySnapshot,
  encodeTaskRecord,
  parseStateKey,
  RangeCursor,
  stateKey,
  toRanges,
} from '../../src/streams/snapshot.js';
import type { KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import { StateTask } from '../../src/streams/task.js';
import { login } from '../helpers.js';

const locator = new GeoipLiteLocator();

/** A generated log with duplicates, disorder and invalid lines, decoded. */
function events(accounts: number, days: number): FraudEvent[] {
  const out: FraudEvent[] = [];
  for (const line of generateLog({ seed: 5, accounts, days }).lines) {
    const r = decodeEvent(line);
    if (r.ok) out.push(r.event);
  }
  return out;
}

function run(evs: readonly FraudEvent[], kind: KeyKind | undefined, rules = defaultRules()): Alert[] {
  const alerts: Alert[] = [];
  const p = new Pipeline<undefined>({ rules, locator, keyKind: kind, onAlert: (a) => alerts.push(a) });
  for (const ev of evs) p.push(ev, 0, undefined);
  p.flush();
  return alerts;
}

/**
 * Runs a task's pipeline and, every `every` events, "crashes" it: every key is snapshotted to
 * bytes, a fresh pipeline restores them with the saved position, the events still buffered are
 * pushed again and the released ids within the dedupe horizon remembered — what a restore from
 * the changelog does. The alerts must be the uninterrupted run's, byte for byte.
 */
function runWithRestores(
  evs: readonly FraudEvent[],
  kind: KeyKind,
  every: number,
): { alerts: Alert[]; restores: number; keys: number; processed: number; duplicates: number } {
  const rules = defaultRules();
  const alerts: Alert[] = [];
  const released: FraudEvent[] = [];
  const make = () => {
    const p = new Pipeline<FraudEvent>({ rules, locator, keyKind: kind, onAlert: (a) => alerts.push(a), onReleased: (ev) => released.push(ev) });
    p.core.trackChanges();
    return p;
  };
  let p = make();
  let processed = 0;
  let duplicates = 0;
  let restores = 0;
  let keys = 0;
  // What the changelog would hold: the latest snapshot bytes per key, written from dirty keys only.
  const changelog = new Map<string, Buffer | null>();
  for (let i = 0; i < evs.length; i++) {
    p.push(evs[i]!, 0, evs[i]!);
    if (i % every !== every - 1) continue;
    const changes = p.core.takeChanges();
    for (const k of changes.removed[kind]) changelog.set(stateKey(kind, k), null);
    for (const k of changes.dirty[kind]) {
      const snap = p.core.snapshotKey(kind, k);
      changelog.set(stateKey(kind, k), snap === undefined ? null : encodeKeySnapshot(snap));
    }
    const position = decodeTaskRecord(encodeTaskRecord({ committed: 0, processed: [], dedupeFrom: 0, position: p.position() })).position;
    const buffered = [...p.bufferedTags()];
    const next = make();
    for (const [k, v] of changelog) {
      if (v === null) continue;
      const { kind: kk, key } = parseStateKey(k)!;
      next.core.restoreKey(kk, key, decodeKeySnapshot(v));
      keys++;
    }
    next.core.takeChanges();
    next.restorePosition(position);
    const horizon = next.dedupeHorizonStart();
    for (const ev of released) if (ev.ts >= horizon) next.remember(ev.eventId, ev.ts);
    processed += p.stats.processed;
    duplicates += p.stats.duplicates;
    for (const ev of buffered.sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1))) next.push(ev, 0, ev);
    p = next;
    restores++;
  }
  p.flush();
  return { alerts, restores, keys, processed: processed + p.stats.processed, duplicates: duplicates + p.stats.duplicates };
}

describe('changelog snapshots and restore', () => {
  const evs = events(120, 21);

  it('splitting the engine by key kind gives the single engine\'s alerts', () => {
    const all = run(evs, undefined).map((a) => JSON.stringify(a)).sort();
    const split = [...run(evs, 'account'), ...run(evs, 'ip')].map((a) => JSON.stringify(a)).sort();
    expect(all.length).toBeGreaterThan(5);
    expect(split).toEqual(all);
  });

  it.each(['account', 'ip'] as const)('%s state survives a snapshot and restore every 2000 events, byte for byte', (kind) => {
    const expected = run(evs, kind).map((a) => JSON.stringify(a));
    const got = runWithRestores(evs, kind, 2000);
    expect(got.restores).toBeGreaterThan(10);
    expect(got.keys).toBeGreaterThan(100);
    expect(got.alerts.map((a) => JSON.stringify(a))).toEqual(expected);
  });

  it('a restored dedupe recognises exactly the duplicates the uninterrupted run did', () => {
    // Every 40th event comes again 90 s of event time later, long after its original was
    // released (past the lateness); restoring every 97 events puts a restore between many such
    // pairs. Each redelivery is dropped once, never scored twice.
    const redelivered: FraudEvent[] = [];
    const pending: FraudEvent[] = [];
    evs.forEach((ev, i) => {
      while (pending.length > 0 && pending[0]!.ts + 90_000 <= ev.ts) redelivered.push(pending.shift()!);
      redelivered.push(ev);
      if (i % 40 === 0) pending.push(ev);
    });
    redelivered.push(...pending);
    const whole = new Pipeline<undefined>({ rules: defaultRules(), locator, keyKind: 'account', onAlert: () => undefined });
    for (const ev of redelivered) whole.push(ev, 0, undefined);
    whole.flush();
    const got = runWithRestores(redelivered, 'account', 97);
    expect(whole.stats.duplicates).toBeGreaterThan(evs.length / 50);
    expect(got.restores).toBeGreaterThan(100);
    expect({ processed: got.processed, duplicates: got.duplicates }).toEqual({ processed: whole.stats.processed, duplicates: whole.stats.duplicates });
  });

  it('this test can fail: restoring without the saved state changes the alerts', () => {
    const expected = run(evs, 'account').map((a) => a.alertId);
    // Only the second half, as a task would see it if it restored nothing.
    const half = evs.slice(Math.floor(evs.length / 2));
    const firstHalfIds = new Set(run(evs.slice(0, Math.floor(evs.length / 2)), 'account').map((a) => a.alertId));
    const secondHalf = run(half, 'account').map((a) => a.alertId);
    expect([...firstHalfIds, ...secondHalf].sort()).not.toEqual([...expected].sort());
  });

  it('a detector with another stateVersion, or unknown, or now off, starts empty for the key; the rest is restored', () => {
    const rules = defaultRules();
    const p = new Pipeline<undefined>({ rules, locator, keyKind: 'account', onAlert: () => undefined });
    for (let i = 0; i < 12; i++) {
      const r = decodeEvent(JSON.stringify(login('acc-v', i * 10_000, '198.51.100.7', false)));
      if (!r.ok) throw new Error(r.message);
      p.push(r.event, 0, undefined);
    }
    p.flush();
    const snap = p.core.snapshotKey('account', 'acc-v')!;
    expect(Object.keys(snap.detectors)).toContain('brute_force');
    expect(snap.episodes?.brute_force).toBeDefined();
    const bf = snap.detectors.brute_force!;
    const tampered = decodeKeySnapshot(
      JSON.stringify({ ...snap, detectors: { ...snap.detectors, brute_force: { v: bf.v + 1, s: bf.s }, retired_detector: { v: 1, s: { x: 1 } } } }),
    );

    const q = new Pipeline<undefined>({ rules, locator, keyKind: 'account', onAlert: () => undefined });
    const outcome = q.core.restoreKey('account', 'acc-v', tampered);
    expect(outcome.dropped).toEqual(
      expect.arrayContaining([
        { id: 'brute_force', why: 'version' },
        { id: 'retired_detector', why: 'unknown' },
      ]),
    );
    expect(outcome.restored).toBe(Object.keys(snap.detectors).length - 1);
    const restored = q.core.snapshotKey('account', 'acc-v')!;
    expect(restored.detectors.brute_force).toBeUndefined();
    expect(restored.detectors.login_rate_anomaly).toEqual(snap.detectors.login_rate_anomaly);
    // The open episode is rules bookkeeping, not detector state: kept while the detector exists.
    expect(restored.episodes?.brute_force).toEqual(snap.episodes?.brute_force);
    // A snapshot written before episodes (cooldown: [last alert, rank]) restores as an episode of one finding.
    const old = decodeKeySnapshot(JSON.stringify({ v: 1, lastTs: snap.lastTs, detectors: {}, cooldown: { brute_force: [snap.lastTs, 2] } }));
    const s2 = new Pipeline<undefined>({ rules, locator, keyKind: 'account', onAlert: () => undefined });
    s2.core.restoreKey('account', 'acc-v', old);
    expect(s2.core.snapshotKey('account', 'acc-v')!.episodes?.brute_force).toEqual(['', snap.lastTs, snap.lastTs, 2, 1]);

    // Rules with the detector switched off: its state is not restored.
    const off = parseRules('detectors:\n  brute_force:\n    enabled: false\n', 'off.yaml');
    const r = new Pipeline<undefined>({ rules: off, locator, keyKind: 'account', onAlert: () => undefined });
    const o2 = r.core.restoreKey('account', 'acc-v', decodeKeySnapshot(encodeKeySnapshot(snap)));
    expect(o2.dropped).toContainEqual({ id: 'brute_force', why: 'unknown' });
  });

  it('a corrupt snapshot or task record is an FW_STATE_CORRUPT error the restore can log and skip', () => {
    for (const bad of ['{', '[]', '{"v":2,"lastTs":1,"detectors":{}}', '{"v":1,"lastTs":"x","detectors":{}}', '{"v":1,"lastTs":1,"detectors":{"a":5}}', '{"v":1,"lastTs":1,"detectors":{},"cooldown":{"a":[1]}}', '{"v":1,"lastTs":1,"detectors":{},"episodes":{"a":["x",1,2]}}', '{"v":1,"lastTs":1,"detectors":{},"episodes":{"a":[1,1,2,3,4]}}']) {
      expect(() => decodeKeySnapshot(bad), bad).toThrow(expect.objectContaining({ code: 'FW_STATE_CORRUPT' }));
    }
    expect(() => decodeTaskRecord('{"v":1,"committed":-1}')).toThrow(expect.objectContaining({ code: 'FW_STATE_CORRUPT' }));
    expect(() => decodeTaskRecord('{"v":99}')).toThrow(/unknown task record version/);
  });

  it('task records keep ±Infinity positions and offset ranges', () => {
    const fresh = new Pipeline<undefined>({ rules: defaultRules(), locator, onAlert: () => undefined });
    fresh.addSource(3);
    const rec = decodeTaskRecord(encodeTaskRecord({ committed: 7, processed: toRanges([9, 10, 11, 14]), dedupeFrom: 2, position: fresh.position() }));
    expect(rec.position.lastTs).toBe(Number.NEGATIVE_INFINITY);
    expect(rec.position.sources).toEqual([[3, Number.NEGATIVE_INFINITY]]);
    expect(rec.processed).toEqual([9, 12, 14, 15]);
    const c = new RangeCursor(rec.processed);
    expect([8, 9, 10, 11, 12, 13, 14, 15].map((o) => c.has(o))).toEqual([false, true, true, true, false, false, true, false]);
    expect(c.end).toBe(15);
    expect(stateKey('ip', '203.0.113.0/24')).toBe('i:203.0.113.0/24');
    expect(parseStateKey('a:acc:1')).toEqual({ kind: 'account', key: 'acc:1' });
    expect(parseStateKey('__task__')).toBeUndefined();
    // What each input partition's markers said was received travels with the record; a record
    // written before that field existed restores with nothing received.
    const withRead = decodeTaskRecord(encodeTaskRecord({ committed: 7, processed: [], dedupeFrom: 2, position: fresh.position(), read: [[0, 120], [3, 7]] }));
    expect(withRead.read).toEqual([[0, 120], [3, 7]]);
    const old = JSON.parse(encodeTaskRecord({ committed: 7, processed: [], dedupeFrom: 2, position: fresh.position() }).toString()) as Record<string, unknown>;
    delete old.read;
    expect(decodeTaskRecord(JSON.stringify(old)).read).toEqual([]);
    expect(() => decodeTaskRecord(JSON.stringify({ ...old, read: [[0, -1]] }))).toThrow(expect.objectContaining({ code: 'FW_STATE_CORRUPT' }));
  });
});

describe('stage 2: when an input partition stops holding back event time', () => {
  const task = () =>
    new StateTask({
      kind: 'account',
      topic: 'rp',
      partition: 0,
      changelogTopic: 'cl',
      changelogPartition: 0,
      inputTopic: 'in',
      inputPartitions: 2,
      alertsTopic: 'alerts',
      shadowTopic: 'alerts.shadow',
      rules: defaultRules(),
      locator,
      latenessMs: 10_000,
      idleMs: 2_000,
      log: pino({ level: 'silent' }),
    });
  /** Stage 1's lag check as of `askedAt`: input partition → offset committed at its end. */
  const check = (askedAt: number, drained: Record<number, number>) => ({ ok: true, askedAt, drained: new Map(Object.entries(drained).map(([p, o]) => [Number(p), o])) });
  let offset = 0;
  const record = (headers: Record<string, string>, value: string | null): KafkaMessage =>
    ({ offset: String(offset++), key: null, value: value === null ? null : Buffer.from(value), headers, timestamp: '0', attributes: 0, size: 0 }) as unknown as KafkaMessage;
  const event = (origin: number, ts: number, id: string) =>
    record({ 'fw-src-partition': String(origin), 'fw-src-offset': '0' }, JSON.stringify({ eventId: id, type: 'login', ts, accountId: `acc-${id}`, ip: '198.51.100.7', success: true }));
  const marker = (origin: number, read: number, ts?: number) =>
    record({ 'fw-src-partition': String(origin), 'fw-src-read': String(read), ...(ts === undefined ? {} : { 'fw-progress': String(ts) }) }, null);

  it('only once stage 1 has read the whole partition and its marker up to there has arrived', () => {
    const t = task();
    const t0 = Date.parse('2026-03-02T00:00:00Z');
    const batch = [event(0, t0, 'a'), marker(0, 5, t0), event(1, t0 + 1000, 'b'), marker(1, 3, t0 + 1000)];
    t.handle(batch);
    expect(t.pipeline.buffered).toBe(2);
    const later = Date.now() + 60_000;
    // Stage 1 committed 7 for input partition 1, but its marker so far says 3: records of that
    // partition are still on their way (say, behind a crashed instance's open transaction).
    t.tick(later, check(later, { 0: 5, 1: 7 }));
    expect(t.progress.lag(0)).toBe('caught_up');
    expect(t.progress.lag(1)).toBe('behind');
    t.tick(later + 60_000, check(later + 60_000, { 0: 5, 1: 7 }));
    expect(t.pipeline.buffered).toBe(2);
    // Drained per stage 1 and every marker in: both caught up, and after a whole lateness of
    // that the task releases what it holds.
    t.handle([marker(1, 7)]);
    t.tick(later + 61_000, check(later + 61_000, { 0: 5, 1: 7 }));
    expect(t.progress.lag(1)).toBe('caught_up');
    expect(t.pipeline.buffered).toBe(2);
    t.tick(later + 71_000, check(later + 71_000, { 0: 5, 1: 7 }));
    expect(t.pipeline.buffered).toBe(0);
    expect(t.pipeline.stats.processed).toBe(2);
  });

  it('never for a partition stage 1 has not finished, however long it is silent', () => {
    const t = task();
    const t0 = Date.parse('2026-03-02T00:00:00Z');
    t.handle([event(0, t0, 'c'), marker(0, 9, t0), marker(1, 4, t0)]);
    for (let i = 0; i < 5; i++) {
      const at = Date.now() + i * 3_600_000;
      t.tick(at, check(at, { 0: 9 }));
    }
    expect(t.progress.lag(1)).toBe('behind');
    expect(t.pipeline.buffered).toBe(1);
    // A failed check is no evidence either.
    t.tick(Date.now() + 7_200_000, { ok: false, askedAt: Date.now() + 7_200_000, drained: new Map() });
    expect(t.progress.lag(0)).toBe('unknown');
    expect(t.pipeline.buffered).toBe(1);
  });
});
