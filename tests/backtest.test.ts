import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../src/alerts/alert.js';
import { alertIdentity, diffAlerts, rulesDiff } from '../src/backtest/diff.js';
import { loadLabelsFile, parseLabels, type Labels } from '../src/backtest/labels.js';
import { alertNetMatches, parseNet } from '../src/backtest/net.js';
import { scoreAlerts } from '../src/backtest/score.js';
import { FraudwatchError } from '../src/errors.js';
import { generateLog, generateToDir } from '../src/generate/generator.js';
import { DETECTOR_IDS } from '../src/detectors/registry.js';
import { at, byTime, HOUR, login, MIN, only, run } from './helpers.js';


/** A hand-made alert: only the fields the scorer and the diff read matter. */
function alert(detector: string, key: { accountId: string } | { ip: string }, ts: string, trigger = `ev-${detector}-${ts}`): Alert {
  return {
    alertId: `id-${detector}-${ts}`,
    detector,
    severity: 'high',
    ...key,
    ts,
    summary: `${detector} on ${'accountId' in key ? key.accountId : key.ip}`,
    evidence: {},
    eventIds: [trigger],
    rulesVersion: 'test',
  } as Alert;
}

function labelsText(incidents: unknown[], traps: unknown[] = []): string {
  return JSON.stringify({ version: 1, incidents, traps });
}

function labelsErr(text: string): FraudwatchError {
  try {
    parseLabels(text, 'labels.json');
  } catch (err) {
    expect(err).toBeInstanceOf(FraudwatchError);
    expect((err as FraudwatchError).code).toBe('FW_LABELS_INVALID');
    return err as FraudwatchError;
  }
  throw new Error('expected FW_LABELS_INVALID');
}

const incident = (over: Record<string, unknown> = {}) => ({
  id: 'inc-1',
  detector: 'brute_force',
  key: { accountId: 'acct-1' },
  start: '2026-03-02T10:00:00Z',
  end: '2026-03-02T10:10:00Z',
  ...over,
});

describe('labels file', () => {
  it('parses incidents and traps, with defaults for the optional fields', () => {
    const l = parseLabels(
      labelsText(
        [incident(), incident({ id: 'inc-2', detector: 'credential_stuffing', key: { ip: '203.0.113.0/24' }, description: 'net', mayAlsoFire: ['brute_force'] })],
        [{ id: 'trap-1', class: 'commuter', key: { accountId: 'acct-2' }, start: '2026-03-01T00:00:00+02:00', end: '2026-03-03T00:00:00Z', quietDetectors: ['impossible_travel'] }],
      ),
      'labels.json',
    );
    expect(l.incidents).toHaveLength(2);
    expect(l.incidents[0]).toMatchObject({ id: 'inc-1', detector: 'brute_force', key: { accountId: 'acct-1' }, description: '', mayAlsoFire: [] });
    expect(l.incidents[0]!.start).toBe(Date.UTC(2026, 2, 2, 10, 0, 0));
    expect(l.incidents[0]!.end).toBe(Date.UTC(2026, 2, 2, 10, 10, 0));
    expect(l.incidents[1]!.net).toMatchObject({ bits: 24, host: false });
    // +02:00 is two hours before UTC midnight.
    expect(l.traps[0]!.start).toBe(Date.UTC(2026, 1, 28, 22, 0, 0));
    expect(l.traps[0]!.quietDetectors).toEqual(['impossible_travel']);
  });

  it('takes an optional class on incidents', () => {
    const l = parseLabels(labelsText([incident({ class: 'slow_brute_force' }), incident({ id: 'inc-2' })]));
    expect(l.incidents[0]!.class).toBe('slow_brute_force');
    expect(l.incidents[1]!.class).toBeUndefined();
    expect('class' in l.incidents[1]!).toBe(false);
    expect(labelsErr(labelsText([incident({ class: '' })])).message).toContain('incidents[0].class:');
    expect(labelsErr(labelsText([incident({ class: 7 })])).message).toContain('incidents[0].class:');
  });

  it('accepts the labels the generator writes, metadata included', () => {
    const { labels } = generateLog({ seed: 3, accounts: 40, days: 5 });
    const l = parseLabels(JSON.stringify(labels), 'gen.json');
    expect(l.incidents.length).toBe(labels.incidents.length);
    expect(l.traps.length).toBe(labels.traps.length);
    expect(l.incidents.length).toBeGreaterThan(0);
    expect(l.incidents.map((i) => i.class)).toEqual(labels.incidents.map((i) => i.class));
  });

  it('rejects bad files with FW_LABELS_INVALID naming each problem by path', () => {
    expect(labelsErr('{"version":1,').message).toContain('labels.json: not JSON');
    expect(labelsErr(JSON.stringify({ version: 1 })).message).toContain('labels.json: incidents:');
    expect(labelsErr(JSON.stringify({ version: 2, incidents: [] })).message).toContain('version: expected version: 1');
    expect(labelsErr(labelsText([incident({ detector: 'brute' })])).message).toMatch(/incidents\[0\]\.detector: unknown detector "brute" \(known: impossible_travel, /);
    expect(labelsErr(labelsText([incident({ detectr: 'brute_force' })])).message).toContain('incidents[0]: unknown key(s) "detectr"');
    expect(labelsErr(labelsText([incident({ key: { accountId: 'a', ip: '203.0.113.1' } })])).message).toContain('incidents[0].key: a key has exactly one of "accountId" or "ip"');
    expect(labelsErr(labelsText([incident({ key: {} })])).message).toContain('incidents[0].key: a key has exactly one of');
    expect(labelsErr(labelsText([incident({ key: { ip: '10.0.0.300' } })])).message).toContain('incidents[0].key.ip: not an IP address or CIDR network');
    expect(labelsErr(labelsText([incident({ key: { ip: '10.0.0.0/33' } })])).message).toContain('incidents[0].key.ip: not an IP address');
    expect(labelsErr(labelsText([incident({ start: '2026-03-02 10:00:00' })])).message).toContain('incidents[0].start: expected an ISO-8601 time with a zone');
    expect(labelsErr(labelsText([incident({ start: '2026-03-02T11:00:00Z' })])).message).toContain('incidents[0]: start 2026-03-02T11:00:00Z is after end 2026-03-02T10:10:00Z');
    expect(labelsErr(labelsText([incident(), incident()])).message).toContain('incidents[1].id: duplicate id "inc-1" (also incidents[0])');
    const trap = { id: 't', class: 'c', key: { accountId: 'a' }, start: '2026-03-02T10:00:00Z', end: '2026-03-02T10:00:00Z' };
    expect(labelsErr(labelsText([], [{ ...trap, quietDetectors: [] }])).message).toContain('traps[0].quietDetectors: a trap needs at least one quiet detector');
    expect(labelsErr(labelsText([], [{ ...trap, quietDetectors: ['nope'] }])).message).toContain('traps[0].quietDetectors[0]: unknown detector "nope"');
  });

  it('lists every problem at once, and reports an unreadable file', () => {
    const e = labelsErr(labelsText([incident({ detector: 'x' }), incident({ id: 'inc-2', end: 'soon' })]));
    expect(e.message).toContain('2 problem(s)');
    expect(e.message).toContain('incidents[0].detector');
    expect(e.message).toContain('incidents[1].end');
    const dir = mkdtempSync(join(tmpdir(), 'fw-labels-'));
    expect(() => loadLabelsFile(join(dir, 'missing.json'))).toThrow(/invalid labels file: .*missing\.json: cannot read/);
  });
});

describe('scoring: precision and recall', () => {
  // Three brute_force incidents, slack 1h:
  //   inc-1  acct-a  10:00–10:10      inc-2  acct-b  12:00–12:10      inc-3  acct-c  14:00–14:10
  // Four brute_force alerts:
  //   acct-a 10:05  → inc-1 (inside)
  //   acct-a 11:10  → inc-1 (exactly end + slack: the range is inclusive)
  //   acct-b 12:05  → inc-2
  //   acct-d 10:05  → nothing (no incident on acct-d; it is on a trap that wants brute_force quiet)
  // and one impossible_travel alert on acct-c at 14:05 → inc-3 (a match for precision, but
  // inc-3 is a brute_force incident and brute_force never fired on it).
  //
  // brute_force:        incidents 3, detected 2 (inc-1, inc-2) → recall 2/3
  //                     alerts 4, matched 3                   → precision 3/4
  // impossible_travel:  incidents 0 → recall n/a; alerts 1, matched 1 → precision 1/1
  // overall (micro):    recall 2/3; precision (3 + 1) / (4 + 1) = 4/5
  const labels: Labels = parseLabels(
    labelsText(
      [
        incident({ id: 'inc-1', key: { accountId: 'acct-a' }, start: '2026-03-02T10:00:00Z', end: '2026-03-02T10:10:00Z' }),
        incident({ id: 'inc-2', key: { accountId: 'acct-b' }, start: '2026-03-02T12:00:00Z', end: '2026-03-02T12:10:00Z' }),
        incident({ id: 'inc-3', key: { accountId: 'acct-c' }, start: '2026-03-02T14:00:00Z', end: '2026-03-02T14:10:00Z' }),
      ],
      [{ id: 'trap-1', class: 'mistyper', key: { accountId: 'acct-d' }, start: '2026-03-02T09:00:00Z', end: '2026-03-02T11:00:00Z', quietDetectors: ['brute_force'] }],
    ),
  );
  const alerts = [
    alert('brute_force', { accountId: 'acct-a' }, '2026-03-02T10:05:00.000Z'),
    alert('brute_force', { accountId: 'acct-a' }, '2026-03-02T11:10:00.000Z'),
    alert('brute_force', { accountId: 'acct-b' }, '2026-03-02T12:05:00.000Z'),
    alert('brute_force', { accountId: 'acct-d' }, '2026-03-02T10:05:00.000Z'),
    alert('impossible_travel', { accountId: 'acct-c' }, '2026-03-02T14:05:00.000Z'),
  ];
  const score = scoreAlerts(alerts, labels, { slackMs: HOUR });
  const of = (d: string) => score.perDetector.find((s) => s.detector === d)!;

  it('computes per-detector and micro-averaged precision and recall', () => {
    // Pages per detected incident: inc-1 got two brute_force alerts, inc-2 one (inc-3, undetected, does not count).
    expect(of('brute_force')).toEqual({ detector: 'brute_force', incidents: 3, detected: 2, recall: 2 / 3, alerts: 4, matched: 3, precision: 3 / 4, trapViolations: 1, alertsPerIncident: { median: 1.5, mean: 1.5, max: 2 } });
    expect(of('impossible_travel').alertsPerIncident).toBeNull();
    expect(score.overall.alertsPerIncident).toEqual({ median: 1.5, mean: 1.5, max: 2 });
    expect(of('impossible_travel')).toMatchObject({ incidents: 0, detected: 0, recall: null, alerts: 1, matched: 1, precision: 1 });
    expect(of('geo_surge')).toMatchObject({ incidents: 0, recall: null, alerts: 0, precision: null });
    expect(score.overall).toMatchObject({ incidents: 3, detected: 2, recall: 2 / 3, alerts: 5, matched: 4, precision: 4 / 5, trapViolations: 1 });
    expect(score.perDetector.map((s) => s.detector)).toEqual(DETECTOR_IDS);
  });

  it('lists the missed incident with the other detectors that did fire on it', () => {
    expect(score.missed.map((m) => [m.incident.id, m.otherAlerts])).toEqual([['inc-3', { impossible_travel: 1 }]]);
  });

  it('lists unexplained alerts and trap violations', () => {
    expect(score.unexplained.map((u) => [u.alert.accountId, u.traps.map((t) => [t.trap.id, t.role])])).toEqual([['acct-d', [['trap-1', 'quiet']]]]);
    expect(score.violations.map((v) => [v.trap.id, v.detector, v.alerts])).toEqual([['trap-1', 'brute_force', 1]]);
  });

  it('treats the slack as inclusive, to the millisecond', () => {
    const edge = (ts: string) => scoreAlerts([alert('brute_force', { accountId: 'acct-a' }, ts)], labels, { slackMs: HOUR }).overall.matched;
    expect(edge('2026-03-02T09:00:00.000Z')).toBe(1); // start − 1h
    expect(edge('2026-03-02T08:59:59.999Z')).toBe(0);
    expect(edge('2026-03-02T11:10:00.000Z')).toBe(1); // end + 1h
    expect(edge('2026-03-02T11:10:00.001Z')).toBe(0);
    // With no slack the late alert no longer matches: brute_force precision 2/4 and recall still 2/3.
    const tight = scoreAlerts(alerts, labels, { slackMs: 0 }).perDetector.find((s) => s.detector === 'brute_force')!;
    expect([tight.matched, tight.detected]).toEqual([2, 2]);
  });
});

describe('scoring: benign accounts with a high alert', () => {
  // Population 10; one incident names acct-1, so 9 benign accounts. Alerts:
  //   viewing_anomaly high      acct-1  → the incident's account: not benign
  //   viewing_anomaly high      acct-2  → counted
  //   viewing_anomaly high      acct-2  → the same account again: still one
  //   viewing_anomaly medium    acct-3  → below high: not counted
  //   brute_force     critical  acct-4  → counted (critical is above high)
  //   credential_stuffing high  192.0.2.1 → no account: not counted
  const text = JSON.stringify({
    version: 1,
    accounts: 10,
    incidents: [{ id: 'i-1', detector: 'viewing_anomaly', key: { accountId: 'acct-1' }, start: '2026-03-02T10:00:00Z', end: '2026-03-02T11:00:00Z' }],
  });
  const labels = parseLabels(text, 'labels.json');
  const withSeverity = (a: Alert, severity: Alert['severity']) => ({ ...a, severity }) as Alert;
  const alerts = [
    alert('viewing_anomaly', { accountId: 'acct-1' }, '2026-03-02T10:30:00.000Z'),
    alert('viewing_anomaly', { accountId: 'acct-2' }, '2026-03-03T10:30:00.000Z'),
    alert('viewing_anomaly', { accountId: 'acct-2' }, '2026-03-05T10:30:00.000Z'),
    withSeverity(alert('viewing_anomaly', { accountId: 'acct-3' }, '2026-03-03T10:30:00.000Z'), 'medium'),
    withSeverity(alert('brute_force', { accountId: 'acct-4' }, '2026-03-03T11:30:00.000Z'), 'critical'),
    alert('credential_stuffing', { ip: '192.0.2.1' }, '2026-03-03T12:30:00.000Z'),
  ];

  it('counts each benign account once per detector and once under "any", at high or critical only', () => {
    const score = scoreAlerts(alerts, labels, { slackMs: HOUR });
    expect(score.benignAccounts).toBe(9);
    const of = (d: string) => score.benignHigh.find((b) => b.detector === d)!;
    expect(of('viewing_anomaly')).toEqual({ detector: 'viewing_anomaly', accounts: 1, rate: 1 / 9 });
    expect(of('brute_force')).toEqual({ detector: 'brute_force', accounts: 1, rate: 1 / 9 });
    expect(of('credential_stuffing').accounts).toBe(0);
    expect(of('any')).toEqual({ detector: 'any', accounts: 2, rate: 2 / 9 });
    expect(score.benignHigh.map((b) => b.detector)).toEqual([...DETECTOR_IDS, 'any']);
  });

  it('gives counts without a rate when the labels do not give the population', () => {
    const noPopulation = parseLabels(JSON.stringify({ ...JSON.parse(text), accounts: undefined }), 'labels.json');
    const score = scoreAlerts(alerts, noPopulation, { slackMs: HOUR });
    expect(score.benignAccounts).toBeNull();
    expect(score.benignHigh.find((b) => b.detector === 'any')).toEqual({ detector: 'any', accounts: 2, rate: null });
  });
});

describe('scoring: per incident class and per trap class', () => {
  // Incidents (slack 1h):
  //   b-1   brute_force          class burst  acct-a  10:00–10:10
  //   s-1   brute_force          class slow   acct-b  12:00–12:10
  //   s-2   brute_force          class slow   acct-b  12:30–12:40   (overlaps s-1 within the slack)
  //   s-3   brute_force          class slow   acct-c  14:00–14:10
  //   n-1   credential_stuffing  class net    192.0.2.0/24  10:00–10:10
  //   r-1   login_rate_anomaly   (no class: counts as "login_rate_anomaly")  acct-e  10:00–10:10
  // Alerts:
  //   brute_force         acct-a 10:05  → b-1 (own)
  //   login_rate_anomaly  acct-a 10:06  → b-1 (another detector: an alert of the class, not by its detector)
  //   brute_force         acct-b 12:05  → s-1 and s-2 (own; one alert, counted once for the class)
  //   brute_force         acct-b 12:35  → s-1 and s-2 (own)
  //   impossible_travel   acct-c 14:05  → s-3 (not own: s-3 is missed)
  //   credential_stuffing 192.0.2.0/24 10:05 → n-1 (own)
  //   brute_force         acct-d 10:05  → no incident; violates trap t-1 (mistyper, quiet brute_force)
  // Per class, in registry order of the detector, then by name:
  //   burst               1 incident,  1 detected, recall 1,   alerts 2, by detector 1
  //   slow                3 incidents, 2 detected, recall 2/3, alerts 3, by detector 2
  //   net                 1, 1, 1, alerts 1, by detector 1
  //   login_rate_anomaly  1, 0, 0, alerts 0, by detector 0
  // Per trap class, by name: commuter (t-3 on acct-a, quiet impossible_travel: not violated by
  // the brute_force and login_rate alerts there) 1 trap, 0, 0; mistyper (t-1 violated once, t-2 not) 2, 1, 1.
  const labels = parseLabels(
    labelsText(
      [
        incident({ id: 'b-1', class: 'burst', key: { accountId: 'acct-a' }, start: '2026-03-02T10:00:00Z', end: '2026-03-02T10:10:00Z' }),
        incident({ id: 's-1', class: 'slow', key: { accountId: 'acct-b' }, start: '2026-03-02T12:00:00Z', end: '2026-03-02T12:10:00Z' }),
        incident({ id: 's-2', class: 'slow', key: { accountId: 'acct-b' }, start: '2026-03-02T12:30:00Z', end: '2026-03-02T12:40:00Z' }),
        incident({ id: 's-3', class: 'slow', key: { accountId: 'acct-c' }, start: '2026-03-02T14:00:00Z', end: '2026-03-02T14:10:00Z' }),
        incident({ id: 'n-1', class: 'net', detector: 'credential_stuffing', key: { ip: '192.0.2.0/24' } }),
        incident({ id: 'r-1', detector: 'login_rate_anomaly', key: { accountId: 'acct-e' } }),
      ],
      [
        { id: 't-1', class: 'mistyper', key: { accountId: 'acct-d' }, start: '2026-03-02T09:00:00Z', end: '2026-03-02T11:00:00Z', quietDetectors: ['brute_force'] },
        { id: 't-2', class: 'mistyper', key: { accountId: 'acct-f' }, start: '2026-03-02T09:00:00Z', end: '2026-03-02T11:00:00Z', quietDetectors: ['brute_force'] },
        { id: 't-3', class: 'commuter', key: { accountId: 'acct-a' }, start: '2026-03-02T09:00:00Z', end: '2026-03-02T11:00:00Z', quietDetectors: ['impossible_travel'] },
      ],
    ),
  );
  const alerts = [
    alert('brute_force', { accountId: 'acct-a' }, '2026-03-02T10:05:00.000Z'),
    alert('login_rate_anomaly', { accountId: 'acct-a' }, '2026-03-02T10:06:00.000Z'),
    alert('brute_force', { accountId: 'acct-b' }, '2026-03-02T12:05:00.000Z'),
    alert('brute_force', { accountId: 'acct-b' }, '2026-03-02T12:35:00.000Z'),
    alert('impossible_travel', { accountId: 'acct-c' }, '2026-03-02T14:05:00.000Z'),
    alert('credential_stuffing', { ip: '192.0.2.0/24' }, '2026-03-02T10:05:00.000Z'),
    alert('brute_force', { accountId: 'acct-d' }, '2026-03-02T10:05:00.000Z'),
  ];
  const score = scoreAlerts(alerts, labels, { slackMs: HOUR });

  it('scores recall per class, and counts the alerts of each class once', () => {
    expect(score.perClass).toEqual([
      { class: 'burst', detectors: ['brute_force'], incidents: 1, detected: 1, recall: 1, alerts: 2, ownAlerts: 1 },
      { class: 'slow', detectors: ['brute_force'], incidents: 3, detected: 2, recall: 2 / 3, alerts: 3, ownAlerts: 2 },
      { class: 'net', detectors: ['credential_stuffing'], incidents: 1, detected: 1, recall: 1, alerts: 1, ownAlerts: 1 },
      { class: 'login_rate_anomaly', detectors: ['login_rate_anomaly'], incidents: 1, detected: 0, recall: 0, alerts: 0, ownAlerts: 0 },
    ]);
    // The classes add up to the detectors' figures.
    expect(score.perDetector.find((d) => d.detector === 'brute_force')).toMatchObject({ incidents: 4, detected: 3 });
  });

  it('scores traps per class: traps, traps violated, violating alerts', () => {
    expect(score.perTrapClass).toEqual([
      { class: 'commuter', traps: 1, violated: 0, alerts: 0 },
      { class: 'mistyper', traps: 2, violated: 1, alerts: 1 },
    ]);
  });

  it('has no per-class scores when no incident has a class; a class mixing detectors lists them in registry order', () => {
    const plain = parseLabels(labelsText([incident()]));
    expect(scoreAlerts(alerts, plain, { slackMs: HOUR }).perClass).toBeUndefined();
    const mixed = parseLabels(
      labelsText([
        incident({ id: 'm-1', class: 'odd', detector: 'login_rate_anomaly', key: { accountId: 'acct-a' } }),
        incident({ id: 'm-2', class: 'odd', detector: 'impossible_travel', key: { accountId: 'acct-c' }, start: '2026-03-02T14:00:00Z', end: '2026-03-02T14:10:00Z' }),
      ]),
    );
    // m-1 is detected by the login_rate alert at 10:06, m-2 by the impossible_travel alert at 14:05;
    // the brute_force alert at 10:05 also matches m-1, but is not by its detector.
    expect(scoreAlerts(alerts, mixed, { slackMs: HOUR }).perClass).toEqual([
      { class: 'odd', detectors: ['impossible_travel', 'login_rate_anomaly'], incidents: 2, detected: 2, recall: 1, alerts: 3, ownAlerts: 2 },
    ]);
  });
});

describe('scoring: IP and CIDR keys', () => {
  it('matches addresses and networks as documented', () => {
    const m = (alertIp: string, labelIp: string) => alertNetMatches(parseNet(alertIp)!, parseNet(labelIp)!);
    expect(m('203.0.113.0/24', '203.0.113.7')).toBe(true); // network alert, address inside
    expect(m('203.0.113.0/24', '203.0.114.7')).toBe(false);
    expect(m('203.0.113.0/24', '203.0.113.0/24')).toBe(true); // equal network
    expect(m('203.0.113.0/24', '203.0.113.128/24')).toBe(true); // host bits are not the network
    expect(m('203.0.113.0/24', '203.0.113.0/25')).toBe(false); // another prefix length is another finding
    expect(m('203.0.113.0/24', '203.0.0.0/16')).toBe(false);
    expect(m('203.0.113.9', '203.0.113.9')).toBe(true);
    expect(m('203.0.113.9', '203.0.113.10')).toBe(false);
    expect(m('203.0.113.9', '203.0.113.0/24')).toBe(true); // one address of a labelled network
    expect(m('2001:db8:1::/48', '2001:db8:1:2::5')).toBe(true);
    expect(m('2001:db8:1::/48', '2001:db8:2::5')).toBe(false);
    expect(m('2001:db8::1', '::ffff:203.0.113.9')).toBe(false); // families never mix
    expect(m('203.0.113.9', '::ffff:203.0.113.9')).toBe(true); // an IPv4-mapped label is the IPv4 address
    expect(parseNet('10.1')).toBeUndefined(); // no legacy shorthand
  });

  it('scores a network alert against an address incident, and keeps accounts and IPs apart', () => {
    const labels = parseLabels(
      labelsText([
        incident({ id: 'cs-1', detector: 'credential_stuffing', key: { ip: '198.51.100.23' } }),
        incident({ id: 'cs-2', detector: 'credential_stuffing', key: { ip: '192.0.2.0/24' } }),
      ]),
    );
    const s = scoreAlerts(
      [
        alert('credential_stuffing', { ip: '198.51.100.0/24' }, '2026-03-02T10:05:00.000Z'), // cs-1
        alert('credential_stuffing', { ip: '192.0.2.0/24' }, '2026-03-02T10:05:00.000Z'), // cs-2
        alert('credential_stuffing', { ip: '192.0.3.0/24' }, '2026-03-02T10:05:00.000Z'), // nothing
        alert('brute_force', { accountId: '198.51.100.23' }, '2026-03-02T10:05:00.000Z'), // an account, not an IP
      ],
      labels,
      { slackMs: HOUR },
    );
    // credential_stuffing: 2 incidents both found → recall 2/2; 3 alerts, 2 matched → precision 2/3.
    expect(s.perDetector[3]).toMatchObject({ detector: 'credential_stuffing', incidents: 2, detected: 2, alerts: 3, matched: 2 });
    expect(s.perDetector[2]).toMatchObject({ detector: 'brute_force', alerts: 1, matched: 0 });
    expect(s.incidentsByKey.get('198.51.100.0/24')).toEqual(['cs-1']);
  });
});

describe('compare: alert diff between rule sets', () => {
  const HOME = '198.51.100.1';
  const fails = (account: string, n: number, start: number) => Array.from({ length: n }, (_, i) => login(account, start + i * 30_000, HOME, false));
  // acct-x: 7 failures → only B (threshold 5) alerts, at its 5th failure.
  // acct-y: 12 failures → A alerts at the 10th, B at the 5th (and B's cooldown swallows the
  //         10th): two different alerts, one only in A, one only in B.
  // acct-w: London then New York 10 minutes later → impossible_travel, the same in A and B.
  const x = fails('acct-x', 7, 0);
  const y = fails('acct-y', 12, 2 * HOUR);
  const w = [login('acct-w', 5 * HOUR, HOME), login('acct-w', 5 * HOUR + 10 * MIN, '203.0.113.1')];
  const events = byTime([...x, ...y, ...w]);
  const A = only(['brute_force', 'impossible_travel'], { brute_force: { threshold: 10 } });
  const B = only(['brute_force', 'impossible_travel'], { brute_force: { threshold: 5 } });
  const ra = run(events, { rules: A });
  const rb = run(events, { rules: B });
  const diff = diffAlerts(ra.alerts, rb.alerts);

  it('splits alerts into only A, only B and both by detector, key and trigger', () => {
    const brief = (list: readonly Alert[]) => list.map((a) => [a.detector, a.accountId, a.ts, a.eventIds.at(-1)]);
    expect(brief(diff.onlyA)).toEqual([['brute_force', 'acct-y', at(2 * HOUR + 9 * 30_000), y[9]!.eventId]]);
    expect(brief(diff.onlyB)).toEqual([
      ['brute_force', 'acct-x', at(4 * 30_000), x[4]!.eventId],
      ['brute_force', 'acct-y', at(2 * HOUR + 4 * 30_000), y[4]!.eventId],
    ]);
    expect(diff.total).toEqual({ detector: 'total', onlyA: 1, onlyB: 2, both: 1 });
    expect(diff.perDetector.find((d) => d.detector === 'impossible_travel')).toEqual({ detector: 'impossible_travel', onlyA: 0, onlyB: 0, both: 1 });
    expect(diff.perDetector.find((d) => d.detector === 'brute_force')).toEqual({ detector: 'brute_force', onlyA: 1, onlyB: 2, both: 0 });
  });

  it('pairs alerts whose alertIds differ (the id includes the rules version)', () => {
    const travelA = ra.of('impossible_travel')[0]!;
    const travelB = rb.of('impossible_travel')[0]!;
    expect(travelA.alertId).not.toBe(travelB.alertId);
    expect(alertIdentity(travelA)).toBe(alertIdentity(travelB));
  });

  it('lists the settings that differ', () => {
    expect(rulesDiff(A.effective, B.effective)).toEqual([{ path: 'detectors.brute_force.threshold', a: '10', b: '5' }]);
    expect(rulesDiff(A.effective, A.effective)).toEqual([]);
  });
});

describe('fraudwatch backtest (CLI, built)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-backtest-'));
  const events = join(dir, 'events.jsonl');
  const labels = join(dir, 'labels.json');
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, ['bin/fraudwatch.js', 'backtest', ...args], { encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  // Issue 7's capabilities off: the "before" of the detection-depth classes.
  const before = join(dir, 'before.yaml');

  beforeAll(async () => {
    await generateToDir({ seed: 7, accounts: 60, days: 10 }, dir);
    writeFileSync(
      before,
      [
        'version: 1',
        'detectors:',
        '  brute_force: { longWindowEnabled: false }',
        '  login_rate_anomaly: { failureBaselineEnabled: false }',
        '  credential_stuffing: { prefixAggregation: false }',
        '  impossible_travel: { preciseMinDistanceKm: 500, playbackFixes: false }',
        '',
      ].join('\n'),
    );
  });

  it('prints a row for every detector in the alert and label tables, and exits 0', () => {
    const r = cli([events, '--labels', labels]);
    expect(r.stderr).not.toContain('Error');
    expect(r.code).toBe(0);
    const section = (title: string) => r.stdout.split('\n\n').find((s) => s.startsWith(title))!;
    const alertsTable = section('Alerts by detector');
    const scoreTable = section('Detection against labels');
    expect(alertsTable.split('\n')[1]).toMatch(/^ {2}detector\s+alerts\s+keys\s+per 10k\s+cooldown\s+allowlist\s+shadow$/);
    expect(scoreTable.split('\n')[1]).toMatch(/^ {2}detector\s+incidents\s+detected\s+recall\s+alerts\s+matched\s+precision\s+trap alerts\s+alerts\/incident \(median, mean, max\)$/);
    for (const d of DETECTOR_IDS) {
      expect(alertsTable).toMatch(new RegExp(`^ {2}${d} +\\d+ +\\d+ +\\d+\\.\\d\\d +\\d+ +\\d+ +\\d+$`, 'm'));
      expect(scoreTable).toMatch(new RegExp(`^ {2}${d} +\\d+ +\\d+ +(\\d+\\.\\d%|n/a) +\\d+ +\\d+ +(\\d+\\.\\d%|n/a) +\\d+ +(\\d+(\\.\\d+)?, \\d+\\.\\d\\d, \\d+|—)$`, 'm'));
    }
    expect(alertsTable).toMatch(/^ {2}total +\d+/m);
    expect(scoreTable).toMatch(/^ {2}overall \(micro\) +\d+/m);
    expect(r.stdout).toMatch(/labels {2}.*labels\.json: \d+ incidents, \d+ traps; match slack 1h/);
    expect(r.stderr).toMatch(/^backtest finished in \d+\.\d\d s \(A \d+\.\d\d s\)$/m);
    // The generator's labels carry classes: a row per class present, in the class table.
    const classTable = section('Detection by incident class');
    expect(classTable.split('\n')[1]).toMatch(/^ {2}class\s+detector\s+incidents\s+detected\s+recall\s+alerts\s+by detector\s+precision \(detector\)$/);
    const generated = JSON.parse(readFileSync(labels, 'utf8')) as { incidents: { class: string; detector: string }[]; traps: { class: string }[] };
    const classes = new Set(generated.incidents.map((i) => i.class));
    expect(classes.size).toBeGreaterThanOrEqual(14);
    for (const inc of generated.incidents) {
      expect(classTable).toMatch(new RegExp(`^ {2}${inc.class} +${inc.detector} +\\d+ +\\d+ +(\\d+\\.\\d%) +\\d+ +\\d+ +(\\d+\\.\\d%|n/a)$`, 'm'));
    }
    expect(classTable.split('\n')).toHaveLength(2 + classes.size);
    const trapTable = section('Traps by class');
    for (const t of new Set(generated.traps.map((x) => x.class))) expect(trapTable).toMatch(new RegExp(`^ {2}${t} +\\d+ +\\d+ +\\d+$`, 'm'));
    // Benign accounts paged at high: a row per detector and "any", with a rate (the generator's labels give the population).
    const benign = section('Benign accounts with a high or critical alert');
    expect(benign.split('\n')[0]).toMatch(/\(of \d[\d,]* benign accounts\)$/);
    for (const d of [...DETECTOR_IDS, 'any']) expect(benign).toMatch(new RegExp(`^ {2}${d} +\\d+ +\\d+\\.\\d\\d%$`, 'm'));
    // No clock in the table: a second run prints the same bytes.
    expect(cli([events, '--labels', labels]).stdout).toBe(r.stdout);
  });

  it('compares per class: the detection-depth classes are found only with the issue-7 rules on', () => {
    const r = cli([events, '--rules', before, '--compare', 'rules/default.yaml', '--labels', labels]);
    expect(r.code).toBe(0);
    const change = r.stdout.split('\n\n').find((s) => s.startsWith('Change A → B by incident class'))!;
    expect(change.split('\n')[1]).toMatch(/^ {2}class\s+detector\s+incidents\s+recall A\s+recall B\s+Δ recall\s+alerts A\s+alerts B$/);
    // One incident of each class in a 60-account log: each new class 0 % before, 100 % after.
    for (const [cls, det] of [['slow_brute_force', 'brute_force'], ['slow_guessing', 'login_rate_anomaly'], ['distributed_stuffing', 'credential_stuffing'], ['short_hop', 'impossible_travel'], ['stolen_session_stream', 'impossible_travel']]) {
      expect(change).toMatch(new RegExp(`^ {2}${cls} +${det} +1 +0\\.0% +100\\.0% +\\+100\\.0 pp +0 +[1-9]\\d*$`, 'm'));
    }
    for (const [cls, det] of [['brute_force_burst', 'brute_force'], ['stuffing_single_ip', 'credential_stuffing'], ['impossible_travel_login', 'impossible_travel']]) {
      expect(change).toMatch(new RegExp(`^ {2}${cls} +${det} +1 +100\\.0% +100\\.0% +0\\.0 pp +\\d+ +\\d+$`, 'm'));
    }
    expect(r.stdout).toContain('Detection by incident class (A)');
    expect(r.stdout).toContain('Detection by incident class (B)');
  });

  it('compares a rule set with itself as identical: nothing only in A or only in B', () => {
    const r = cli([events, '--rules', 'rules/default.yaml', '--compare', 'rules/default.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('changed nothing (A and B have the same effective rules)');
    expect(r.stdout).toMatch(/^Change A → B \(no labels: alert diff only\)\n {2}detector\s+only A\s+only B\s+both$/m);
    expect(r.stdout).toMatch(/^ {2}total +0 +0 +\d+$/m);
  });

  it('exits 2 with a clear error for a bad labels file, bad rules, a missing log or a bad flag', () => {
    const badLabels = join(dir, 'bad-labels.json');
    writeFileSync(badLabels, JSON.stringify({ version: 1, incidents: [{ id: 'i', detector: 'nope' }] }));
    const l = cli([events, '--labels', badLabels]);
    expect(l.code).toBe(2);
    expect(l.stderr).toContain('FW_LABELS_INVALID');
    expect(l.stderr).toContain('incidents[0].detector: unknown detector "nope"');

    const badRules = join(dir, 'bad.yaml');
    writeFileSync(badRules, 'detectors:\n  brute_force:\n    treshold: 3\n');
    const b = cli([events, '--compare', badRules]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`${badRules}:3:5 FW_RULES_UNKNOWN_KEY`);
    expect(cli([events, '--rules', join(dir, 'missing.yaml')]).stderr).toContain('FW_RULES_READ');

    const missing = cli([join(dir, 'missing.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('FW_INPUT_READ');

    const slack = cli([events, '--slack', 'soon']);
    expect(slack.code).toBe(2);
    expect(slack.stderr).toContain('is not a duration');
    expect(cli([events, '--report', join(dir, 'no-such-dir', 'r.html')]).stderr).toContain('no such directory');
  });
});
