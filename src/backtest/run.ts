import type { Alert } from '../alerts/alert.js';
import type { Rules } from '../config/rules.js';
import { DETECTOR_IDS } from '../detectors/registry.js';
import type { Stats } from '../engine/stats.js';
import type { GeoLocator } from '../geo/locator.js';
import { replayLog } from '../io/replay.js';

/** One rule set run over the log: every alert it raised (shadow ones too) and the run's counters. */
export interface Side {
  /** "A" or "B". */
  readonly name: string;
  readonly rules: Rules;
  /** In the order the engine raised them (event-time order): deterministic. */
  readonly alerts: readonly Alert[];
  readonly stats: Stats;
  readonly lines: number;
  readonly elapsedMs: number;
}

export interface RunOptions {
  readonly path: string;
  readonly rules: readonly Rules[];
  /** One for every rule set, or one per rule set (rule sets with their own geo setting). */
  readonly locator: GeoLocator | readonly GeoLocator[];
  readonly latenessMs?: number;
}

/**
 * Runs each rule set over the log with `replayLog`, the exact path of `fraudwatch replay`, so a
 * backtest's alerts are byte-for-byte the alerts replay would write. One pass per rule set
 * costs a second decode of the file but keeps the two runs independent by construction.
 */
export async function runBacktest(opts: RunOptions): Promise<Side[]> {
  const sides: Side[] = [];
  for (let i = 0; i < opts.rules.length; i++) {
    const alerts: Alert[] = [];
    const locator = Array.isArray(opts.locator) ? (opts.locator as readonly GeoLocator[])[i]! : (opts.locator as GeoLocator);
    const r = await replayLog({ path: opts.path, rules: opts.rules[i]!, locator, latenessMs: opts.latenessMs, onAlert: (a) => alerts.push(a) });
    sides.push({ name: String.fromCharCode(65 + i), rules: opts.rules[i]!, alerts, stats: r.stats, lines: r.lines, elapsedMs: r.elapsedMs });
  }
  return sides;
}

export function alertKey(a: Alert): string {
  return a.accountId ?? a.ip ?? '';
}

/** One row of the per-detector table. Counts only: the same log and rules give the same row. */
export interface DetectorRow {
  readonly detector: string;
  /** Disabled detectors still get a row (so A and B line up), with zero counts. */
  readonly enabled: boolean;
  /** The detector runs in shadow mode in this rule set. */
  readonly shadowMode: boolean;
  /** Alerts raised, shadow ones included (the `shadow` column says how many). */
  readonly alerts: number;
  /** Distinct keys (accounts, addresses, networks) with at least one alert. */
  readonly keys: number;
  /** Alerts per 10,000 scored events (valid, de-duplicated). */
  readonly per10k: number;
  readonly suppressedCooldown: number;
  readonly suppressedAllowlist: number;
  readonly shadow: number;
}

function row(detector: string, enabled: boolean, shadowMode: boolean, alerts: readonly Alert[], events: number, stats: Stats, ids: readonly string[]): DetectorRow {
  const sum = (c: Record<string, number>) => ids.reduce((n, id) => n + (c[id] ?? 0), 0);
  return {
    detector,
    enabled,
    shadowMode,
    alerts: alerts.length,
    keys: new Set(alerts.map(alertKey)).size,
    per10k: events > 0 ? (alerts.length / events) * 10_000 : 0,
    suppressedCooldown: sum(stats.suppressedCooldown),
    suppressedAllowlist: sum(stats.suppressedAllowlist),
    shadow: alerts.filter((a) => a.shadow === true).length,
  };
}

/** Rows in registry order, then a total row ("total": distinct keys over all detectors). */
export function detectorRows(side: Side): { rows: DetectorRow[]; total: DetectorRow } {
  const byDetector = new Map<string, Alert[]>(DETECTOR_IDS.map((d) => [d, []]));
  for (const a of side.alerts) byDetector.get(a.detector)?.push(a);
  const enabled = new Map(side.rules.detectors.map((d) => [d.id, d]));
  const events = side.stats.processed;
  const rows = DETECTOR_IDS.map((d) => row(d, enabled.has(d), enabled.get(d)?.shadow ?? false, byDetector.get(d)!, events, side.stats, [d]));
  const total = row('total', true, false, side.alerts, events, side.stats, DETECTOR_IDS);
  return { rows, total };
}
