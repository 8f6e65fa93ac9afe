/**
 * Checks alerts against a generator labels file, independently of the detectors: each incident
 * must get an alert of its detector on its key within its range; no trap may get an alert of a
 * detector it lists as quiet; every alert must be explained by an incident (its detector, or one
 * the labels say may also fire).
 */
import type { Alert } from '../src/alerts/alert.js';
import type { LabelsFile } from '../src/generate/generator.js';

type Keyed = { accountId: string } | { ip: string };

function keyOf(k: Keyed): string {
  return 'accountId' in k ? `a:${k.accountId}` : `i:${k.ip}`;
}

function alertKey(a: Alert): string {
  return a.accountId !== undefined ? `a:${a.accountId}` : `i:${a.ip}`;
}

function within(a: Alert, start: string, end: string): boolean {
  const t = Date.parse(a.ts);
  return t >= Date.parse(start) && t <= Date.parse(end);
}

export interface LabelCheck {
  missed: string[];
  trapViolations: string[];
  unexplained: string[];
}

export function checkAgainstLabels(alerts: readonly Alert[], labels: LabelsFile): LabelCheck {
  const missed: string[] = [];
  const trapViolations: string[] = [];
  const unexplained: string[] = [];
  for (const inc of labels.incidents) {
    const hit = alerts.some((a) => a.detector === inc.detector && alertKey(a) === keyOf(inc.key) && within(a, inc.start, inc.end));
    if (!hit) missed.push(`${inc.id} ${inc.detector} ${keyOf(inc.key)}`);
  }
  for (const trap of labels.traps) {
    for (const a of alerts) {
      if (trap.quietDetectors.includes(a.detector) && alertKey(a) === keyOf(trap.key) && within(a, trap.start, trap.end)) {
        trapViolations.push(`${trap.id} ${trap.class}: ${a.detector} ${a.summary}`);
      }
    }
  }
  for (const a of alerts) {
    const explained = labels.incidents.some(
      (inc) => alertKey(a) === keyOf(inc.key) && within(a, inc.start, inc.end) && (inc.detector === a.detector || (inc.mayAlsoFire ?? []).includes(a.detector)),
    ) || labels.traps.some((t) => alertKey(a) === keyOf(t.key) && within(a, t.start, t.end) && (t.mayAlsoFire ?? []).includes(a.detector));
    if (!explained) unexplained.push(`${a.detector} ${alertKey(a)} ${a.ts}: ${a.summary}`);
  }
  return { missed, trapViolations, unexplained };
}
