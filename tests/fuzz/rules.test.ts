import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuzzSeed, rng, withSeed } from './prng.js';
import { fuzzRules } from './rules.js';

describe('rules-loader fuzzing (short; `npm run fuzz` for a long run)', () => {
  it('loads frozen rules or throws a RulesError whose every problem has a code and a position', () => {
    const seed = fuzzSeed(7_919);
    const dir = mkdtempSync(join(tmpdir(), 'fw-fuzz-rules-'));
    const summary = withSeed('rules', seed, () => fuzzRules(rng(seed), 600, dir));
    // Both outcomes, and every kind of problem, are exercised.
    expect(summary.loaded).toBeGreaterThan(30);
    expect(Object.keys(summary.rejected).sort()).toEqual([
      'FW_RULES_ALIASES',
      'FW_RULES_EMPTY',
      'FW_RULES_INVALID_VALUE',
      'FW_RULES_SYNTAX',
      'FW_RULES_TOO_LARGE',
      'FW_RULES_UNKNOWN_KEY',
    ]);
  });
});
