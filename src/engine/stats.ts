import type { InvalidReason } from '../events/types.js';

/**
 * Counters shared by every front door: replay prints them, the daemon exports them as metrics,
 * the backtest tabulates them. Plain numbers in plain objects: cheap to bump on the hot path.
 */
export class Stats {
  read = 0;
  valid = 0;
  processed = 0;
  duplicates = 0;
  late = 0;
  /**
   * Events whose scoring threw (a bug in a detector): counted in `processed` too, skipped by the
   * engine, dead-lettered by the daemon (reason processing_error), never retried.
   */
  processingErrors = 0;
  /** Keys dropped to keep state within the rules' stateBudget, per key kind (never by expiry). */
  readonly evictions: Record<'account' | 'ip', number> = { account: 0, ip: 0 };
  readonly byType: Record<string, number> = { login: 0, playback: 0, account_update: 0 };
  readonly invalid: Partial<Record<InvalidReason, number>> = {};
  readonly alerts: Record<string, number> = {};
  readonly alertsBySeverity: Record<string, number> = {};
  readonly shadowAlerts: Record<string, number> = {};
  /** "detector|severity|mode" → count, for metrics labels. */
  readonly alertsByDetectorSeverity: Record<string, number> = {};
  readonly suppressedCooldown: Record<string, number> = {};
  readonly suppressedAllowlist: Record<string, number> = {};

  get invalidTotal(): number {
    let n = 0;
    for (const v of Object.values(this.invalid)) n += v ?? 0;
    return n;
  }

  countInvalid(reason: InvalidReason): void {
    this.invalid[reason] = (this.invalid[reason] ?? 0) + 1;
  }
}

export function bump(counter: Record<string, number>, key: string): void {
  counter[key] = (counter[key] ?? 0) + 1;
}
