import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, LineCounter, parseDocument, stringify, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { DETECTORS } from '../detectors/registry.js';
import type { Detector, Severity } from '../detectors/types.js';
import { FraudwatchError, RulesError, type RulesIssue } from '../errors.js';
import { describeGeo, type GeoDataInfo } from '../geo/locator.js';
import { geoDataOf } from '../geo/setting.js';
import { Allowlist } from './allowlist.js';
import { parseDuration } from './duration.js';
import { rulesSchema } from './schema.js';

const SCHEMA = rulesSchema(DETECTORS);
export type EffectiveRules = z.output<typeof SCHEMA>;

/** One detector, resolved: options turned into a ready instance, durations into milliseconds. */
export interface DetectorRule {
  readonly id: string;
  readonly severity: Severity;
  readonly shadow: boolean;
  readonly cooldownMs: number;
  readonly allowlist: Allowlist;
  readonly detector: Detector;
}

/**
 * Rules as the engine uses them: validated once at the edge, then frozen. Nothing downstream
 * re-checks or re-reads the YAML; a reload builds a new Rules and swaps it in whole.
 */
export interface Rules {
  /** Short hash of the effective rules: any change that can change an alert changes it. */
  readonly version: string;
  /** The geolocation data the version names (see `rulesVersion`). */
  readonly geo: GeoDataInfo;
  readonly source: string;
  readonly effective: EffectiveRules;
  readonly latenessMs: number;
  readonly dedupeHorizonMs: number;
  readonly allowlist: Allowlist;
  /** Enabled detectors, in registry order (composites after the detectors they read). */
  readonly detectors: readonly DetectorRule[];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function position(lines: LineCounter, offset: number | undefined): { line: number; col: number } {
  if (offset === undefined) return { line: 1, col: 1 };
  return lines.linePos(offset);
}

/** Finds where a zod issue points in the YAML: the offending key for unknown keys, else the value. */
function locate(doc: Document, path: readonly PropertyKey[], unknownKey?: string): number | undefined {
  // Walk down as far as the document goes; a missing key is reported at its parent.
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0];
  for (const seg of path) {
    if (!isMap(node) && !(node && typeof node === 'object' && 'items' in node)) break;
    const items = (node as { items: unknown[] }).items;
    const next = isMap(node)
      ? items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg))
      : items[Number(seg)];
    if (next === undefined) break;
    if (isPair(next)) {
      offset = (next.key as Node | null)?.range?.[0] ?? offset;
      node = next.value;
      offset = (next.value as Node | null)?.range?.[0] ?? offset;
    } else {
      node = next;
      offset = (next as Node).range?.[0] ?? offset;
    }
  }
  if (unknownKey !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === unknownKey);
    if (pair) offset = (pair.key as Node).range?.[0] ?? offset;
  }
  return offset;
}

function issuesFromZod(error: z.ZodError, doc: Document, lines: LineCounter, file: string, raw: unknown): RulesIssue[] {
  const out: RulesIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const where = position(lines, locate(doc, issue.path, key));
        const hint = path.length === 1 && path[0] === 'detectors' ? ' (not a detector id)' : '';
        out.push({ code: 'FW_RULES_UNKNOWN_KEY', file, ...where, path: [...path, key].join('.'), message: `unknown key "${key}"${hint}` });
      }
      continue;
    }
    const where = position(lines, locate(doc, issue.path));
    const missing = issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined;
    out.push({
      code: missing ? 'FW_RULES_MISSING_KEY' : 'FW_RULES_INVALID_VALUE',
      file,
      ...where,
      path: path.join('.'),
      message: issue.message,
    });
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/**
 * The hash of the effective rules and, when the rules choose their geolocation (or a daemon's
 * --geo-db does), of the data's provider, type and build: an alert names the data it was
 * computed with. The default (no `geo`, geoip-lite) hashes the rules alone, so rulesVersion,
 * alert ids and golden files are what they were before geolocation was a setting.
 */
export function rulesVersion(effective: EffectiveRules, geo: GeoDataInfo): string {
  let material = JSON.stringify(effective);
  if (effective.geo !== undefined || geo.provider !== 'geoip-lite') material += `\u0000geo\u0000${geo.provider}\u0000${geo.databaseType}\u0000${geo.build}`;
  return createHash('sha256').update(material).digest('hex').slice(0, 12);
}

/** The same rules, naming the geolocation data actually opened (a database replaced since parsing, a daemon's --geo-db). */
export function bindGeo(rules: Rules, geo: GeoDataInfo | undefined): Rules {
  if (geo === undefined || (geo.provider === rules.geo.provider && geo.build === rules.geo.build && geo.databaseType === rules.geo.databaseType && geo.path === rules.geo.path)) return rules;
  return Object.freeze({ ...rules, geo, version: rulesVersion(rules.effective, geo) });
}

function compile(effective: EffectiveRules, source: string): Rules {
  const geo = geoDataOf(effective.geo);
  const version = rulesVersion(effective, geo);
  const globalCooldown = parseDuration(effective.cooldown);
  const detectors: DetectorRule[] = [];
  const configs = effective.detectors as Record<string, Record<string, unknown> & { enabled: boolean; severity: Severity; mode: string; cooldown?: string; allowlist: { cidrs: string[]; accounts: string[] } }>;
  for (const spec of DETECTORS) {
    const cfg = configs[spec.id];
    if (!cfg || !cfg.enabled) continue;
    const { enabled: _e, severity, mode, cooldown, allowlist, ...options } = cfg;
    detectors.push(
      Object.freeze({
        id: spec.id,
        severity,
        shadow: mode === 'shadow',
        cooldownMs: cooldown === undefined ? globalCooldown : parseDuration(cooldown),
        allowlist: new Allowlist(allowlist),
        detector: spec.create(options),
      }),
    );
  }
  return Object.freeze({
    version,
    geo,
    source,
    effective: deepFreeze(effective),
    latenessMs: parseDuration(effective.lateness),
    dedupeHorizonMs: parseDuration(effective.dedupeHorizon),
    allowlist: new Allowlist(effective.allowlist),
    detectors: Object.freeze(detectors),
  });
}

/** Parses and validates rules text. Throws RulesError listing every problem with file:line:col. */
export function parseRules(text: string, file = '<rules>'): Rules {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new RulesError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        return { code: 'FW_RULES_SYNTAX', file, line: pos.line, col: pos.col, path: '', message: e.message.split('\n')[0]! };
      }),
    );
  }
  const raw = doc.toJS() ?? {};
  const result = SCHEMA.safeParse(raw);
  if (!result.success) throw new RulesError(issuesFromZod(result.error, doc, lines, file, raw));
  return compile(result.data, file);
}

export function loadRulesFile(path: string): Rules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FraudwatchError('FW_RULES_READ', `${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  return parseRules(text, path);
}

/** Every default, no file: what `--rules` falls back to. */
export function defaultRules(): Rules {
  return parseRules('', '<defaults>');
}

/** The effective rules as YAML, for `validate` and the backtest report. */
export function effectiveYaml(rules: Rules): string {
  return `# rulesVersion: ${rules.version}\n# geo: ${describeGeo(rules.geo)}\n${stringify(rules.effective)}`;
}
