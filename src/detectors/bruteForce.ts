import { z } from 'zod';
import { duration, parseDuration, formatDuration } from '../config/duration.js';
import type { FraudEvent } from '../events/types.js';
import { capFront, evictBefore, insertSorted } from '../windows/timeList.js';
import { defineDetector, type Detector } from './types.js';

const options = z.strictObject({
  /** Failed logins on one account within `window` that raise an alert. */
  threshold: z.number().int().min(2).max(1000).default(10),
  window: duration('1m', '24h').default('10m'),
});

/** Recent failures, oldest first, as parallel arrays (JSON state); at most `threshold` kept. */
interface State {
  ts: number[];
  ids: string[];
}

/**
 * brute_force: many failed logins on one account in a short window. A success that follows
 * within the window escalates to critical: the attacker probably got in.
 */
export const bruteForce = defineDetector({
  id: 'brute_force',
  keyKind: 'account',
  defaultSeverity: 'high',
  description: 'N or more failed logins on one account within a window; critical when a success follows.',
  options,
  create(o): Detector<State> {
    const windowMs = parseDuration(o.window);
    const threshold = o.threshold;
    return {
      id: 'brute_force',
      keyKind: 'account',
      stateVersion: 1,
      retentionMs: windowMs,
      keyOf: (ev: FraudEvent) => (ev.type === 'login' ? ev.accountId : undefined),
      onEvent(ev, state, _ctx, emit) {
        if (ev.type !== 'login') return state;
        if (ev.success) {
          if (state === undefined) return undefined;
          evictBefore(ev.ts - windowMs, state.ts, state.ids);
          if (state.ts.length >= threshold) {
            const failures = state.ts.length;
            emit({
              detector: 'brute_force',
              severity: 'critical',
              key: ev.accountId,
              summary: `Successful login on account ${ev.accountId} from ${ev.ip} after ${failures} failed logins within ${formatDuration(windowMs)}: the password was probably guessed.`,
              evidence: { failures, threshold, window: formatDuration(windowMs), successIp: ev.ip, firstFailureAt: new Date(state.ts[0]!).toISOString() },
              eventIds: [...state.ids, ev.eventId],
            });
          }
          // The account is back in its owner's (or the attacker's) hands: start counting afresh.
          return undefined;
        }
        const s = state ?? { ts: [], ids: [] };
        evictBefore(ev.ts - windowMs, s.ts, s.ids);
        const at = insertSorted(s.ts, ev.ts);
        s.ids.splice(at, 0, ev.eventId);
        // Only the latest `threshold` failures matter for "N within the window": bounded state under attack.
        capFront(Math.max(threshold, 20), s.ts, s.ids);
        if (s.ts.length >= threshold) {
          emit({
            detector: 'brute_force',
            key: ev.accountId,
            summary: `${s.ts.length} failed logins on account ${ev.accountId} within ${formatDuration(ev.ts - s.ts[0]!)} (threshold ${threshold} in ${formatDuration(windowMs)}), latest from ${ev.ip}.`,
            evidence: { failures: s.ts.length, threshold, window: formatDuration(windowMs), latestIp: ev.ip, firstFailureAt: new Date(s.ts[0]!).toISOString() },
            eventIds: s.ids.slice(),
          });
        }
        return s;
      },
    };
  },
});
