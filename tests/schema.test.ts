import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DURATION_PATTERN, rulesJsonSchema } from '../src/cli/schema.js';
import { parseDuration } from '../src/config/duration.js';
import { parseRules } from '../src/config/rules.js';
import { DETECTORS } from '../src/detectors/registry.js';
import { RulesError } from '../src/errors.js';

/**
 * The rules file's JSON Schema (`fraudwatch schema`, checked in as fraudwatch-rules.schema.json
 * for editors): it cannot drift from the command, it is a valid schema for a well-kept validator,
 * and it agrees with `fraudwatch validate` on real and broken files.
 */

const CHECKED_IN = 'fraudwatch-rules.schema.json';
type Node = { type?: string; default?: unknown; pattern?: string; description?: string; properties?: Record<string, Node>; additionalProperties?: unknown };

const schema = JSON.parse(readFileSync(CHECKED_IN, 'utf8')) as Node;
const ajv = new Ajv2020({ strict: true, allErrors: true });
const validate = ajv.compile(schema);

/** Every property schema in the tree with its dotted path. */
function walk(node: Node, path: string[] = []): [string, Node][] {
  return Object.entries(node.properties ?? {}).flatMap(([k, child]) => [[[...path, k].join('.'), child] as [string, Node], ...walk(child, [...path, k])]);
}

function rejectedByValidate(text: string): boolean {
  try {
    parseRules(text, 'x.yaml');
    return false;
  } catch (err) {
    if (err instanceof RulesError) return true;
    throw err;
  }
}

describe('fraudwatch-rules.schema.json', () => {
  it('is exactly what `fraudwatch schema` prints now (regenerate: fraudwatch schema > fraudwatch-rules.schema.json)', () => {
    const r = spawnSync(process.execPath, ['bin/fraudwatch.js', 'schema'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(CHECKED_IN, 'utf8')).toBe(r.stdout);
    expect(JSON.parse(r.stdout)).toEqual(rulesJsonSchema());
  });

  it('has every detector, with its description, and refuses unknown keys at every level', () => {
    const detectors = schema.properties!.detectors!.properties!;
    expect(Object.keys(detectors)).toEqual(DETECTORS.map((d) => d.id));
    for (const spec of DETECTORS) expect(detectors[spec.id]!.description).toBe(spec.description);
    const objects = [['', schema] as [string, Node], ...walk(schema)].filter(([, n]) => n.type === 'object');
    for (const [path, node] of objects) expect(node.additionalProperties, path || '(root)').toBe(false);
  });

  it('gives every duration its pattern and bounds, and the pattern reads what parseDuration reads', () => {
    const durations = walk(schema).filter(([, n]) => n.pattern === DURATION_PATTERN);
    // Every field whose default is a duration is recognised as one (none left a plain string).
    for (const [path, node] of walk(schema)) {
      if (typeof node.default === 'string' && /^\d/.test(node.default)) expect(node.pattern, path).toBe(DURATION_PATTERN);
    }
    // The detectors' own cooldowns have no default: one per detector, plus the global ones.
    expect(durations.filter(([p]) => /^detectors\.[a-z_]+\.cooldown$/.test(p))).toHaveLength(DETECTORS.length);
    for (const [path, node] of durations) expect(node.description, path).toMatch(/from \d+(ms|s|m|h|d) to \d+(ms|s|m|h|d)\.$/);
    expect(schema.properties!.lateness!.description).toContain('from 0s to 1h.');

    const pattern = new RegExp(DURATION_PATTERN);
    for (const text of ['30s', '10m', '1h', '7d', '250ms', '1.5h', '0s', '30', '30 s', '1w', '10min', '-1s', 'h', '.5h', '1.s']) {
      let parses = true;
      try {
        parseDuration(text);
      } catch {
        parses = false;
      }
      expect(pattern.test(text), text).toBe(parses);
    }
  });

  it('accepts rules/default.yaml, whose first line points editors at it', () => {
    const text = readFileSync('rules/default.yaml', 'utf8');
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
    const first = text.split('\n')[0]!;
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    expect(m, first).not.toBeNull();
    expect(resolve(dirname('rules/default.yaml'), m![1]!)).toBe(resolve(CHECKED_IN));
    // A comment: the effective rules, and so rulesVersion in every alert, are the defaults'.
    expect(parseRules(text).version).toBe(parseRules(text.split('\n').slice(1).join('\n')).version);
    expect(parseRules(text).version).toBe(parseRules('').version);
  });

  it('accepts the files validate accepts: an empty file, a shadow detector, allowlists, overrides', () => {
    const good = [
      '',
      'version: 1\nlateness: 0s\n',
      'cooldown: 1h\nallowlist:\n  cidrs: [10.0.0.0/8, "2001:db8::/32"]\n  accounts: [qa-bot]\n',
      'detectors:\n  brute_force:\n    threshold: 5\n    window: 15m\n    mode: shadow\n    cooldown: 2h\n  geo_surge:\n    enabled: false\n',
    ];
    for (const text of good) {
      expect(validate(parse(text) ?? {}), `${text}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(rejectedByValidate(text), text).toBe(false);
    }
  });

  it('refuses what validate refuses: unknown keys, bad types, enums, units and ranges', () => {
    const bad: [string, string][] = [
      ['treshold: 3\n', 'an unknown top-level key'],
      ['detectors:\n  brute_force:\n    treshold: 3\n', 'an unknown detector option'],
      ['detectors:\n  brute_forse: {}\n', 'an unknown detector id'],
      ['version: 2\n', 'another format version'],
      ['cooldown: 30\n', 'a duration without a unit'],
      ['lateness: 10 minutes\n', 'a duration in words'],
      ['detectors:\n  geo_surge:\n    minCountries: 0\n', 'a number below its minimum'],
      ['detectors:\n  brute_force:\n    threshold: 2.5\n', 'a fraction where a whole number belongs'],
      ['detectors:\n  brute_force:\n    severity: urgent\n', 'a severity that does not exist'],
      ['detectors:\n  brute_force:\n    mode: dry-run\n', 'a mode that does not exist'],
      ['detectors:\n  brute_force:\n    enabled: "yes"\n', 'a string where a boolean belongs'],
      ['allowlist:\n  cidrs: 10.0.0.0/8\n', 'a string where a list belongs'],
      ['allowlist:\n  accounts: [""]\n', 'an empty account id'],
    ];
    for (const [text, what] of bad) {
      expect(validate(parse(text)), what).toBe(false);
      expect(rejectedByValidate(text), what).toBe(true);
    }
  });

  it('describes what it cannot check, which validate still refuses (bounds of durations, CIDRs)', () => {
    // The schema checks the spelling of a duration, not its range, nor that a CIDR is one.
    for (const text of ['lateness: 2h\n', 'allowlist:\n  cidrs: [not-an-address]\n']) {
      expect(validate(parse(text)), text).toBe(true);
      expect(rejectedByValidate(text), text).toBe(true);
    }
    expect(schema.properties!.lateness!.description).toContain('from 0s to 1h');
  });
});
