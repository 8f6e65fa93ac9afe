import { createHash } from 'node:crypto';
import type { Severity } from '../detectors/types.js';

/** Alert contract v1. Field order is fixed (see `toAlert`) so equal alerts are equal bytes. */
export interface Alert {
  readonly alertId: string;
  readonly detector: string;
  readonly severity: Severity;
  readonly accountId?: string;
  readonly ip?: string;
  /** Event time of the triggering event, ISO-8601 UTC. */
  readonly ts: string;
  readonly summary: string;
  readonly evidence: Readonly<Record<string, unknown>>;
  readonly eventIds: readonly string[];
  readonly rulesVersion: string;
  /**
   * Present when the alert updates an open episode instead of opening one (a severity rise):
   * the opening alert's id, the episode's first event time and the findings it has had so far.
   * An alert without it opened an episode, whose id is its own alertId.
   */
  readonly episode?: { readonly id: string; readonly start: string; readonly findings: number };
  /** Present (true) only for alerts of detectors in shadow mode. */
  readonly shadow?: true;
}

export const MAX_ALERT_EVENT_IDS = 20;

/**
 * Deterministic: the same detector, key, triggering event and rules give the same id, in replay
 * and live, so a downstream consumer can de-duplicate redeliveries by alertId alone.
 */
export function alertId(detector: string, key: string, triggerEventId: string, rulesVersion: string): string {
  return createHash('sha256').update(`${detector}\u0000${key}\u0000${triggerEventId}\u0000${rulesVersion}`).digest('hex').slice(0, 32);
}

export interface AlertParts {
  readonly detector: string;
  readonly severity: Severity;
  readonly keyKind: 'account' | 'ip';
  readonly key: string;
  readonly ts: number;
  readonly triggerEventId: string;
  readonly summary: string;
  readonly evidence: Readonly<Record<string, unknown>>;
  readonly eventIds: readonly string[];
  readonly rulesVersion: string;
  readonly shadow: boolean;
  readonly episode?: { readonly id: string; readonly start: number; readonly findings: number };
}

export function toAlert(p: AlertParts): Alert {
  const ids = p.eventIds.length > MAX_ALERT_EVENT_IDS ? p.eventIds.slice(-MAX_ALERT_EVENT_IDS) : p.eventIds;
  const alert: Record<string, unknown> = {
    alertId: alertId(p.detector, p.key, p.triggerEventId, p.rulesVersion),
    detector: p.detector,
    severity: p.severity,
  };
  if (p.keyKind === 'account') alert.accountId = p.key;
  else alert.ip = p.key;
  alert.ts = new Date(p.ts).toISOString();
  alert.summary = p.summary;
  alert.evidence = p.evidence;
  alert.eventIds = ids;
  alert.rulesVersion = p.rulesVersion;
  if (p.episode !== undefined) alert.episode = { id: p.episode.id, start: new Date(p.episode.start).toISOString(), findings: p.episode.findings };
  if (p.shadow) alert.shadow = true;
  return alert as unknown as Alert;
}
