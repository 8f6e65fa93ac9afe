import type { Logger } from 'pino';
import type { KeyKind } from '../detectors/types.js';
import type { Stats } from '../engine/stats.js';

/** At most one eviction warning per this long: a flood of new keys evicts on every event. */
export const EVICTION_WARNING_INTERVAL_MS = 60_000;

/**
 * Warns, at a bounded rate, that detector state reached the rules' stateBudget and keys are
 * being evicted. Each warning carries the evictions since the previous one and the totals, so
 * nothing is hidden by the rate limit; the counter `fraudwatch_state_evictions_total` has the rest.
 */
export class EvictionLog {
  private reported: Record<KeyKind, number> = { account: 0, ip: 0 };
  private last = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = EVICTION_WARNING_INTERVAL_MS,
  ) {}

  /** Call on every tick with the current counters and the budget they are held to. */
  check(evictions: Stats['evictions'], budget: Readonly<Record<KeyKind, number>>, now = Date.now()): void {
    const account = evictions.account - this.reported.account;
    const ip = evictions.ip - this.reported.ip;
    if (account + ip === 0 || now - this.last < this.intervalMs) return;
    this.log.warn(
      { code: 'FW_STATE_EVICTING', evicted: { account, ip }, total: { ...evictions }, budget: { ...budget } },
      'detector state reached its budget (rules stateBudget): the least recently active keys were evicted and start again with no history',
    );
    this.reported = { ...evictions };
    this.last = now;
  }
}
