/**
 * The long fuzz run: `npm run fuzz -- --lines 1000000 [--rules N] [--seed S]`. The same checks as
 * the short runs in `npm test` (tests/fuzz/*.test.ts), on many more inputs and, unless --seed is
 * given, a new seed each time. The seed is printed first, and again with any failure; exit 1 then.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fuzzDecoder } from './events.js';
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
process.stdout.write(`fuzz: seed ${seed} (replay with --seed ${seed}), ${lines} decoder lines, ${rulesCount} rules files\n`);

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
  process.stdout.write(`fuzz: passed in ${((performance.now() - started) / 1000).toFixed(1)} s (seed ${seed})\n`);
} catch (err) {
  process.stderr.write(`fuzz: ${stage} FAILED with seed ${seed} (replay: npm run fuzz -- --seed ${seed} --lines ${lines}${values.rules === undefined ? '' : ` --rules ${rulesCount}`}):\n${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
