import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../src/alerts/alert.js';
import { loadRulesFile } from '../src/config/rules.js';
import { decodeEvent } from '../src/events/decode.js';
import type { DecodeResult } from '../src/events/types.js';
import { FraudwatchError } from '../src/errors.js';
import { GeoipLiteLocator } from '../src/geo/locator.js';
import { decodeLog } from '../src/io/decodeLog.js';
import { BatchReader, BatchWriter } from '../src/io/eventBatch.js';
import { replayLog, type InvalidLine } from '../src/io/replay.js';
import { writeMixedLog } from './fuzz/mixed.js';
import { fuzzSeed, rng, withSeed } from './fuzz/prng.js';

const dir = mkdtempSync(join(tmpdir(), 'fw-decode-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const demo = readFileSync('fixtures/demo/events.jsonl', 'utf8').split('\n').filter((l) => l.trim() !== '');

interface Record_ {
  readonly lineNumber: number;
  readonly result: DecodeResult;
  readonly text: string | undefined;
}

async function decodeAll(path: string, thread: boolean) {
  const records: Record_[] = [];
  let bytes = 0;
  const lines = await decodeLog(path, (result, lineNumber, text) => records.push({ lineNumber, result, text }), {
    thread,
    afterChunk: (n) => {
      bytes += n;
    },
  });
  return { records, lines, bytes };
}

/**
 * The demo log with a seeded hostile corpus mixed in (non-UTF-8 bytes, near-valid twists of its
 * own events, random hostile lines), then CRLF endings on some lines, blank lines, and no newline
 * after the last line: everything the line splitter and the decoder see in the field.
 */
function hostileLog(seed: number): string {
  const path = join(dir, `mixed-${seed}.jsonl`);
  writeMixedLog(rng(seed), demo, 2_000, path);
  const r = rng(seed + 1);
  const lines = readFileSync(path, 'latin1').split('\n');
  const out = lines.map((l) => (r.chance(0.05) ? `${l}\r` : l) + (r.chance(0.02) ? '\n   \n' : ''));
  writeFileSync(path, Buffer.from(out.join('\n').replace(/\n+$/, ''), 'latin1'));
  return path;
}

describe('decoding a log on a thread of its own', () => {
  it('hands over exactly the records the decoder gives on this thread, in order, hostile lines included', async () => {
    const seed = fuzzSeed(20_261_202);
    const path = hostileLog(seed);
    const inline = await decodeAll(path, false);
    const threaded = await decodeAll(path, true);
    withSeed('decode thread', seed, () => {
      expect(inline.records.length).toBeGreaterThan(demo.length);
      // Both kinds of record are there, so the comparison covers both paths of the batch.
      expect(inline.records.some((r) => r.result.ok)).toBe(true);
      expect(inline.records.filter((r) => !r.result.ok).length).toBeGreaterThan(1_000);
      expect(threaded.lines).toBe(inline.lines);
      expect(threaded.bytes).toBe(inline.bytes);
      expect(threaded.records.length).toBe(inline.records.length);
      for (let i = 0; i < inline.records.length; i++) {
        const a = inline.records[i]!;
        const b = threaded.records[i]!;
        expect(b.lineNumber).toBe(a.lineNumber);
        expect(b.text).toBe(a.text);
        // Same fields in the same order: an event is printed (dead letters, --invalid-out) as it is.
        expect(JSON.stringify(b.result)).toBe(JSON.stringify(a.result));
        if (a.result.ok && b.result.ok) expect(Object.keys(b.result.event)).toEqual(Object.keys(a.result.event));
      }
    });
  }, 60_000);

  it('reports every byte read, and a log of one line without a newline', async () => {
    const path = join(dir, 'one.jsonl');
    writeFileSync(path, demo[0]!);
    const threaded = await decodeAll(path, true);
    expect(threaded.lines).toBe(1);
    expect(threaded.records).toHaveLength(1);
    expect(threaded.records[0]!.result).toEqual(decodeEvent(demo[0]!));
    expect(threaded.bytes).toBe(statSync(path).size);
  });

  it('a missing file is FW_INPUT_READ, as on this thread', async () => {
    const missing = join(dir, 'nope.jsonl');
    for (const thread of [true, false]) {
      const err = await decodeAll(missing, thread).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FraudwatchError);
      expect((err as FraudwatchError).code).toBe('FW_INPUT_READ');
    }
  });

  it('an exception from the caller stops the reading and comes back as it was thrown', async () => {
    const path = join(dir, 'stop.jsonl');
    writeFileSync(path, Array.from({ length: 50 }, () => demo.join('\n')).join('\n'));
    let seen = 0;
    const stop = new FraudwatchError('FW_INPUT_INVALID', 'line 1000: stop here');
    const err = await decodeLog(path, () => {
      if (++seen === 1_000) throw stop;
    }).catch((e: unknown) => e);
    expect(err).toBe(stop);
    expect(seen).toBe(1_000);
  });
});

describe('the batch encoding', () => {
  it('rebuilds the decoder\'s records across string-table resets (a table of 7 strings, batches of 40 lines)', () => {
    const lines = [...demo.slice(0, 600), '{"type":"login"}', 'not json', '{"eventId":"x","type":"logout","ts":1,"accountId":"a"}'];
    const writer = new BatchWriter(4, 7);
    const reader = new BatchReader();
    const got: unknown[] = [];
    let resets = 0;
    for (let i = 0; i < lines.length; i += 40) {
      lines.slice(i, i + 40).forEach((l, k) => writer.add(decodeEvent(l), i + k + 1, l));
      const { batch } = writer.take(0);
      if (batch.reset) resets++;
      reader.read(batch, (result, n, text) => got.push([n, JSON.stringify(result), text]));
    }
    const want = lines.map((l, k) => {
      const r = decodeEvent(l);
      return [k + 1, JSON.stringify(r), r.ok ? undefined : l];
    });
    expect(resets).toBeGreaterThan(5);
    expect(got).toEqual(want);
  });
});

describe('replay with and without the decode thread', () => {
  it('gives the same alerts byte for byte, the same invalid lines and the same counts', async () => {
    const seed = fuzzSeed(7_7_2026);
    const path = hostileLog(seed);
    const rules = loadRulesFile('rules/default.yaml');
    const locator = new GeoipLiteLocator();
    const run = async (decodeThread: boolean) => {
      const alerts: Alert[] = [];
      const invalid: InvalidLine[] = [];
      const r = await replayLog({ path, rules, locator, decodeThread, onAlert: (a) => alerts.push(a), onInvalid: (i) => invalid.push(i) });
      return { text: alerts.map((a) => JSON.stringify(a)).join('\n'), invalid, stats: JSON.stringify(r.stats), lines: r.lines };
    };
    const inline = await run(false);
    const threaded = await run(true);
    withSeed('replay decode thread', seed, () => {
      expect(inline.text.length).toBeGreaterThan(0);
      expect(threaded.text).toBe(inline.text);
      expect(threaded.invalid).toEqual(inline.invalid);
      expect(threaded.stats).toBe(inline.stats);
      expect(threaded.lines).toBe(inline.lines);
    });
  }, 60_000);
});
