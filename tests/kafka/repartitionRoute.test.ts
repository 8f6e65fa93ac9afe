// Exactly-once stage 1 forwards to each repartition topic only the events some detector of that
// key kind reads (src/streams/repartition.ts, repartitionRoute). No broker: the property that
// matters is that a task fed only the routed events gives the alerts of one fed everything.
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import type { Rules } from '../../src/config/rules.js';
import type { KeyKind } from '../../src/detectors/types.js';
import { Pipeline } from '../../src/engine/pipeline.js';
import { decodeEvent } from '../../src/events/decode.js';
import type { FraudEvent } from '../../src/events/types.js';
import { generateLog } from '../../src/generate/generator.js';
import { repartitionRoute } from '../../src/streams/repartition.js';
import { login, MIN, only, playback, rules, testLocator, update } from '../helpers.js';
import { decodeValue } from '../../src/events/decode.js';

function events(raw: Record<string, unknown>[]): FraudEvent[] {
  return raw.map((r) => {
    const d = decodeValue(r);
    if (!d.ok) throw new Error(d.message);
    return d.event;
  });
}

/** A task's alerts (ids) over `evs`, as a stage-2 task of `kind` would score them. */
function taskAlerts(evs: readonly FraudEvent[], r: Rules, kind: KeyKind): string[] {
  const alerts: Alert[] = [];
  const p = new Pipeline({ rules: r, locator: testLocator(), keyKind: kind, latenessMs: 30_000, onAlert: (a) => alerts.push(a) });
  for (const ev of evs) p.push(ev, 0, undefined);
  p.flush();
  return alerts.map((a) => `${a.alertId} ${a.severity}`);
}

describe('repartitionRoute', () => {
  it('brute_force alone: logins go to the account tasks, nothing else, and nothing to the IP tasks', () => {
    const route = repartitionRoute(only(['brute_force']));
    const [l, p, u] = events([login('a1', 0, '81.2.69.160', false), playback('a1', MIN, '81.2.69.160', 'd1', 's1', 'start'), update('a1', 2 * MIN, 'email')]);
    expect(route.account(l!)).toBe(true);
    expect(route.account(p!)).toBe(false);
    expect(route.account(u!)).toBe(false);
    expect(route.ipKey(l!)).toBeUndefined();
  });

  it('credential_stuffing on: a login goes to the IP tasks under its network; other types do not', () => {
    const route = repartitionRoute(only(['credential_stuffing']));
    const [l, p] = events([login('a1', 0, '81.2.69.160', false), playback('a1', MIN, '81.2.69.160', 'd1', 's1', 'start')]);
    expect(route.ipKey(l!)).toBe('81.2.69.0/24');
    expect(route.ipKey(p!)).toBeUndefined();
    expect(route.account(l!)).toBe(false);
  });

  it('all detectors: every event type reaches the account tasks', () => {
    const route = repartitionRoute(rules());
    const evs = events([login('a1', 0, '81.2.69.160'), playback('a1', MIN, '81.2.69.160', 'd1', 's1', 'start'), update('a1', 2 * MIN, 'email')]);
    for (const ev of evs) expect(route.account(ev)).toBe(true);
  });

  // The property: per key kind, the routed events give the same alerts as all events, on a
  // generated log (incidents, traps, duplicates, disorder) and several detector sets.
  for (const [name, r] of [
    ['brute_force', only(['brute_force'])],
    ['viewing detectors', only(['concurrent_streams', 'viewing_anomaly', 'account_sharing'])],
    ['login detectors and credential_stuffing', only(['impossible_travel', 'unfamiliar_location', 'account_takeover', 'credential_stuffing', 'login_rate_anomaly'])],
    ['all', rules()],
  ] as const) {
    it(`a task fed only the routed events gives the alerts of one fed every event: ${name}`, () => {
      const all: FraudEvent[] = [];
      for (const line of generateLog({ seed: 7, accounts: 60, days: 6 }).lines) {
        const d = decodeEvent(line);
        if (d.ok) all.push(d.event);
      }
      const route = repartitionRoute(r);
      const toAccount = all.filter((ev) => route.account(ev));
      const toIp = all.filter((ev) => route.ipKey(ev) !== undefined);
      const accountAlerts = taskAlerts(all, r, 'account');
      const ipAlerts = taskAlerts(all, r, 'ip');
      expect(taskAlerts(toAccount, r, 'account')).toEqual(accountAlerts);
      expect(taskAlerts(toIp, r, 'ip')).toEqual(ipAlerts);
      // Not vacuous: the detector set raises alerts on this log.
      expect(accountAlerts.length + ipAlerts.length).toBeGreaterThan(0);
    });
  }
});
