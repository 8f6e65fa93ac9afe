import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../src/events/decode.js';
import { RawValues, RecordDecoder, type DecodedRecords } from '../src/kafka/recordDecoder.js';
import { writeMixedLog } from './fuzz/mixed.js';
import { fuzzSeed, rng, withSeed, type Rng } from './fuzz/prng.js';

const dir = mkdtempSync(join(tmpdir(), 'fw-record-decoder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const demo = readFileSync('fixtures/demo/events.jsonl', 'utf8').split('\n').filter((l) => l.trim() !== '');
const quiet = pino({ level: 'silent' });

/**
 * Record values as a broker hands them over: the demo log with a seeded hostile corpus mixed in
 * (non-UTF-8 bytes, near-valid twists, random hostile lines), some null values (a tombstone) and
 * some empty ones, cut into batches of random sizes.
 */
function hostileBatches(seed: number): (Buffer | null)[][] {
  const path = join(dir, `mixed-${seed}.jsonl`);
  writeMixedLog(rng(seed), demo, 2_000, path);
  const bytes = readFileSync(path);
  const values: (Buffer | null)[] = [];
  const r = rng(seed + 1);
  let start = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, start)) {
    values.push(r.chance(0.01) ? null : bytes.subarray(start, i));
    start = i + 1;
  }
  return cut(r, values);
}

function cut(r: Rng, values: (Buffer | null)[]): (Buffer | null)[][] {
  const batches: (Buffer | null)[][] = [];
  for (let i = 0; i < values.length; ) {
    const n = 1 + r.int(r.chance(0.2) ? 3 : 1_500);
    batches.push(values.slice(i, i + n));
    i += n;
  }
  return batches;
}

function expectSame(batches: (Buffer | null)[][], got: DecodedRecords[]): void {
  expect(got).toHaveLength(batches.length);
  batches.forEach((values, b) => {
    const { results, raw } = got[b]!;
    expect(results).toHaveLength(values.length);
    values.forEach((v, i) => {
      const text = v === null ? '' : v.toString('utf8');
      // Same fields in the same order: an event is printed (alerts, dead letters) as it is.
      expect(JSON.stringify(results[i])).toBe(JSON.stringify(decodeEvent(text)));
      expect(raw.text(i)).toBe(text);
    });
  });
}

describe('decoding fetched record values on a thread of their own', () => {
  it('gives exactly what decodeEvent gives on this thread, batch by batch, hostile values included', async () => {
    const seed = fuzzSeed(20_261_203);
    const batches = hostileBatches(seed);
    const decoder = new RecordDecoder(quiet);
    try {
      expect(decoder.threaded).toBe(true);
      // All posted before any is awaited, as the daemon does while it scores earlier batches.
      const got = await Promise.all(batches.map((b) => decoder.decode(b)));
      expect(decoder.threaded).toBe(true);
      withSeed('record decoder', seed, () => {
        const flat = got.flatMap((g) => g.results);
        expect(flat.some((r) => r.ok)).toBe(true);
        expect(flat.filter((r) => !r.ok).length).toBeGreaterThan(1_000);
        expectSame(batches, got);
      });
    } finally {
      await decoder.close();
    }
  }, 60_000);

  it('decodes what the thread held, and everything after, on this thread once the thread dies', async () => {
    const seed = fuzzSeed(31_337);
    const batches = hostileBatches(seed);
    const decoder = new RecordDecoder(quiet);
    try {
      const half = Math.floor(batches.length / 2);
      const first = batches.slice(0, half).map((b) => decoder.decode(b));
      // The thread is killed with batches in its hands (as an out-of-memory end would).
      await (decoder as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      const rest = batches.slice(half).map((b) => decoder.decode(b));
      const got = await Promise.all([...first, ...rest]);
      expect(decoder.threaded).toBe(false);
      withSeed('record decoder after the thread died', seed, () => expectSame(batches, got));
    } finally {
      await decoder.close();
    }
  }, 60_000);

  it('without a thread, and after close, decodes here', async () => {
    const batches = cut(rng(5), demo.slice(0, 500).map((l) => Buffer.from(l)));
    const inline = new RecordDecoder(quiet, false);
    expect(inline.threaded).toBe(false);
    expectSame(batches, await Promise.all(batches.map((b) => inline.decode(b))));
    const closed = new RecordDecoder(quiet);
    await closed.close();
    expect(closed.threaded).toBe(false);
    expectSame(batches, await Promise.all(batches.map((b) => closed.decode(b))));
  });

  it('keeps one copy of a batch\'s values, not the fetch buffer they were slices of', () => {
    const fetch = Buffer.from(`xx${demo[0]}yy${demo[1]}`);
    const a = fetch.subarray(2, 2 + demo[0]!.length);
    const b = fetch.subarray(4 + demo[0]!.length);
    const raw = RawValues.of([a, null, b]);
    fetch.fill(0);
    expect([raw.text(0), raw.text(1), raw.text(2)]).toEqual([demo[0], '', demo[1]]);
  });
});
