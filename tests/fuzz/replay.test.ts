import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { loadRulesFile } from '../../src/config/rules.js';
import { GeoipLiteLocator } from '../../src/geo/locator.js';
import { replayLog, type InvalidLine } from '../../src/io/replay.js';
import { writeMixedLog } from './mixed.js';
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
  it('gives exactly the demo log\'s alerts, and one invalid outcome per corpus line', async () => {
    const seed = fuzzSeed(1_234_567);
    const r = rng(seed);
    const demo = readFileSync('fixtures/demo/events.jsonl', 'utf8').split('\n').filter((l) => l.trim() !== '');
    const path = join(dir, 'mixed.jsonl');
    const mixed = writeMixedLog(r, demo, 3_000, path);

    const plain = await replay('fixtures/demo/events.jsonl');
    const fuzzed = await replay(path);
    withSeed('replay', seed, () => {
      // The log's own alerts (tests/replay.test.ts holds those to the reviewed golden file).
      expect(plain.text.length).toBeGreaterThan(0);
      expect(fuzzed.text).toBe(plain.text);
      expect(fuzzed.stats.valid).toBe(plain.stats.valid);
      expect(fuzzed.stats.invalidTotal).toBe(plain.stats.invalidTotal + mixed.corpus);
      expect(fuzzed.invalid).toHaveLength(plain.invalid.length + mixed.corpus);
      expect(fuzzed.stats.read).toBe(mixed.lines);
    });
  }, 120_000);
});
