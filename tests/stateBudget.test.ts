/**
 * The memory budget for detector state (rules `stateBudget`): past it the least recently
 * active keys are evicted, counted, and the result stays deterministic. The traps matter as
 * much as the triggers: under the budget nothing may be evicted and no alert may change.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../src/alerts/alert.js';
import { RulesError } from '../src/errors.js';
import { Pipeline } from '../src/engine/pipeline.js';
import { decodeEvent, decodeValue } from '../src/events/decode.js';
import { GeoipLiteLocator } from '../src/geo/locator.js';
import { parseRules } from '../src/config/rules.js';
import { rng } from './fuzz/prng.js';
import { HOUR, login, MIN, only, rules, run, testLocator, type RawEvent } from './helpers.js';

const BUDGET = 100;

/** A flood: `n` new accounts, one login each, a minute apart from `startMs`; `keep` logs in every 10th minute. */
function flood(n: number, startMs: number, keep?: string): RawEvent[] {
  const out: RawEvent[] = [];
  for (let i = 0; i < n; i++) {
    out.push(login(`flood-${i}`, startMs + i * MIN, '198.51.100.1'));
    if (keep !== undefined && i % 10 === 0) out.push(login(keep, startMs + i * MIN + 1, '198.51.100.2'));
  }
  return out;
}

function pipelineOf(r: ReturnType<typeof rules>, alerts: Alert[] = []): Pipeline {
  return new Pipeline({ rules: r, locator: testLocator(), latenessMs: 0, onAlert: (a) => alerts.push(a) });
}

describe('state budget', () => {
  it('holds at most the budget (plus the event being scored) and evicts the least recently active keys', () => {
    const r = only(['brute_force'], {}, { stateBudget: { accounts: BUDGET } });
    const p = pipelineOf(r);
    const events = flood(1000, 0, 'regular');
    let peak = 0;
    for (const e of events) {
      p.offer(decodeValue(e), 0, undefined);
      peak = Math.max(peak, p.core.keyCounts().account);
    }
    p.flush();
    const held = [...p.core.store('account').keys()];
    expect(peak).toBeLessThanOrEqual(BUDGET + 1);
    expect(p.stats.evictions.account).toBe(1001 - held.length);
    expect(p.stats.evictions.ip).toBe(0);
    // Independently of the engine: the keys held must be those with the latest last activity.
    const lastSeen = new Map<string, number>();
    for (const e of events) lastSeen.set(String(e.accountId), Date.parse(String(e.ts)));
    const newest = [...lastSeen].sort((a, b) => b[1] - a[1]).slice(0, held.length).map(([k]) => k);
    expect(new Set(held)).toEqual(new Set(newest));
    // The account active throughout was never the least recently active, so it survived.
    expect(held).toContain('regular');
  });

  it('evicts nothing, and changes no alert, while the keys fit', () => {
    const events = [...flood(BUDGET - 5, 0), ...bruteForce('victim', 200 * MIN, 12)];
    const bounded = run(events, { rules: only(['brute_force'], {}, { stateBudget: { accounts: BUDGET } }) });
    const unbounded = run(events, { rules: only(['brute_force']) });
    expect(bounded.stats.evictions).toEqual({ account: 0, ip: 0 });
    expect(bounded.of('brute_force').length).toBeGreaterThan(0);
    // The budget is part of the rules, so only rulesVersion (and the alertIds made from it) may differ.
    const strip = (alerts: Alert[]) => alerts.map(({ rulesVersion: _v, alertId: _id, episode: _e, ...a }) => a);
    expect(strip(bounded.alerts)).toEqual(strip(unbounded.alerts));
  });

  it('costs an evicted account its history: a burst split by a flood of new accounts is forgotten', () => {
    // What the docs say an eviction costs, shown both ways: the same six + six failures alert
    // when the account is kept, and not when a flood pushed it out between the two halves.
    const first = bruteForce('victim', 0, 6);
    const between: RawEvent[] = [];
    for (let i = 0; i < 300; i++) between.push(login(`flood-${i}`, 2 * MIN + i * 100, '198.51.100.1'));
    const second = bruteForce('victim', 4 * MIN, 6);
    const events = [...first, ...between, ...second];
    const kept = run(events, { rules: only(['brute_force'], {}, { stateBudget: { accounts: 1000 } }) });
    const evicted = run(events, { rules: only(['brute_force'], {}, { stateBudget: { accounts: BUDGET } }) });
    expect(kept.of('brute_force').map((a) => a.accountId)).toEqual(['victim']);
    expect(kept.stats.evictions.account).toBe(0);
    expect(evicted.stats.evictions.account).toBeGreaterThan(0);
    expect(evicted.of('brute_force')).toEqual([]);
  });

  it('evicts the same keys and gives the same alerts in any batching and arrival order within the lateness', () => {
    const events = [...flood(400, 0, 'regular'), ...bruteForce('regular', 401 * MIN, 12), ...bruteForce('flood-3', 402 * MIN, 12)];
    const r = only(['brute_force', 'credential_stuffing'], {}, { stateBudget: { accounts: BUDGET, addresses: BUDGET } });
    const reference = run(events, { rules: r, latenessMs: 10 * MIN });
    expect(reference.stats.evictions.account).toBeGreaterThan(0);
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = rng(seed);
      // Disorder bounded by the lateness: each event moves back by up to 5 minutes of arrival.
      const shuffled = events.map((e, i) => ({ e, k: i + random.int(5) })).sort((a, b) => a.k - b.k).map(({ e }) => e);
      const got = run(shuffled, { rules: r, latenessMs: 10 * MIN });
      expect(got.alerts, `seed ${seed}`).toEqual(reference.alerts);
      expect(got.stats.evictions, `seed ${seed}`).toEqual(reference.stats.evictions);
    }
  });

  it('tells the changelog: an evicted key is a removal, not a dirty key', () => {
    const p = pipelineOf(only(['brute_force'], {}, { stateBudget: { accounts: BUDGET } }));
    p.core.trackChanges();
    for (const e of flood(BUDGET + 1, 0)) p.offer(decodeValue(e), 0, undefined);
    p.flush();
    p.core.takeChanges();
    p.offer(decodeValue(login('one-more', 10 * HOUR, '198.51.100.1')), 0, undefined);
    p.flush();
    const changes = p.core.takeChanges();
    expect(changes.removed.account.size).toBe(p.stats.evictions.account);
    expect(changes.removed.account.size).toBeGreaterThan(0);
    for (const k of changes.removed.account) {
      expect(changes.dirty.account.has(k)).toBe(false);
      expect(p.core.store('account').has(k)).toBe(false);
    }
  });

  it('splits the budget between the exactly-once tasks that share it', () => {
    const r = only(['brute_force'], {}, { stateBudget: { accounts: 1000, addresses: 3001 } });
    const p = new Pipeline({ rules: r, locator: testLocator(), keyKind: 'account', budgetShares: 6, onAlert: () => {} });
    expect(p.core.budget()).toEqual({ account: 167, ip: 501 });
  });

  it('keeps the demo log whole under the default budget', () => {
    const text = readFileSync('fixtures/demo/events.jsonl', 'utf8').trim().split('\n');
    const p = new Pipeline({ rules: rules(), locator: new GeoipLiteLocator(), onAlert: () => {} });
    for (const line of text) p.offer(decodeEvent(line), 0, undefined);
    p.flush();
    expect(p.stats.evictions).toEqual({ account: 0, ip: 0 });
  });

  it('rejects a budget out of range with its line', () => {
    const attempt = () => parseRules('stateBudget:\n  accounts: 10\n', 'budget.yaml');
    expect(attempt).toThrow(RulesError);
    try {
      attempt();
    } catch (e) {
      expect((e as RulesError).issues[0]).toMatchObject({ code: 'FW_RULES_INVALID_VALUE', line: 2, path: 'stateBudget.accounts' });
    }
  });
});

/** `n` failed logins on `account` from one address, 10 s apart, from `startMs`. */
function bruteForce(account: string, startMs: number, n: number): RawEvent[] {
  const out: RawEvent[] = [];
  for (let i = 0; i < n; i++) out.push(login(account, startMs + i * 10_000, '203.0.113.1', false));
  return out;
}
