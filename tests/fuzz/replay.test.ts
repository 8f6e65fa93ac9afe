import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { loadRulesFile } from '../../src/config/rules.js';
import { decodeEvent } from '../../src/events/decode.js';
import { GeoipLiteLocator } from '../../src/geo/locator.js';
import { replayLog, type InvalidLine } from '../../src/io/replay.js';
import { hostileLine } from './events.js';
import { fuzzSeed, rng, withSeed } from './prng.js';

const locator = new GeoipLiteLocator();
const rules = loadRulesFile('rules/default.yaml');
const dir = mkdtempSync(join(tmpdir(), 'fw-fuzz-replay-'));

/** Replays as tests/replay.test.ts does, keeping the alerts' bytes and the invalid lines. */
async function replay(path: string) {
  const alerts: Alert[] = [];
  const invalid: InvalidLine[] = [];
  const result = await replayLog({ path, rules, locator, onAlert: (a) => alerts.push(a), onInvalid: (i) => invalid.push(i) });
  return { text: alerts.map((a) => JSON.stringify(a) + '\n').join(''), invalid, stats: result.stats };
}

describe('replay of the demo log with a fuzz corpus mixed in', () => {
  it('gives exactly the demo golden alerts, and one invalid outcome per corpus line', async () => {
    const seed = fuzzSeed(1_234_567);
    const r = rng(seed);
    const demo = readFileSync('fixtures/demo/events.jsonl', 'utf8').split('\n').filter((l) => l.trim() !== '');
    const demoLines = demo.map((l) => Buffer.from(l));

    // Hostile lines (a record per line: no line breaks), kept when invalid; some are real demo
    // events pushed just outside the contract, with every field else as in the log.
    const corpus: Buffer[] = [];
    const nearValid = (i: number) => {
      const ev = JSON.parse(demo[r.int(demo.length)]!) as Record<string, unknown>;
      const twist = r.pick<Record<string, unknown>>([
        { ts: 1e20 },
        { ts: 253_402_300_800_000 },
        { ts: '1969-12-31T23:59:59Z' },
        { ts: '9999-12-31T23:59:59.999-01:00' },
        { ip: 'fe80::1%eth0' },
        { accountId: `${ev.accountId}${'x'.repeat(300)}` },
        { eventId: `${ev.eventId}${'x'.repeat(300)}` },
      ]);
      return JSON.stringify({ ...ev, ...twist, eventId: `fuzz-${i}-${String(twist.eventId ?? ev.eventId)}` });
    };
    for (let i = 0; corpus.length < 3_000; i++) {
      // Near-valid lines are invalid by the contract, whatever the decoder says; a random
      // hostile line can happen to be a valid event, and is left out then.
      const near = i % 5 === 0;
      const line = near ? nearValid(i) : hostileLine(r, i);
      if (/[\r\n]/.test(line) || line.trim() === '' || (!near && decodeEvent(line).ok)) continue;
      corpus.push(Buffer.from(line));
    }
    // Bytes that are not UTF-8 at all.
    for (let i = 0; i < 50; i++) corpus.push(Buffer.from(Array.from({ length: 1 + r.int(80) }, () => 0x80 + r.int(128))));

    // Corpus lines at random places among the demo's.
    const slots = new Map<number, Buffer[]>();
    for (const line of corpus) {
      const at = r.int(demoLines.length + 1);
      slots.set(at, [...(slots.get(at) ?? []), line]);
    }
    const mixed: Buffer[] = [];
    demoLines.forEach((line, i) => mixed.push(...(slots.get(i) ?? []), line));
    mixed.push(...(slots.get(demoLines.length) ?? []));
    const path = join(dir, 'mixed.jsonl');
    writeFileSync(path, Buffer.concat(mixed.flatMap((l) => [l, Buffer.from('\n')])));

    const plain = await replay('fixtures/demo/events.jsonl');
    const fuzzed = await replay(path);
    withSeed('replay', seed, () => {
      expect(fuzzed.text).toBe(readFileSync('fixtures/demo/expected-alerts.jsonl', 'utf8'));
      expect(fuzzed.stats.valid).toBe(plain.stats.valid);
      expect(fuzzed.stats.invalidTotal).toBe(plain.stats.invalidTotal + corpus.length);
      expect(fuzzed.invalid).toHaveLength(plain.invalid.length + corpus.length);
      expect(fuzzed.stats.read).toBe(mixed.length);
    });
  }, 120_000);
});
