import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultRules, loadRulesFile, parseRules } from '../src/config/rules.js';
import { RulesError, type RulesIssue } from '../src/errors.js';
import { DETECTOR_IDS } from '../src/detectors/registry.js';

function issues(text: string): RulesIssue[] {
  try {
    parseRules(text, 'r.yaml');
  } catch (err) {
    if (err instanceof RulesError) return [...err.issues];
    throw err;
  }
  throw new Error('expected the rules to be rejected');
}

describe('rules config', () => {
  it('an empty file gives every default, every detector enabled, frozen', () => {
    const r = parseRules('', 'empty.yaml');
    expect(r.detectors.map((d) => d.id)).toEqual(DETECTOR_IDS);
    expect(r.latenessMs).toBe(30_000);
    expect(r.effective.cooldown).toBe('30m');
    expect(Object.isFrozen(r.effective)).toBe(true);
    expect(Object.isFrozen(r.effective.detectors)).toBe(true);
    expect(r.version).toMatch(/^[0-9a-f]{12}$/);
  });

  it('rules/default.yaml spells out exactly the built-in defaults', () => {
    const file = loadRulesFile('rules/default.yaml');
    expect(file.effective).toEqual(defaultRules().effective);
    expect(file.version).toBe(defaultRules().version);
  });

  it('the rules version changes with any effective value and not with comments or formatting', () => {
    const a = parseRules('cooldown: 30m\n');
    const b = parseRules('# a comment\ncooldown:   "30m"\n');
    const c = parseRules('cooldown: 31m\n');
    expect(a.version).toBe(b.version);
    expect(a.version).not.toBe(c.version);
  });

  it('names the line, column and path of an unknown key', () => {
    const text = ['cooldown: 30m', 'detectors:', '  brute_force:', '    threshold: 12', '    treshold: 5', ''].join('\n');
    const [i, ...rest] = issues(text);
    expect(rest).toHaveLength(0);
    expect(i).toMatchObject({ code: 'FW_RULES_UNKNOWN_KEY', file: 'r.yaml', line: 5, col: 5, path: 'detectors.brute_force.treshold' });
  });

  it('rejects an unknown detector id at its line', () => {
    const [i] = issues('detectors:\n  brute_forse:\n    enabled: true\n');
    expect(i).toMatchObject({ code: 'FW_RULES_UNKNOWN_KEY', line: 2, col: 3, path: 'detectors.brute_forse' });
    expect(i!.message).toContain('not a detector id');
  });

  it('reports every out-of-range or mistyped value, each at its own line', () => {
    const text = [
      'lateness: 2 hours', //        line 1: not a duration
      'detectors:',
      '  brute_force:',
      '    threshold: 0', //         line 4: below the minimum
      '    severity: urgent', //     line 5: not a severity
      '  geo_surge:',
      '    mode: dry-run', //        line 7: not a mode
      'allowlist:',
      '  cidrs: ["10.0.0.0/33"]', // line 9: not a CIDR
      '',
    ].join('\n');
    const found = issues(text).map((i) => [i.line, i.path, i.code]);
    expect(found).toEqual([
      [1, 'lateness', 'FW_RULES_INVALID_VALUE'],
      [4, 'detectors.brute_force.threshold', 'FW_RULES_INVALID_VALUE'],
      [5, 'detectors.brute_force.severity', 'FW_RULES_INVALID_VALUE'],
      [7, 'detectors.geo_surge.mode', 'FW_RULES_INVALID_VALUE'],
      [9, 'allowlist.cidrs.0', 'FW_RULES_INVALID_VALUE'],
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const [i] = issues('detectors:\n  brute_force: {threshold: 3\n');
    expect(i!.code).toBe('FW_RULES_SYNTAX');
    expect(i!.line).toBeGreaterThanOrEqual(2);
  });

  it('rejects duplicate keys', () => {
    expect(issues('cooldown: 1m\ncooldown: 2m\n')[0]!.code).toBe('FW_RULES_SYNTAX');
  });

  it('a missing file is FW_RULES_READ', () => {
    expect(() => loadRulesFile('no/such/rules.yaml')).toThrow(expect.objectContaining({ code: 'FW_RULES_READ' }));
  });

  it('the example rule files in rules/ are valid', () => {
    for (const f of ['rules/default.yaml']) expect(() => loadRulesFile(f)).not.toThrow();
    expect(readFileSync('rules/default.yaml', 'utf8')).toContain('brute_force');
  });
});
