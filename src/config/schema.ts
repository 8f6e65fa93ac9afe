import { z } from 'zod';
import { SEVERITIES, type DetectorSpec, type Severity } from '../detectors/types.js';
import { mmdbProblem } from '../geo/mmdb.js';
import { isCidr } from './allowlist.js';
import { duration, LATENESS_BOUNDS } from './duration.js';

export const allowlistSchema = z
  .strictObject({
    cidrs: z.array(z.string().refine(isCidr, { message: 'not an IP address or CIDR range' })).default([]),
    accounts: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

/** Keys every detector has, whatever its type. */
function commonShape(defaultSeverity: Severity, defaultCooldown: string | undefined) {
  return {
    enabled: z.boolean().default(true),
    severity: z.enum(SEVERITIES).default(defaultSeverity),
    /** shadow: alerts are produced, marked `"shadow": true` and kept apart, for trying a rule safely. */
    mode: z.enum(['enforce', 'shadow']).default('enforce'),
    /** Overrides the global cooldown for this detector (some detectors have their own default). */
    cooldown: defaultCooldown === undefined ? duration('0s', '90d').optional() : duration('0s', '90d').default(defaultCooldown),
    allowlist: allowlistSchema,
  };
}

export function detectorSchema(spec: DetectorSpec) {
  const options = spec.options as unknown as z.ZodObject;
  return z.strictObject({ ...commonShape(spec.defaultSeverity, spec.defaultCooldown), ...options.shape }).prefault({});
}

/**
 * Where addresses are located. Absent: geoip-lite's bundled data, as always (and rulesVersion as
 * it always was). `mmdb`: a MaxMind GeoIP2/GeoLite2 City file, a relative path being taken from
 * the working directory as command-line paths are. The file is checked here, so a wrong path
 * is a positioned rules error like any other: readable, a MaxMind DB, a City one.
 */
export const geoSchema = z.discriminatedUnion(
  'provider',
  [
    z.strictObject({ provider: z.literal('geoip-lite') }),
    z.strictObject({
      provider: z.literal('mmdb'),
      path: z
        .string({ error: (issue) => (issue.input === undefined ? 'required with provider mmdb: the City database file' : undefined) })
        .min(1)
        .superRefine((path, ctx) => {
          const problem = mmdbProblem(path);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
        }),
    }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'expected provider geoip-lite or mmdb' : undefined) },
);

/**
 * The default memory budget for detector state, in keys. At the bytes per key measured (about
 * 1.2 KB for an account that logs in and streams with every detector on, 0.6 KB for one only
 * seen logging in, 0.36 KB per address or network key) this holds at most about 0.5 GB of
 * account state and 0.2 GB of address state: a ceiling well under 1 GB that a deployment hits
 * only when something is wrong (a botnet's logins, an id bug upstream), and that operators
 * raise, with the heap, for a larger active population.
 */
export const DEFAULT_STATE_BUDGET = Object.freeze({ accounts: 400_000, addresses: 500_000 });
export const STATE_BUDGET_MIN = 100;
export const STATE_BUDGET_MAX = 100_000_000;

export function rulesSchema(specs: readonly DetectorSpec[]) {
  const detectors: Record<string, z.ZodType> = {};
  for (const spec of specs) detectors[spec.id] = detectorSchema(spec);
  return z.strictObject({
    version: z.literal(1).default(1),
    /** How long the reorder buffer waits for out-of-order events (event time). 0 = eager. */
    lateness: duration(...LATENESS_BOUNDS).default('30s'),
    /** How long an eventId is remembered to drop redelivered duplicates (event time). */
    dedupeHorizon: duration('0s', '7d').default('1h'),
    /** Findings of one detector on one key less than this apart are one episode, paged once. */
    cooldown: duration('0s', '90d').default('30m'),
    /** An episode older than this closes: the next finding pages again (a weekly reminder). */
    episodeMax: duration('1h', '90d').default('7d'),
    /** The most keys of each kind held at once; beyond it the least recently active are evicted. */
    stateBudget: z
      .strictObject({
        accounts: z.number().int().min(STATE_BUDGET_MIN).max(STATE_BUDGET_MAX).default(DEFAULT_STATE_BUDGET.accounts),
        addresses: z.number().int().min(STATE_BUDGET_MIN).max(STATE_BUDGET_MAX).default(DEFAULT_STATE_BUDGET.addresses),
      })
      .prefault({}),
    allowlist: allowlistSchema,
    geo: geoSchema.optional(),
    detectors: z.strictObject(detectors).prefault({}),
  });
}
