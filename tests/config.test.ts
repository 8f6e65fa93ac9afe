import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultRules, loadRulesFile, MAX_RULES_BYTES, parseRules } from '../src/config/rules.js';
import { MAX_LISTED_RULES_ISSUES, RulesError, type RulesIssue } from '../src/errors.js';
import { DETECTOR_IDS } from '../src/detectors/registry.js';

function rejection(load: () => unknown): RulesError {
  try {
    load();
  } catch (err) {
    if (err instanceof RulesError) return err;
    throw err;
  }
  throw new Error('expected the rules to be rejected');
}

function issues(text: string): RulesIssue[] {
  return [...rejection(() => parseRules(text, 'r.yaml')).issues];
}

const dir = mkdtempSync(join(tmpdir(), 'fw-rules-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** The CLI as users run it (built by `npm test` before the tests). */
function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['bin/fraudwatch.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('rules config', () => {
  it('empty rules text gives every default, every detector enabled, frozen', () => {
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

  it('finds the position of duplicate keys', () => {
    const [i, ...rest] = issues('detectors:\n  brute_force:\n    threshold: 12\n    window: 5m\n    threshold: 13\n');
    expect(rest).toHaveLength(0);
    expect(i).toMatchObject({ code: 'FW_RULES_SYNTAX', line: 5, col: 5 });
    expect(i!.message).toContain('"threshold"');
  });
});

describe('allowlist addresses', () => {
  const listed = (cidr: string) => parseRules(`allowlist:\n  cidrs: ["${cidr}"]\n`).allowlist;

  it('reads entries as events read addresses, so every spelling of an address matches the one events carry', () => {
    for (const entry of ['1.2.3.4', '::ffff:1.2.3.4', '::FFFF:1.2.3.4', '::ffff:102:304', '::ffff:1.2.3.0/120', '1.2.3.0/24']) {
      expect(listed(entry).hasAddress('1.2.3.4'), entry).toBe(true);
      expect(listed(entry).hasAddress('9.9.9.9'), entry).toBe(false);
    }
    expect(listed('::ffff:10.0.0.0/104').hasAddress('10.200.1.1')).toBe(true);
    expect(listed('2001:DB8:0:0::/32').hasAddress('2001:db8:1::1')).toBe(true);
    expect(listed('0:0:0:0:0:0:0:1').hasAddress('::1')).toBe(true);
    // The deprecated IPv4-compatible form is its own IPv6 address, as in events.
    expect(listed('::1.2.3.4').hasAddress('1.2.3.4')).toBe(false);
    expect(listed('::1.2.3.4').hasAddress('::102:304')).toBe(true);
  });

  it.each(['fe80::1%eth0', 'fe80::%eth0/64', '10/8', '010.0.0.0/8', '0x0a.0.0.0/8', '1.2.3.4/33', '::ffff:1.2.3.0/95x', '1.2.3.0/024', '::/129', '1.2.3.4/'])(
    'rejects %s at its position, as the decoder rejects such an address',
    (entry) => {
      expect(issues(`allowlist:\n  cidrs: ["${entry}"]\n`)).toEqual([
        expect.objectContaining({ code: 'FW_RULES_INVALID_VALUE', line: 2, col: 11, path: 'allowlist.cidrs.0' }),
      ]);
    },
  );
});

describe('rules files that are huge, hostile or empty', () => {
  it('validates 80,000 unknown keys in linear time (quadratic took minutes: the test timeout fails it)', () => {
    // Short keys keep the file under the size limit.
    const text = ['cooldown: 30m', ...Array.from({ length: 80_000 }, (_, i) => `k${i}: 1`), ''].join('\n');
    expect(Buffer.byteLength(text)).toBeLessThan(MAX_RULES_BYTES);
    const err = rejection(() => parseRules(text, 'r.yaml'));
    expect(err.total).toBe(80_000);
    expect(err.issues[0]).toMatchObject({ code: 'FW_RULES_UNKNOWN_KEY', line: 2, col: 1, path: 'k0' });
    expect(err.issues[MAX_LISTED_RULES_ISSUES - 1]).toMatchObject({ line: MAX_LISTED_RULES_ISSUES + 1, path: `k${MAX_LISTED_RULES_ISSUES - 1}` });
  });

  it('lists the first 50 problems and says how many more there are', () => {
    const cidrs = Array.from({ length: 200 }, (_, i) => `  - not-a-network-${i}`);
    const err = rejection(() => parseRules(['allowlist:', '  cidrs:', ...cidrs, ''].join('\n'), 'r.yaml'));
    expect(err.total).toBe(200);
    expect(err.issues).toHaveLength(MAX_LISTED_RULES_ISSUES + 1);
    expect(err.issues.slice(0, MAX_LISTED_RULES_ISSUES).map((i) => i.line)).toEqual(Array.from({ length: MAX_LISTED_RULES_ISSUES }, (_, i) => i + 3));
    // The last entry stands for the rest, at the first unlisted problem.
    expect(err.issues.at(-1)).toMatchObject({ code: 'FW_RULES_INVALID_VALUE', line: MAX_LISTED_RULES_ISSUES + 3, col: 5 });
    expect(err.issues.at(-1)!.message).toContain('150 more');
    expect(err.message.split('\n')).toHaveLength(MAX_LISTED_RULES_ISSUES + 1);
  });

  it('rejects a file over 1 MiB, however valid, without reading all of it', () => {
    const padding = '# a long comment\n'.repeat(Math.ceil(MAX_RULES_BYTES / 17) + 1);
    const big = file('big.yaml', `cooldown: 30m\n${padding}`);
    const err = rejection(() => loadRulesFile(big));
    expect(err.issues).toEqual([expect.objectContaining({ code: 'FW_RULES_TOO_LARGE', file: big, line: 1, col: 1 })]);
    expect(err.code).toBe('FW_RULES_TOO_LARGE');
    expect(rejection(() => parseRules(`cooldown: 30m\n${padding}`)).code).toBe('FW_RULES_TOO_LARGE');
    // Just under the limit still loads.
    expect(loadRulesFile(file('fits.yaml', `cooldown: 30m\n${'#'.repeat(MAX_RULES_BYTES - 16)}\n`)).effective.cooldown).toBe('30m');
  });

  it('rejects nesting deeper than 64 levels at its position instead of overflowing the stack', () => {
    const err = rejection(() => parseRules(`detectors: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, 'r.yaml'));
    // The map under `detectors` is level 1, so the 64th bracket is the 65th level.
    expect(err.issues).toEqual([expect.objectContaining({ code: 'FW_RULES_TOO_LARGE', line: 1, col: 12 + 63 })]);
  });

  it('bounds alias expansion (a "billion laughs") with FW_RULES_ALIASES at the alias that multiplies', () => {
    const laughs = ['lol: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let i = 1; i <= 8; i++) laughs.push(`l${i}: &l${i} [${Array(10).fill(i === 1 ? '*a' : `*l${i - 1}`).join(', ')}]`);
    const err = rejection(() => parseRules(laughs.join('\n') + '\n', 'r.yaml'));
    expect(err.issues).toEqual([expect.objectContaining({ code: 'FW_RULES_ALIASES', line: 3, col: 10 })]);
  });

  it('rejects more than 100 aliases, an alias inside its own anchor and an alias with no anchor, each at its position', () => {
    const many = ['x: &x 1', ...Array.from({ length: 101 }, (_, i) => `y${i}: *x`), ''].join('\n');
    expect(issues(many).filter((i) => i.code === 'FW_RULES_ALIASES')).toEqual([expect.objectContaining({ line: 102, col: 7 })]);
    expect(issues('a: &x [1, *x]\n')).toEqual([expect.objectContaining({ code: 'FW_RULES_ALIASES', line: 1, col: 11 })]);
    expect(issues('cooldown: *nowhere\n')).toEqual([expect.objectContaining({ code: 'FW_RULES_SYNTAX', line: 1, col: 11 })]);
    // A few aliases, as a shared allowlist would use, are fine.
    const shared = parseRules('allowlist: &trusted\n  accounts: [qa-1]\ndetectors:\n  brute_force:\n    allowlist: *trusted\n');
    expect(shared.detectors.find((d) => d.id === 'brute_force')!.allowlist.hasAccount('qa-1')).toBe(true);
  });

  it('under %YAML 1.1, merges of maps work and what cannot become data is FW_RULES_SYNTAX at its position (a bare Error before)', () => {
    const merged = parseRules('%YAML 1.1\n---\ndetectors:\n  geo_surge: &quiet\n    enabled: no\n  brute_force:\n    <<: *quiet\n', 'r.yaml');
    expect(merged.detectors.map((d) => d.id)).not.toContain('brute_force');
    const [badMerge] = issues('%YAML 1.1\n---\ndetectors:\n  brute_force:\n    <<: 5\n');
    expect(badMerge).toMatchObject({ code: 'FW_RULES_SYNTAX', line: 5, col: 9 });
    expect(issues('%YAML 1.1\n---\nallowlist: !!omap [cidrs: [], cidrs: []]\n')[0]).toMatchObject({ code: 'FW_RULES_SYNTAX', line: 3 });
  });

  it.each([
    ['empty', ''],
    ['whitespace', '  \n\n\t\n'],
    ['comments', '# rules for staging\n\n   # nothing yet\n'],
    ['a null document', '---\n~\n'],
  ])('a rules file with no rules (%s) is FW_RULES_EMPTY, not every default', (name, text) => {
    const err = rejection(() => loadRulesFile(file(`${name}.yaml`, text)));
    expect(err.issues).toEqual([expect.objectContaining({ code: 'FW_RULES_EMPTY', line: expect.any(Number), col: expect.any(Number) })]);
  });

  it('`{}` is how a rules file asks for every default', () => {
    expect(loadRulesFile(file('braces.yaml', '# staging: all defaults\n{}\n')).version).toBe(defaultRules().version);
  });

  it('validate exits 1 and replay stops at start-up (exit 2) on each of these, with file:line:col', () => {
    const log = file('events.jsonl', '');
    const cases: [string, string][] = [
      [file('cli-empty.yaml', '# nothing\n'), 'FW_RULES_EMPTY'],
      [file('cli-big.yaml', '#'.repeat(MAX_RULES_BYTES + 1)), 'FW_RULES_TOO_LARGE'],
      [file('cli-aliases.yaml', 'a: &a [1, *a]\n'), 'FW_RULES_ALIASES'],
    ];
    for (const [rulesFile, code] of cases) {
      const v = cli(['validate', rulesFile]);
      expect(v.code, code).toBe(1);
      expect(v.stdout).toMatch(new RegExp(`^${rulesFile}:\\d+:\\d+ ${code} `));
      const r = cli(['replay', log, '--rules', rulesFile]);
      expect(r.code, code).toBe(2);
      expect(r.stderr).toContain(` ${code} `);
    }
  });
});
