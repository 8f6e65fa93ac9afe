import type { Alert } from '../alerts/alert.js';
import { DETECTOR_IDS } from '../detectors/registry.js';
import { alertKey } from './run.js';

/**
 * The identity of an alert across rule versions: detector, key, and the triggering event (its
 * ts and the last of `eventIds`, which the engine always makes the trigger). Not `alertId`:
 * that hashes in `rulesVersion`, so no two rule sets ever share one.
 */
export function alertIdentity(a: Alert): string {
  return `${a.detector}\u0000${alertKey(a)}\u0000${a.ts}\u0000${a.eventIds[a.eventIds.length - 1] ?? ''}`;
}

export interface DiffCounts {
  readonly detector: string;
  readonly onlyA: number;
  readonly onlyB: number;
  readonly both: number;
}

export interface AlertDiff {
  /** One per registered detector, in registry order. */
  readonly perDetector: readonly DiffCounts[];
  readonly total: DiffCounts;
  /** In each side's alert order. */
  readonly onlyA: readonly Alert[];
  readonly onlyB: readonly Alert[];
}

/**
 * Splits two alert lists into only-A, only-B and both. Compared as multisets of identities, so
 * were a detector ever to raise two alerts with one identity, each still pairs at most once.
 */
export function diffAlerts(a: readonly Alert[], b: readonly Alert[]): AlertDiff {
  const inB = new Map<string, number>();
  for (const x of b) {
    const id = alertIdentity(x);
    inB.set(id, (inB.get(id) ?? 0) + 1);
  }
  const onlyA: Alert[] = [];
  const paired = new Map<string, number>();
  const both = new Map<string, number>();
  for (const x of a) {
    const id = alertIdentity(x);
    const left = inB.get(id) ?? 0;
    if (left > 0) {
      inB.set(id, left - 1);
      paired.set(id, (paired.get(id) ?? 0) + 1);
      both.set(x.detector, (both.get(x.detector) ?? 0) + 1);
    } else {
      onlyA.push(x);
    }
  }
  const onlyB: Alert[] = [];
  for (const x of b) {
    const id = alertIdentity(x);
    const p = paired.get(id) ?? 0;
    if (p > 0) paired.set(id, p - 1);
    else onlyB.push(x);
  }
  const count = (list: readonly Alert[], d: string) => list.reduce((n, x) => n + (x.detector === d ? 1 : 0), 0);
  const perDetector = DETECTOR_IDS.map((d) => ({ detector: d, onlyA: count(onlyA, d), onlyB: count(onlyB, d), both: both.get(d) ?? 0 }));
  const total = {
    detector: 'total',
    onlyA: onlyA.length,
    onlyB: onlyB.length,
    both: perDetector.reduce((n, r) => n + r.both, 0),
  };
  return { perDetector, total, onlyA, onlyB };
}

export interface SettingChange {
  /** Dotted path in the effective rules, e.g. detectors.brute_force.threshold. */
  readonly path: string;
  /** JSON text of the value; undefined when the setting is absent on that side. */
  readonly a: string | undefined;
  readonly b: string | undefined;
}

function flatten(value: unknown, path: string, out: Map<string, string>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out);
  } else {
    out.set(path, JSON.stringify(value));
  }
}

/**
 * The settings that differ between two effective rule sets (arrays compared whole): what a
 * reader of a comparison needs first, before any alert count.
 */
export function rulesDiff(a: unknown, b: unknown): SettingChange[] {
  const fa = new Map<string, string>();
  const fb = new Map<string, string>();
  flatten(a, '', fa);
  flatten(b, '', fb);
  // Effective-rules order (registry order for detectors), A's keys first: reads like the YAML.
  const paths = [...new Set([...fa.keys(), ...fb.keys()])];
  return paths.filter((p) => fa.get(p) !== fb.get(p)).map((p) => ({ path: p, a: fa.get(p), b: fb.get(p) }));
}
