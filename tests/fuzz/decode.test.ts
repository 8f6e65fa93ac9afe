import { describe, expect, it } from 'vitest';
import { fuzzDecoder } from './events.js';
import { fuzzSeed, rng, withSeed } from './prng.js';

describe('decoder fuzzing (short; `npm run fuzz -- --lines 1000000` for a long run)', () => {
  it('never throws, gives every line one outcome, and decodes valid events alike among hostile lines', () => {
    const seed = fuzzSeed(20_260_302);
    const summary = withSeed('decoder', seed, () => fuzzDecoder(rng(seed), 30_000));
    expect(summary.lines).toBe(30_000);
    // The mix exercises every reason, and valid events stay a good share of it.
    expect(Object.keys(summary.invalid).sort()).toEqual(['bad_ip', 'bad_ts', 'bad_value', 'invalid_json', 'missing_field', 'not_an_object', 'unknown_type', 'wrong_type']);
    expect(summary.valid).toBeGreaterThan(9_000);
  });
});
