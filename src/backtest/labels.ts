import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DETECTOR_IDS } from '../detectors/registry.js';
import { FraudwatchError } from '../errors.js';
import { parseNet, type Net } from './net.js';

/**
 * The labels file: what a backtest scores alerts against. `fraudwatch generate` writes one
 * (labels.json) for its synthetic logs; analysts can write one by hand for a real log.
 *
 * The two lists are strict (an unknown key, e.g. a misspelt "detectr", is an error, not a
 * silently ignored label); the top level only requires `version` and `incidents`, so the
 * generator's metadata (seed, counts) and future additions pass through untouched.
 */

/** A labelled key: exactly one of an account or an IP address / CIDR network. */
export type LabelKey = { readonly accountId: string } | { readonly ip: string };

export interface LabelIncident {
  readonly id: string;
  /**
   * Optional: what kind of incident this is, finer than the detector (e.g. "slow_brute_force"
   * beside "brute_force_burst", both for brute_force). With classes, a backtest also scores
   * recall per class.
   */
  readonly class?: string;
  readonly detector: string;
  readonly key: LabelKey;
  /** Event time, epoch ms (inclusive). */
  readonly start: number;
  readonly end: number;
  readonly description: string;
  readonly mayAlsoFire: readonly string[];
  /** The parsed network of an `ip` key (an address is a /32 or /128). */
  readonly net?: Net;
}

export interface LabelTrap {
  readonly id: string;
  readonly class: string;
  readonly key: LabelKey;
  readonly start: number;
  readonly end: number;
  readonly quietDetectors: readonly string[];
  readonly description: string;
  readonly mayAlsoFire: readonly string[];
  readonly net?: Net;
}

export interface Labels {
  readonly source: string;
  /**
   * How many accounts the log holds, when the labels say (`accounts`, which the generator
   * writes): the denominator of the benign-accounts-with-a-high-alert rate. Absent: counts only.
   */
  readonly accounts?: number;
  readonly incidents: readonly LabelIncident[];
  readonly traps: readonly LabelTrap[];
}

/** Same rule as event timestamps: ISO-8601 with an explicit zone, so a label means one instant. */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

const instant = z.string().refine((s) => ISO_WITH_ZONE.test(s) && !Number.isNaN(Date.parse(s)), {
  message: 'expected an ISO-8601 time with a zone, e.g. 2026-01-05T10:00:00Z',
});

const detectorId = z.string().refine((s) => DETECTOR_IDS.includes(s), {
  error: (issue) => `unknown detector "${String(issue.input)}" (known: ${DETECTOR_IDS.join(', ')})`,
});

const keySchema = z
  .strictObject({
    accountId: z.string().min(1).optional(),
    ip: z
      .string()
      .refine((s) => parseNet(s) !== undefined, { message: 'not an IP address or CIDR network' })
      .optional(),
  })
  .refine((k) => (k.accountId === undefined) !== (k.ip === undefined), {
    message: 'a key has exactly one of "accountId" or "ip"',
  });

const common = {
  id: z.string().min(1),
  key: keySchema,
  start: instant,
  end: instant,
  description: z.string().default(''),
  mayAlsoFire: z.array(detectorId).default([]),
};

const incidentSchema = z.strictObject({ ...common, class: z.string().min(1).optional(), detector: detectorId });
const trapSchema = z.strictObject({
  ...common,
  class: z.string().min(1),
  quietDetectors: z.array(detectorId).min(1, { message: 'a trap needs at least one quiet detector' }),
});

const fileSchema = z.looseObject({
  version: z.literal(1, { message: 'expected version: 1' }),
  incidents: z.array(incidentSchema),
  traps: z.array(trapSchema).default([]),
  accounts: z.number().int().min(1).optional(),
});

/** How many problems one error message lists; a broken generator can produce thousands. */
const MAX_ISSUES = 20;

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : `${out ? '.' : ''}${String(seg)}`;
  return out || '(top level)';
}

function fail(file: string, issues: string[]): never {
  const shown = issues.slice(0, MAX_ISSUES);
  const more = issues.length > MAX_ISSUES ? `\n  ... and ${issues.length - MAX_ISSUES} more` : '';
  throw new FraudwatchError('FW_LABELS_INVALID', `${file}: ${issues.length} problem(s)\n${shown.map((i) => `  ${file}: ${i}`).join('\n')}${more}`, {
    file,
    count: issues.length,
  });
}

/** Parses and validates labels JSON text. Throws FW_LABELS_INVALID listing every problem with its path. */
export function parseLabels(text: string, file = '<labels>'): Labels {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail(file, [`not JSON: ${(err as Error).message}`]);
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    fail(
      file,
      result.error.issues.map((i) =>
        i.code === 'unrecognized_keys' ? `${pathText(i.path)}: unknown key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}` : `${pathText(i.path)}: ${i.message}`,
      ),
    );
  }
  const data = result.data;
  const issues: string[] = [];
  const seen = new Map<string, string>();
  const checkCommon = (where: string, x: { id: string; start: string; end: string }) => {
    const prev = seen.get(x.id);
    if (prev !== undefined) issues.push(`${where}.id: duplicate id "${x.id}" (also ${prev})`);
    else seen.set(x.id, where);
    if (Date.parse(x.start) > Date.parse(x.end)) issues.push(`${where}: start ${x.start} is after end ${x.end}`);
  };
  data.incidents.forEach((inc, i) => checkCommon(`incidents[${i}]`, inc));
  data.traps.forEach((trap, i) => checkCommon(`traps[${i}]`, trap));
  if (issues.length > 0) fail(file, issues);

  const key = (k: { accountId?: string; ip?: string }): { key: LabelKey; net?: Net } =>
    k.accountId !== undefined ? { key: { accountId: k.accountId } } : { key: { ip: k.ip! }, net: parseNet(k.ip!)! };

  return {
    source: file,
    ...(data.accounts !== undefined ? { accounts: data.accounts } : {}),
    incidents: data.incidents.map((inc) => ({
      id: inc.id,
      ...(inc.class !== undefined ? { class: inc.class } : {}),
      detector: inc.detector,
      ...key(inc.key),
      start: Date.parse(inc.start),
      end: Date.parse(inc.end),
      description: inc.description,
      mayAlsoFire: inc.mayAlsoFire,
    })),
    traps: data.traps.map((t) => ({
      id: t.id,
      class: t.class,
      ...key(t.key),
      start: Date.parse(t.start),
      end: Date.parse(t.end),
      quietDetectors: t.quietDetectors,
      description: t.description,
      mayAlsoFire: t.mayAlsoFire,
    })),
  };
}

export function loadLabelsFile(path: string): Labels {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FraudwatchError('FW_LABELS_INVALID', `${path}: cannot read: ${(err as Error).message}`, { path }, { cause: err });
  }
  return parseLabels(text, path);
}

export function labelKeyText(key: LabelKey): string {
  return 'accountId' in key ? key.accountId : key.ip;
}

export function labelKeyKind(key: LabelKey): 'account' | 'ip' {
  return 'accountId' in key ? 'account' : 'ip';
}
