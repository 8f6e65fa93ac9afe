/**
 * Rules-loader fuzzing: random YAML documents and mutations of rules/default.yaml, loaded as
 * text and (sometimes) as files. Whatever the text, loading returns frozen rules or throws a
 * RulesError whose every problem has a known code and a position inside the file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadRulesFile, MAX_RULES_BYTES, parseRules, type Rules } from '../../src/config/rules.js';
import { ERRORS, FraudwatchError, MAX_LISTED_RULES_ISSUES, RulesError } from '../../src/errors.js';
import { DETECTOR_IDS } from '../../src/detectors/registry.js';
import type { Rng } from './prng.js';

const DEFAULT_RULES = readFileSync(new URL('../../rules/default.yaml', import.meta.url), 'utf8');

/** Keys that mean something, and some that mean something to JavaScript or YAML instead. */
const KEYS = [
  ...DETECTOR_IDS, 'detectors', 'allowlist', 'cidrs', 'accounts', 'lateness', 'dedupeHorizon', 'cooldown', 'version', 'enabled', 'severity',
  'mode', 'threshold', 'window', 'minCountries', 'maxSpeedKmh', 'prefixV4', 'changes', 'signals', '__proto__', 'constructor', 'prototype',
  'toString', '<<', '? x', '- a', 'a: b', '', ' ', '0', '1', 'null', '~', 'true', '"quoted"', "'single'", 'é', '💥', '#', '&x', '*x',
];

const SCALARS = [
  '30s', '10m', '1h', '7d', '0s', '90d', '91d', '2 hours', '-1m', '1.5h', '1e3s', '0', '1', '-1', '2', '12', '1e400', '.inf', '-.inf', '.nan', '0x1F',
  '0o17', '1_000', 'true', 'false', 'yes', 'no', 'on', 'null', '~', '', '""', "''", 'enforce', 'shadow', 'dry-run', 'low', 'critical', 'urgent',
  '10.0.0.0/8', '::ffff:1.2.3.4', 'fe80::1%eth0', '10/8', '2001:db8::/32', '1.2.3.4/33', '"\\u0000"', '"\\ud800"', '|', '>', '!!binary aGk=',
  '!!str 5', '!!int x', '!!js/function "f"', '!custom x', '&a 1', '*a', '*nowhere', '[]', '{}', '[1, 2', '{a: 1', '- x', ': x', '%', '@', '`',
  "'it''s'", '"esc \\" aped"', 'é', '💥', '\t', '#comment', '0.0.0.0/0', 'email', 'password', 'impossible_travel',
];

function key(r: Rng): string {
  return r.chance(0.05) ? `k${r.int(1_000_000)}` : r.pick(KEYS);
}

/** A random YAML value as text, block or flow, with anchors, aliases and tags now and then. */
function yamlValue(r: Rng, indent: number, depth: number): string {
  const pad = ' '.repeat(indent);
  const props = r.chance(0.05) ? `&${r.pick(['a', 'b', 'x'])} ` : r.chance(0.03) ? `${r.pick(['!!map', '!!seq', '!!str', '!!set', '!!omap', '!t'])} ` : '';
  const kind = depth > 5 ? 0 : r.int(6);
  if (kind <= 2) return ` ${props}${r.pick(SCALARS)}`;
  if (kind === 3) {
    const items = Array.from({ length: r.int(4) }, () => (r.chance(0.7) ? `${key(r)}: ${r.pick(SCALARS)}` : r.pick(SCALARS)));
    return ` ${props}${r.chance(0.5) ? `{${items.join(', ')}}` : `[${items.join(', ')}]`}`;
  }
  if (kind === 4) {
    const items = Array.from({ length: 1 + r.int(3) }, () => `\n${pad}-${yamlValue(r, indent + 2, depth + 1)}`);
    return ` ${props}${items.join('')}`;
  }
  const entries = Array.from({ length: 1 + r.int(4) }, () => `\n${pad}${key(r)}:${yamlValue(r, indent + 2, depth + 1)}`);
  return ` ${props}${entries.join('')}`;
}

function randomYaml(r: Rng): string {
  const top = Array.from({ length: r.int(6) }, () => `${key(r)}:${yamlValue(r, 2, 1)}`);
  if (r.chance(0.1)) top.unshift(r.pick(['---', '%YAML 1.1\n---', '%YAML 1.2\n---', '# rules', '%TAG ! tag:x,2000:\n---']));
  if (r.chance(0.05)) top.push(r.pick(['---', '...', '--- second: doc']));
  return top.join('\n') + (r.chance(0.9) ? '\n' : '');
}

/** A valid rules file made from random real values, so that loads also succeed. */
function plausibleRules(r: Rng): string {
  const rules: Record<string, unknown> = {};
  if (r.chance(0.5)) rules.cooldown = r.pick(['1m', '30m', '2h']);
  if (r.chance(0.3)) rules.allowlist = { cidrs: [r.pick(['10.0.0.0/8', '::ffff:1.2.3.4', '2001:db8::/32'])], accounts: ['qa'] };
  const detectors: Record<string, unknown> = {};
  for (const id of DETECTOR_IDS) if (r.chance(0.3)) detectors[id] = r.chance(0.5) ? { enabled: r.chance(0.5) } : { mode: 'shadow', severity: 'low' };
  rules.detectors = detectors;
  return stringify(rules, { collectionStyle: r.chance(0.5) ? 'flow' : 'block' });
}

const INSERTS = ['&a ', '*a', '<<: *a\n', '!!binary ', '\t', ' ', '  ', ':', '- ', '? ', '[', ']', '{', '}', ',', '#', '"', "'", '|', '>', '\n', '\r\n', '\u0000', '\ufeff', '\ud800', '💥', '%'];

/** rules/default.yaml (or another text) with lines deleted, repeated, moved, re-indented or garbled. */
function mutate(r: Rng, text: string): string {
  let lines = text.split('\n');
  for (let i = 0, k = 1 + r.int(5); i < k; i++) {
    if (lines.length === 0) lines = [''];
    const at = r.int(lines.length);
    switch (r.int(9)) {
      case 0:
        lines.splice(at, 1);
        break;
      case 1:
        lines.splice(at, 0, lines[r.int(lines.length)]!);
        break;
      case 2: {
        const other = r.int(lines.length);
        [lines[at], lines[other]] = [lines[other]!, lines[at]!];
        break;
      }
      case 3:
        lines[at] = r.chance(0.5) ? `${' '.repeat(1 + r.int(4))}${lines[at]}` : lines[at]!.replace(/^ {1,4}/, '');
        break;
      case 4:
        lines[at] = lines[at]!.replace(/:\s.*$/, `: ${r.pick(SCALARS)}`);
        break;
      case 5:
        lines[at] = lines[at]!.replace(/^(\s*)[^:\s#]+:/, `$1${key(r)}:`);
        break;
      case 6: {
        const line = lines[at]!;
        const pos = r.int(line.length + 1);
        lines[at] = `${line.slice(0, pos)}${r.pick(INSERTS)}${line.slice(pos)}`;
        break;
      }
      case 7:
        lines = lines.slice(0, at);
        break;
      default:
        lines.splice(at, 0, `${' '.repeat(r.int(6))}${key(r)}:${yamlValue(r, 2, 3)}`);
    }
  }
  return lines.join('\n');
}

/** Now and then something at or over a limit. */
function extreme(r: Rng): string {
  switch (r.int(6)) {
    case 0:
      return `detectors: ${'['.repeat(50 + r.int(100))}${']'.repeat(r.int(200))}\n`;
    case 1: {
      const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
      for (let i = 1, k = 2 + r.int(6); i <= k; i++) laughs.push(`l${i}: &l${i} [${Array(10).fill(i === 1 ? '*a' : `*l${i - 1}`).join(', ')}]`);
      return laughs.join('\n');
    }
    case 2:
      return ['x: &x 1', ...Array.from({ length: 90 + r.int(20) }, (_, i) => `y${i}: *x`)].join('\n');
    case 3:
      return ['cooldown: 30m', ...Array.from({ length: 500 + r.int(3000) }, (_, i) => `k${i}: ${r.pick(SCALARS)}`)].join('\n');
    case 4:
      return r.pick(['', ' ', '\n\n', '# only a comment\n', '---\n', '~\n', '...\n']);
    default:
      return `cooldown: 30m\n${'#'.repeat(MAX_RULES_BYTES - 20 + r.int(40))}\n`;
  }
}

export interface RulesFuzzSummary {
  loaded: number;
  rejected: Record<string, number>;
}

function fail(message: string, text: string): never {
  throw new Error(`${message}\n  rules text (${text.length} characters): ${JSON.stringify(text.slice(0, 600))}`);
}

/** Loads one text and checks the outcome; returns the first problem's code, or undefined when it loaded. */
function check(text: string, load: () => Rules, file: string): string | undefined {
  let rules: Rules;
  try {
    rules = load();
  } catch (err) {
    if (!(err instanceof FraudwatchError) || !(err.code in ERRORS)) fail(`threw ${(err as Error)?.stack ?? String(err)}`, text);
    if (!(err instanceof RulesError)) fail(`threw ${err.code}, not a RulesError with positions: ${err.message}`, text);
    if (err.issues.length === 0 || err.issues.length > MAX_LISTED_RULES_ISSUES + 1 || err.total < err.issues.length) fail(`${err.issues.length} issues listed of ${err.total}`, text);
    const lineCount = text.split(/\r\n|\r|\n/).length;
    for (const issue of err.issues) {
      const ok =
        issue.code in ERRORS &&
        issue.code.startsWith('FW_RULES_') &&
        issue.file === file &&
        Number.isInteger(issue.line) &&
        Number.isInteger(issue.col) &&
        issue.line >= 1 &&
        issue.col >= 1 &&
        issue.line <= lineCount + 1 &&
        typeof issue.message === 'string' &&
        issue.message.length > 0;
      if (!ok) fail(`an issue without a proper code and position: ${JSON.stringify(issue)}`, text);
    }
    return err.code;
  }
  if (!Object.isFrozen(rules) || !Object.isFrozen(rules.effective) || !/^[0-9a-f]{12}$/.test(rules.version)) fail('loaded rules that are not frozen or have no version', text);
  return undefined;
}

/**
 * Loads `count` random or mutated rules texts, every tenth from a file in `dir` (the file path
 * adds the size check on reading and the empty-file rule).
 */
export function fuzzRules(r: Rng, count: number, dir: string): RulesFuzzSummary {
  const summary: RulesFuzzSummary = { loaded: 0, rejected: {} };
  for (let i = 0; i < count; i++) {
    const roll = r.int(20);
    const text =
      roll < 7 ? mutate(r, DEFAULT_RULES) : roll < 11 ? randomYaml(r) : roll < 14 ? plausibleRules(r) : roll < 17 ? mutate(r, plausibleRules(r)) : roll < 19 ? mutate(r, randomYaml(r)) : extreme(r);
    let code: string | undefined;
    if (i % 10 === 0) {
      const file = join(dir, `fuzz-${i}.yaml`);
      writeFileSync(file, text);
      code = check(text, () => loadRulesFile(file), file);
    } else {
      code = check(text, () => parseRules(text, 'fuzz.yaml'), 'fuzz.yaml');
    }
    if (code === undefined) summary.loaded++;
    else summary.rejected[code] = (summary.rejected[code] ?? 0) + 1;
  }
  return summary;
}
