import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../src/alerts/alert.js';
import type { DetectorRule, Rules } from '../src/config/rules.js';
import type { Detector } from '../src/detectors/types.js';
import { Engine } from '../src/engine/engine.js';
import { Stats } from '../src/engine/stats.js';
import { decodeEvent, decodeValue } from '../src/events/decode.js';
import { EVENT_TYPES, type FraudEvent } from '../src/events/types.js';
import { login, only, playback, rules, testLocator, update } from './helpers.js';

/** The demo log: every event type, every detector's triggers and traps. */
const demo: FraudEvent[] = readFileSync(new URL('../fixtures/demo/events.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .map((line) => (line === '' ? undefined : decodeEvent(line)))
  .flatMap((r) => (r?.ok ? [r.event] : []));

/** Events of a type the detector does not declare that its keyOf nevertheless keys: a broken declaration. */
function keyedButNotConsumed(detector: Detector, events: readonly FraudEvent[]): FraudEvent[] {
  return events.filter((ev) => !detector.consumes.includes(ev.type) && detector.keyOf(ev) !== undefined);
}

describe('dispatch by event type', () => {
  it('the demo log holds every event type', () => {
    for (const type of EVENT_TYPES) expect(demo.some((ev) => ev.type === type)).toBe(true);
  });

  // Default options, and the options that change what a detector reads.
  const variants: [string, Rules][] = [
    ['defaults', rules()],
    ['impossible_travel without playback fixes', only(['impossible_travel'], { impossible_travel: { playbackFixes: false } })],
    ['credential_stuffing without network aggregation', only(['credential_stuffing'], { credential_stuffing: { prefixAggregation: false } })],
  ];
  for (const [name, r] of variants) {
    it(`every detector declares every event type its keyOf keys (${name})`, () => {
      for (const rule of r.detectors) expect({ id: rule.id, missed: keyedButNotConsumed(rule.detector, demo).length }).toEqual({ id: rule.id, missed: 0 });
    });
  }

  it('impossible_travel reads playback only when playback fixes are on', () => {
    expect(only(['impossible_travel']).detectors[0]!.detector.consumes).toContain('playback');
    expect(only(['impossible_travel'], { impossible_travel: { playbackFixes: false } }).detectors[0]!.detector.consumes).not.toContain('playback');
  });

  it('this check can fail: a detector that under-declares is caught', () => {
    const brute = only(['brute_force']).detectors[0]!.detector;
    const lying: Detector = { ...brute, consumes: ['playback'] };
    expect(keyedButNotConsumed(lying, demo).length).toBeGreaterThan(0);
  });

  /** A detector that records the events it is called with and finds on every login of account `a`. */
  function probe(id: string, consumes: Detector['consumes'], seen: string[][], emits: boolean): DetectorRule {
    const calls: string[] = [];
    seen.push(calls);
    const detector: Detector = {
      id,
      keyKind: 'account',
      stateVersion: 1,
      retentionMs: 3_600_000,
      consumes,
      keyOf: (ev) => ev.accountId,
      onEvent(ev, state, ctx, emit, key) {
        calls.push(`${ev.type}:${ctx.findings.map((f) => f.detector).join('+')}`);
        if (emits && ev.type === 'login') emit({ detector: id, key, summary: 'probe', evidence: {}, eventIds: [ev.eventId] });
        return state;
      },
    };
    return { id, severity: 'low', shadow: false, cooldownMs: 0, allowlist: rules().allowlist, detector };
  }

  it('calls a detector only for the types it consumes, in registry order within a type', () => {
    const seen: string[][] = [];
    // Registry ids, so the engine finds their state slots; the first finds, the last reads its finding.
    const base = rules();
    const detectors = [
      probe('impossible_travel', ['login'], seen, true),
      probe('concurrent_streams', ['playback'], seen, false),
      probe('account_takeover', ['login', 'account_update'], seen, false),
    ];
    const alerts: Alert[] = [];
    const engine = new Engine({ ...base, detectors }, testLocator(), new Stats(), (a) => alerts.push(a));
    for (const raw of [login('a', 0, '198.51.100.1'), playback('a', 1000, '198.51.100.1', 'd', 's', 'start'), update('a', 2000, 'email')]) {
      const r = decodeValue(raw);
      if (!r.ok) throw new Error(r.message);
      engine.process(r.event);
    }
    expect(seen).toEqual([['login:'], ['playback:'], ['login:impossible_travel', 'account_update:']]);
    expect(alerts.map((a) => a.detector)).toEqual(['impossible_travel']);
  });
});
