/**
 * The long fuzz run: `npm run fuzz -- --lines 1000000 [--rules N] [--seed S]`. The same checks as
 * the short runs in `npm test` (tests/fuzz/*.test.ts), on many more inputs and, unless --seed is
 * given, a new seed each time: the decoder on --lines lines, the rules loader, and a generated
 * log (400 accounts, 14 days) with --lines hostile lines mixed in, whose replay must give the
 * log's own alerts byte for byte. The seed is printed first, and again with any failure; exit 1 then.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Alert } from '../../src/alerts/alert.js';
import { loadRulesFile } from '../../src/config/rules.js';
import { generateLog } from '../../src/generate/generator.js';
import { GeoipLiteLocator } from '../../src/geo/locator.js';
import { replayLog } from '../../src/io/replay.js';
import { fuzzDecoder } from './events.js';
import { writeMixedLog } from './mixed.js';
import { rng } from './prng.js';
import { fuzzRules } from './rules.js';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    rules: { type: 'string' },
    seed: { type: 'string' },
  },
});

function count(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`fuzz: --${name} must be a non-negative integer, not ${text}\n`);
    process.exit(2);
  }
  return n;
}

const lines = count('lines', values.lines!);
// One rules text costs about as much as a thousand lines; by default the run is split evenly.
const rulesCount = values.rules === undefined ? Math.max(100, Math.round(lines / 1000)) : count('rules', values.rules);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : count('seed', values.seed);
process.stdout.write(`fuzz: seed ${seed} (replay with --seed ${seed}), ${lines} decoder lines, ${rulesCount} rules files, ${lines} hostile lines mixed into a generated log\n`);

/**
 * A real generated log (incidents, traps, its own duplicates and invalid lines) replayed alone
 * and with `corpus` hostile lines mixed in: the alerts must be the same bytes, and every corpus
 * line one more invalid outcome.
 */
async function fuzzReplay(seed: number, corpus: number, dir: string) {
  const generated = [...generateLog({ seed: seed % 1_000_000, accounts: 400, days: 14 }).lines];
  const base = join(dir, 'generated.jsonl');
  writeFileSync(base, generated.join('\n') + '\n');
  const path = join(dir, 'mixed.jsonl');
  const mixed = writeMixedLog(rng(seed ^ 0x2545f491), generated, corpus, path);
  const rules = loadRulesFile('rules/default.yaml');
  const locator = new GeoipLiteLocator();
  const run = async (file: string) => {
    let text = '';
    const result = await replayLog({ path: file, rules, locator, onAlert: (a: Alert) => (text += JSON.stringify(a) + '\n') });
    return { text, stats: result.stats };
  };
  const plain = await run(base);
  const fuzzed = await run(path);
  const fail = (what: string) => {
    throw new Error(`replay of the mixed log: ${what}`);
  };
  if (plain.text === '') fail('the generated log gave no alert, so the comparison proves nothing');
  if (fuzzed.text !== plain.text) fail(`alerts differ: ${fuzzed.text.split('\n').length - 1} against ${plain.text.split('\n').length - 1} alone`);
  if (fuzzed.stats.valid !== plain.stats.valid) fail(`valid events ${fuzzed.stats.valid}, not ${plain.stats.valid}`);
  if (fuzzed.stats.invalidTotal !== plain.stats.invalidTotal + mixed.corpus) fail(`invalid ${fuzzed.stats.invalidTotal}, not ${plain.stats.invalidTotal} + ${mixed.corpus}`);
  if (fuzzed.stats.read !== mixed.lines) fail(`read ${fuzzed.stats.read} lines of ${mixed.lines}`);
  return { events: generated.length, corpus: mixed.corpus, alerts: plain.text.split('\n').length - 1 };
}

const dir = mkdtempSync(join(tmpdir(), 'fw-fuzz-'));
const started = performance.now();
let stage = 'decoder';
try {
  let lastReport = started;
  const decoded = fuzzDecoder(rng(seed), lines, (done) => {
    if (performance.now() - lastReport > 5_000) {
      lastReport = performance.now();
      process.stdout.write(`fuzz: ${done} lines\n`);
    }
  });
  process.stdout.write(`fuzz: decoder ok: ${decoded.lines} lines, ${decoded.valid} valid, invalid ${JSON.stringify(decoded.invalid)}\n`);
  stage = 'rules';
  const rules = fuzzRules(rng(seed ^ 0x5bd1e995), rulesCount, dir);
  process.stdout.write(`fuzz: rules ok: ${rulesCount} texts, ${rules.loaded} loaded, rejected ${JSON.stringify(rules.rejected)}\n`);
  stage = 'replay';
  const mixed = await fuzzReplay(seed, lines, dir);
  process.stdout.write(`fuzz: replay ok: a generated log of ${mixed.events} lines with ${mixed.corpus} hostile lines mixed in gave its ${mixed.alerts} alerts byte for byte\n`);
  process.stdout.write(`fuzz: passed in ${((performance.now() - started) / 1000).toFixed(1)} s (seed ${seed})\n`);
} catch (err) {
  process.stderr.write(`fuzz: ${stage} FAILED with seed ${seed} (replay: npm run fuzz -- --seed ${seed} --lines ${lines}${values.rules === undefined ? '' : ` --rules ${rulesCount}`}):\n${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
