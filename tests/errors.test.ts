import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, FraudwatchError } from '../src/errors.js';

describe('error catalogue', () => {
  it('documents every error code in docs/errors.md', () => {
    const readme = readFileSync('docs/errors.md', 'utf8');
    const missing = Object.keys(ERRORS).filter((code) => !readme.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('carries the code, the retriable flag and details', () => {
    const e = new FraudwatchError('FW_KAFKA_PRODUCE', 'broker down', { messages: 3 });
    expect(e.code).toBe('FW_KAFKA_PRODUCE');
    expect(e.retriable).toBe(true);
    expect(e.message).toBe('producing to Kafka failed: broker down');
    expect(e.details).toEqual({ messages: 3 });
    expect(new FraudwatchError('FW_RULES_UNKNOWN_KEY').retriable).toBe(false);
  });
});
