import { z } from 'zod';
import { bareNumberHint, formatDuration } from '../config/duration.js';
import { rulesSchema } from '../config/schema.js';
import { DETECTORS } from '../detectors/registry.js';

/**
 * The JSON Schema of the rules file, for editors (completion, hover, squiggles as you type) and
 * for CI tools that validate YAML against a schema. It is generated from the zod spec that
 * `fraudwatch validate` uses, so a new detector or option appears in it without a second list.
 *
 * It is an aid, not the judge: zod refinements have no JSON Schema form, so duration bounds are
 * only described (the pattern checks the spelling) and CIDRs are plain strings. A file the
 * schema accepts can still be refused by `fraudwatch validate`; a file it refuses is refused
 * there too.
 */

/** The spelling parseDuration reads (src/config/duration.ts), as a JSON Schema pattern. A test checks the two agree. */
export const DURATION_PATTERN = '^\\d+(\\.\\d+)?(ms|s|m|h|d)$';

/** Far past any bound a duration setting has (90d today): the upper end of the search for a maximum. */
const PROBE_CEILING_MS = 100 * 365 * 86_400_000;

/**
 * Whether `schema` is a duration field (src/config/duration.ts's `duration(min, max)`): a string
 * that answers a bare number with the unit hint. Recognised by behaviour because duration() is
 * called in every detector file and leaves no mark on the schema it returns.
 */
function isDuration(schema: unknown): schema is z.ZodString {
  if (!(schema instanceof z.ZodString)) return false;
  const r = schema.safeParse(30);
  return !r.success && r.error.issues[0]?.message === bareNumberHint(30);
}

function accepts(schema: z.ZodType, ms: number): boolean {
  return schema.safeParse(`${ms}ms`).success;
}

/**
 * The inclusive bounds of a duration field, found by asking the field itself (binary search on
 * milliseconds), so they cannot differ from what validation enforces.
 */
export function durationBounds(schema: z.ZodType): readonly [min: number, max: number] {
  const inside = [0, 1000, 60_000, 3_600_000, 86_400_000, 7 * 86_400_000].find((ms) => accepts(schema, ms));
  if (inside === undefined) throw new Error('a duration field that accepts none of 0s, 1s, 1m, 1h, 1d, 7d');
  let [lo, hi] = [0, inside];
  if (!accepts(schema, 0)) {
    // lo refused, hi accepted: narrow to the smallest accepted.
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (accepts(schema, mid)) hi = mid;
      else lo = mid;
    }
    lo = hi;
  }
  const min = lo;
  [lo, hi] = [inside, PROBE_CEILING_MS];
  if (accepts(schema, hi)) return [min, hi];
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (accepts(schema, mid)) lo = mid;
    else hi = mid;
  }
  return [min, lo];
}

/** What the top-level keys and every detector's common keys mean: shown on hover in editors. */
const TOP_LEVEL: Readonly<Record<string, string>> = {
  version: 'The rules format version. Only 1 exists.',
  lateness: 'How long the event-time reorder buffer waits for out-of-order events before scoring. 0s = eager.',
  dedupeHorizon: 'How long an eventId is remembered, in event time, to drop redelivered duplicates.',
  cooldown: 'Repeated triggers of one detector on one key within this period give one alert. Detectors may override it.',
  episodeMax: 'An alert episode older than this closes, so an incident that never stops pages again.',
  stateBudget: 'The most keys of each kind held in memory at once; beyond it the least recently active keys are evicted (and counted).',
  allowlist: 'Addresses, ranges and accounts that never raise alerts, for every detector.',
  detectors: 'The detectors, by id. Every key is optional: a missing detector runs with its defaults.',
};
const COMMON: Readonly<Record<string, string>> = {
  enabled: 'Whether the detector runs.',
  severity: 'The severity of its alerts.',
  mode: 'shadow: alerts are produced, marked "shadow": true and kept apart, for trying a rule safely.',
  cooldown: "This detector's cooldown, instead of the global one.",
  allowlist: 'Addresses, ranges and accounts this detector never alerts on (besides the global allowlist).',
};

type Json = Record<string, unknown> & { properties?: Record<string, Json>; description?: string };

function describe(node: Json | undefined, text: string): void {
  if (node === undefined) throw new Error(`no such key in the rules schema to describe: ${text}`);
  node.description = node.description ? `${text} ${node.description}` : text;
}

/** The rules file's JSON Schema (draft 2020-12), as `fraudwatch schema` prints it. */
export function rulesJsonSchema(): Record<string, unknown> {
  const json = z.toJSONSchema(rulesSchema(DETECTORS), {
    // The input a user writes: keys with defaults are optional, and defaults are shown.
    io: 'input',
    override: ({ zodSchema, jsonSchema }) => {
      if (!isDuration(zodSchema)) return;
      const [min, max] = durationBounds(zodSchema);
      jsonSchema.pattern = DURATION_PATTERN;
      // 0 is "0s" in the rules' own spelling (formatDuration says 0ms).
      const spell = (ms: number) => (ms === 0 ? '0s' : formatDuration(ms));
      jsonSchema.description = `A duration with a unit (ms, s, m, h, d), from ${spell(min)} to ${spell(max)}.`;
    },
  }) as Json;
  const root: Json = { $schema: json.$schema, title: 'fraudwatch rules', description: 'A fraudwatch rules file (`fraudwatch validate FILE` checks it).', ...json };
  for (const [key, text] of Object.entries(TOP_LEVEL)) describe(root.properties?.[key], text);
  const detectors = root.properties!.detectors!.properties!;
  for (const spec of DETECTORS) {
    const node = detectors[spec.id]!;
    describe(node, spec.description);
    for (const [key, text] of Object.entries(COMMON)) describe(node.properties?.[key], text);
  }
  return root;
}

/** `fraudwatch schema`: the rules file's JSON Schema on standard output. */
export function schemaCommand(): void {
  process.stdout.write(`${JSON.stringify(rulesJsonSchema(), null, 2)}\n`);
}
