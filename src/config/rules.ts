import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { Composer, isAlias, isMap, isNode, isPair, isScalar, isSeq, LineCounter, Parser, stringify, visit, type CST, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import type { z } from 'zod';
import { DETECTORS } from '../detectors/registry.js';
import type { Detector, KeyKind, Severity } from '../detectors/types.js';
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
  /** See `episodeMax` in the rules: the longest an alert episode stays open. */
  readonly episodeMaxMs: number;
  /** See `stateBudget` in the rules: the most keys held per key kind. */
  readonly stateBudget: Readonly<Record<KeyKind, number>>;
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

/**
 * Finds where a zod issue points in the YAML: the offending key for unknown keys, else the value.
 * Each map's keys are indexed once, on first use: a search of the map's items per issue made
 * reporting n unknown keys cost n², as yaml's own duplicate-key check did (see checkDocument).
 */
class Locator {
  private readonly keys = new Map<YAMLMap, Map<string, Pair>>();

  constructor(private readonly doc: Document) {}

  private pair(map: YAMLMap, key: string): Pair | undefined {
    let index = this.keys.get(map);
    if (index === undefined) {
      index = new Map();
      for (const p of map.items) {
        if (!isScalar(p.key)) continue;
        const k = String(p.key.value);
        if (!index.has(k)) index.set(k, p);
      }
      this.keys.set(map, index);
    }
    return index.get(key);
  }

  offset(path: readonly PropertyKey[], unknownKey?: string): number | undefined {
    // Walk down as far as the document goes; a missing key is reported at its parent.
    let node: unknown = this.doc.contents;
    let offset = (this.doc.contents as Node | null)?.range?.[0];
    for (const seg of path) {
      let next: unknown;
      if (isMap(node)) next = this.pair(node, String(seg));
      else if (isSeq(node)) next = node.items[Number(seg)];
      else break;
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
      const pair = this.pair(node, unknownKey);
      if (pair) offset = (pair.key as Node).range?.[0] ?? offset;
    }
    return offset;
  }
}

function issuesFromZod(error: z.ZodError, doc: Document, lines: LineCounter, file: string, raw: unknown): RulesIssue[] {
  const out: RulesIssue[] = [];
  const locator = new Locator(doc);
  for (const issue of error.issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const hint = path.length === 1 && path[0] === 'detectors' ? ' (not a detector id)' : '';
      for (const key of issue.keys) {
        const where = position(lines, locator.offset(issue.path, key));
        out.push({ code: 'FW_RULES_UNKNOWN_KEY', file, ...where, path: [...path, key].join('.'), message: `unknown key "${key}"${hint}` });
      }
      continue;
    }
    const where = position(lines, locator.offset(issue.path));
    const missing = issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined;
    out.push({
      code: missing ? 'FW_RULES_MISSING_KEY' : 'FW_RULES_INVALID_VALUE',
      file,
      ...where,
      path: path.join('.'),
      message: issue.message,
    });
  }
  return out.sort(byPosition);
}

function byPosition(a: RulesIssue, b: RulesIssue): number {
  return a.line - b.line || a.col - b.col;
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
    episodeMaxMs: parseDuration(effective.episodeMax),
    stateBudget: Object.freeze({ account: effective.stateBudget.accounts, ip: effective.stateBudget.addresses }),
    allowlist: new Allowlist(effective.allowlist),
    detectors: Object.freeze(detectors),
  });
}

/*
 * Limits on a rules file. Rules are small (rules/default.yaml, every key spelled out and
 * commented, is under 8 KB), so these are far beyond any real file; they bound what a broken
 * or hostile file can cost to reject, since `run` re-reads the file on every change.
 */
/** Size in bytes (1 MiB). */
export const MAX_RULES_BYTES = 1 << 20;
/** Nesting of maps and sequences. The rules need 5 levels; yaml's composer recurses per level. */
export const MAX_RULES_DEPTH = 64;
/** Alias nodes (`*name`). yaml resolves each alias by a scan of the document's anchors. */
export const MAX_RULES_ALIASES = 100;
/** yaml's maxAliasCount: how far aliases of aliases may expand (the "billion laughs"). */
export const MAX_RULES_ALIAS_EXPANSION = 100;

export interface ParseRulesOptions {
  /**
   * Text with no content (empty, or only comments and whitespace) means every default. True
   * for callers that pass text (`''` is how the benchmarks ask for the defaults); a rules
   * *file* with no content is an error instead (see loadRulesFile).
   */
  readonly emptyMeansDefaults?: boolean;
}

function issueAt(code: RulesIssue['code'], file: string, lines: LineCounter, offset: number | undefined, message: string): RulesIssue {
  return { code, file, ...position(lines, offset), path: '', message };
}

/**
 * How deep collections nest in the concrete syntax tree, walked with an explicit stack. This runs
 * before yaml composes the document, because the composer recurses once per level: a file of
 * 100,000 `[` overflowed the stack, and an overflow inside V8's regular-expression compiler
 * aborts the process instead of throwing. Returns the offset of the first collection too deep.
 */
function tooDeep(tokens: readonly CST.Token[]): number | undefined {
  const stack: [CST.Token, number][] = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    switch (token.type) {
      case 'document':
        if (token.value) stack.push([token.value, depth]);
        break;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection':
        if (depth >= MAX_RULES_DEPTH) return token.offset;
        for (const item of token.items as CST.CollectionItem[]) {
          if (item.key) stack.push([item.key, depth + 1]);
          if (item.value) stack.push([item.value, depth + 1]);
        }
        break;
      default:
        break;
    }
  }
  return undefined;
}

/**
 * Checks the composed document in one walk: duplicate keys, and aliases (how many, each with
 * its anchor before it, none inside the node it names). yaml's own duplicate-key check
 * (`uniqueKeys`) compares each key with every earlier key of its map, which made validation
 * quadratic in the number of keys (40,000 unknown keys took 26 s); here each map's keys go
 * through one set. Keys are compared as the property names they become, since that is where a
 * repeated key would silently win.
 */
function checkDocument(doc: Document, file: string, lines: LineCounter): RulesIssue[] {
  const issues: RulesIssue[] = [];
  const anchors = new Map<string, Node>();
  let aliases = 0;
  visit(doc, (_key, node, path) => {
    if (isAlias(node)) {
      aliases++;
      const at = node.range?.[0];
      if (aliases === MAX_RULES_ALIASES + 1) issues.push(issueAt('FW_RULES_ALIASES', file, lines, at, `more than ${MAX_RULES_ALIASES} aliases`));
      const target = anchors.get(node.source);
      if (target === undefined) issues.push(issueAt('FW_RULES_SYNTAX', file, lines, at, `alias *${node.source} has no anchor &${node.source} before it`));
      else if (path.includes(target)) issues.push(issueAt('FW_RULES_ALIASES', file, lines, at, `alias *${node.source} is inside the node it names`));
      return;
    }
    if (!isNode(node)) return;
    // The latest anchor of a name before an alias is the one it names, as in yaml.
    if (node.anchor) anchors.set(node.anchor, node);
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        // Merge keys may repeat, as in yaml.
        if (!isScalar(pair.key) || isMergeKey(pair.key)) continue;
        const name = String(pair.key.value);
        if (seen.has(name)) issues.push(issueAt('FW_RULES_SYNTAX', file, lines, pair.key.range?.[0], `duplicate key "${name}": map keys must be unique`));
        seen.add(name);
      }
    }
  });
  return issues;
}

/** Where alias expansion multiplies: the first alias naming a node that holds aliases itself. */
function expandingAlias(doc: Document): number | undefined {
  let at: number | undefined;
  visit(doc, {
    Alias(_key, alias) {
      const target = alias.resolve(doc);
      let nested = false;
      if (target) {
        visit(target, {
          Alias: () => {
            nested = true;
            return visit.BREAK;
          },
        });
      }
      if (nested || at === undefined) at = alias.range?.[0];
      return nested ? visit.BREAK : undefined;
    },
  });
  return at;
}

/** A YAML 1.1 merge key: yaml reads a plain `<<` as a symbol under `%YAML 1.1`. */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol' && key.value.description === '<<';
}

/** Where a YAML 1.1 merge (`<<: …`) takes something that is not a map or an alias of one. */
function badMerge(doc: Document): number | undefined {
  const isMapLike = (n: unknown) => isMap(n) || (isAlias(n) && isMap(n.resolve(doc)));
  let at: number | undefined;
  visit(doc, {
    Pair(_key, pair) {
      if (!isMergeKey(pair.key)) return undefined;
      const v = pair.value;
      if (isMapLike(v) || (isSeq(v) && v.items.every(isMapLike))) return undefined;
      at = (v as Node | null)?.range?.[0] ?? (pair.key as Node).range?.[0];
      return visit.BREAK;
    },
  });
  return at;
}

/** YAML text to a document, checked for everything but the schema; throws RulesError. */
function parseYaml(text: string, file: string, lines: LineCounter): Document {
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  const deep = tooDeep(tokens);
  if (deep !== undefined) throw new RulesError([issueAt('FW_RULES_TOO_LARGE', file, lines, deep, `nested more than ${MAX_RULES_DEPTH} levels deep`)]);
  const docs = [...new Composer({ prettyErrors: false, uniqueKeys: false, logLevel: 'error' }).compose(tokens, true, text.length)];
  const doc = docs[0]!;
  const issues: RulesIssue[] = doc.errors.map((e) => issueAt('FW_RULES_SYNTAX', file, lines, e.pos[0], e.message.split('\n')[0]!));
  if (docs.length > 1) issues.push(issueAt('FW_RULES_SYNTAX', file, lines, docs[1]!.range[0], 'more than one YAML document'));
  issues.push(...checkDocument(doc, file, lines));
  if (issues.length > 0) throw new RulesError(issues.sort(byPosition));
  return doc;
}

function tooLarge(file: string): RulesError {
  // No position means anything here; the start of the file is where an editor can go.
  return new RulesError([{ code: 'FW_RULES_TOO_LARGE', file, line: 1, col: 1, path: '', message: `larger than ${MAX_RULES_BYTES} bytes (1 MiB)` }]);
}

/** Parses and validates rules text. Throws RulesError listing every problem with file:line:col. */
export function parseRules(text: string, file = '<rules>', options: ParseRulesOptions = {}): Rules {
  // A UTF-16 unit is at least one byte of UTF-8, so only text short enough needs its bytes counted.
  if (text.length > MAX_RULES_BYTES || Buffer.byteLength(text, 'utf8') > MAX_RULES_BYTES) throw tooLarge(file);
  const lines = new LineCounter();
  const doc = parseYaml(text, file, lines);
  // No content (empty, only comments or whitespace), or an explicit null document.
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    if (options.emptyMeansDefaults === false) {
      throw new RulesError([issueAt('FW_RULES_EMPTY', file, lines, doc.contents?.range?.[0], 'no rules in the file (empty, or only comments); write {} for every default')]);
    }
    return compile(SCHEMA.parse({}), file);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_RULES_ALIAS_EXPANSION });
  } catch (err) {
    // Past maxAliasCount yaml stops expanding with a ReferenceError (the other alias errors
    // are caught by parseYaml's checks).
    if (err instanceof ReferenceError) {
      throw new RulesError([issueAt('FW_RULES_ALIASES', file, lines, expandingAlias(doc), `aliases expand too far (past ${MAX_RULES_ALIAS_EXPANSION}, yaml's maxAliasCount)`)]);
    }
    // Under a `%YAML 1.1` directive, some well-formed YAML still cannot become data: a merge
    // (`<<`) of something other than maps, a !!omap with a repeated key, a !!set with values.
    // yaml does not say where; a bad merge is found again, anything else is put at the start.
    const at = badMerge(doc) ?? doc.contents?.range?.[0];
    throw new RulesError([issueAt('FW_RULES_SYNTAX', file, lines, at, `cannot be read as data: ${(err as Error).message}`)]);
  }
  const result = SCHEMA.safeParse(raw);
  if (!result.success) throw new RulesError(issuesFromZod(result.error, doc, lines, file, raw));
  return compile(result.data, file);
}

/** Reads at most MAX_RULES_BYTES + 1 bytes, so an enormous file (or a device) is refused, not loaded. */
function readRulesText(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new FraudwatchError('FW_RULES_READ', `${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  try {
    const buf = Buffer.allocUnsafe(MAX_RULES_BYTES + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    if (n > MAX_RULES_BYTES) throw tooLarge(path);
    return buf.toString('utf8', 0, n);
  } catch (err) {
    if (err instanceof FraudwatchError) throw err;
    throw new FraudwatchError('FW_RULES_READ', `${path}: ${(err as Error).message}`, { path }, { cause: err });
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads a rules file. A file with no rules in it is an error (FW_RULES_EMPTY), not every
 * default: it is an empty file given by mistake, or one caught mid-write by a reload (editors
 * and config tools truncate before they write), and silently running the defaults would drop
 * every tuned threshold and allowlist.
 */
export function loadRulesFile(path: string): Rules {
  return parseRules(readRulesText(path), path, { emptyMeansDefaults: false });
}

/** Every default, no file: what `--rules` falls back to. */
export function defaultRules(): Rules {
  return parseRules('', '<defaults>');
}

/** The effective rules as YAML, for `validate` and the backtest report. */
export function effectiveYaml(rules: Rules): string {
  return `# rulesVersion: ${rules.version}\n# geo: ${describeGeo(rules.geo)}\n${stringify(rules.effective)}`;
}
