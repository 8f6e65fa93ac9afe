import type { Alert } from '../alerts/alert.js';
import { DETECTOR_IDS } from '../detectors/registry.js';
import type { LabelIncident, Labels, LabelTrap } from './labels.js';
import { alertNetMatches, parseNet, type Net } from './net.js';

/**
 * Scoring alerts against labels. The definitions (also in docs/backtest.md):
 *
 * An alert MATCHES a labelled incident or trap when
 *   - its key matches the label's key: the same accountId; or, for IP keys, the same address,
 *     an alert address inside a labelled network, an alert network (credential_stuffing's
 *     prefix alerts, e.g. 203.0.113.0/24) containing a labelled address, or an alert network
 *     equal to a labelled network; and
 *   - its ts lies within [start − slack, end + slack] (slack absorbs detectors that fire a
 *     little after the labelled activity, e.g. at the end of a window, and label rounding).
 *
 * Recall(d)    = incidents labelled d with at least one matching alert OF d / incidents labelled d.
 * Precision(d) = alerts of d matching ANY incident (of any detector) / alerts of d. An account
 *                takeover legitimately also raises impossible_travel on the same key: that
 *                alert is not a false positive, though it does not count towards the takeover's recall.
 * Overall      = micro-averaged: the sums of the numerators over the sums of the denominators.
 * Trap violation: an alert of a detector in a trap's quietDetectors matching the trap.
 * Unexplained alert: an alert matching no incident.
 *
 * Per incident class (when the labels give incidents a `class`; one without counts under its
 * detector's id): incidents, detected (by their own detector, as for recall above), recall, and
 * the alerts matching an incident of the class — all of them, and those of the incident's own
 * detector. Precision has no per-class meaning (an alert is raised by a detector, not for a
 * class), so the class table repeats its detector's. Per trap class: traps, traps violated, and
 * the alerts violating them.
 *
 * Benign accounts with a high alert, per detector: accounts that no incident label names (of
 * any detector) with at least one alert of severity high or critical from that detector, and
 * their share of the benign accounts when the labels give the population (`accounts`). This is
 * what pages someone about a customer who did nothing wrong.
 */

export interface ScoreOptions {
  readonly slackMs: number;
}

export interface DetectorScore {
  readonly detector: string;
  readonly incidents: number;
  /** Incidents of this detector that got at least one alert of this detector. */
  readonly detected: number;
  /** detected / incidents; null when there are no incidents to find. */
  readonly recall: number | null;
  readonly alerts: number;
  /** Alerts of this detector that match any incident. */
  readonly matched: number;
  /** matched / alerts; null when the detector raised nothing. */
  readonly precision: number | null;
  /** Alerts of this detector that match a trap listing it as quiet. */
  readonly trapViolations: number;
  /**
   * Pages per detected incident: the median, mean and largest number of this detector's alerts
   * matching one of its detected incidents (null when none was detected). One incident should
   * page about once; repeats are what alert episodes fold together.
   */
  readonly alertsPerIncident: { readonly median: number; readonly mean: number; readonly max: number } | null;
}

export interface ClassScore {
  readonly class: string;
  /** The detectors its incidents are labelled with, in registry order (one for generated labels). */
  readonly detectors: readonly string[];
  readonly incidents: number;
  /** Incidents of this class with at least one matching alert of their own detector. */
  readonly detected: number;
  /** detected / incidents. */
  readonly recall: number | null;
  /** Distinct alerts, of any detector, matching at least one incident of this class. */
  readonly alerts: number;
  /** Of those, alerts of the detector of an incident they match. */
  readonly ownAlerts: number;
}

export interface TrapClassScore {
  readonly class: string;
  readonly traps: number;
  /** Traps of this class with at least one alert of a detector they list as quiet. */
  readonly violated: number;
  /** Distinct alerts violating at least one trap of this class. */
  readonly alerts: number;
}

export interface BenignHighScore {
  readonly detector: string;
  /** Benign accounts (named by no incident) with at least one high or critical alert of this detector. */
  readonly accounts: number;
  /** accounts / benign accounts; null when the labels do not give the population. */
  readonly rate: number | null;
}

export interface MissedIncident {
  readonly incident: LabelIncident;
  /** Alerts of other detectors that did match it, by detector: "found, but not by its detector". */
  readonly otherAlerts: Readonly<Record<string, number>>;
}

export interface TrapViolation {
  readonly trap: LabelTrap;
  readonly detector: string;
  readonly alerts: number;
}

export interface UnexplainedAlert {
  readonly alert: Alert;
  /** Traps it matches, with whether they list its detector as quiet or as "may also fire". */
  readonly traps: readonly { readonly trap: LabelTrap; readonly role: 'quiet' | 'mayAlsoFire' | 'other' }[];
}

export interface Score {
  readonly slackMs: number;
  /** One per registered detector, in registry order. */
  readonly perDetector: readonly DetectorScore[];
  readonly overall: DetectorScore;
  /**
   * Per incident class, in registry order of the class's detector, then by name; present when
   * any incident has a class.
   */
  readonly perClass?: readonly ClassScore[];
  /** Per trap class, by name; empty without traps. */
  readonly perTrapClass: readonly TrapClassScore[];
  /**
   * Accounts named by no incident label: the population (labels' `accounts`) less the accounts
   * incidents name; null without a population.
   */
  readonly benignAccounts: number | null;
  /** One per registered detector, in registry order, then "any" (an account counted once). */
  readonly benignHigh: readonly BenignHighScore[];
  readonly missed: readonly MissedIncident[];
  /** In alert order. */
  readonly unexplained: readonly UnexplainedAlert[];
  readonly violations: readonly TrapViolation[];
  /** Incident ids matched by each alert key (for the report's top-keys table). */
  readonly incidentsByKey: ReadonlyMap<string, readonly string[]>;
}

type Label = LabelIncident | LabelTrap;

/**
 * Labels indexed by key: accounts by id (a hash lookup per alert), IP labels in a list scanned
 * per IP alert (a log has a handful of network incidents, not thousands).
 */
class LabelIndex<L extends Label> {
  private readonly byAccount = new Map<string, L[]>();
  private readonly byIp: { label: L; net: Net }[] = [];

  constructor(labels: readonly L[]) {
    for (const l of labels) {
      if ('accountId' in l.key) {
        const list = this.byAccount.get(l.key.accountId);
        if (list) list.push(l);
        else this.byAccount.set(l.key.accountId, [l]);
      } else {
        this.byIp.push({ label: l, net: l.net! });
      }
    }
  }

  /** Labels whose key and [start − slack, end + slack] match the alert. */
  matches(alert: Alert, ts: number, slackMs: number, alertNet: Net | undefined): L[] {
    const inRange = (l: L) => ts >= l.start - slackMs && ts <= l.end + slackMs;
    if (alert.accountId !== undefined) return (this.byAccount.get(alert.accountId) ?? []).filter(inRange);
    if (alertNet === undefined) return [];
    return this.byIp.filter((x) => inRange(x.label) && alertNetMatches(alertNet, x.net)).map((x) => x.label);
  }
}

function ratio(n: number, d: number): number | null {
  return d === 0 ? null : n / d;
}

/** Scores one rule set's alerts against the labels. Pure: same inputs, same result. */
export function scoreAlerts(alerts: readonly Alert[], labels: Labels, opts: ScoreOptions): Score {
  const slack = opts.slackMs;
  const incidents = new LabelIndex(labels.incidents);
  const traps = new LabelIndex(labels.traps);

  const detectedBy = new Map<string, Set<string>>(); // incident id → detectors that matched it
  const matchedAlerts = new Map<string, number>();
  const alertCount = new Map<string, number>();
  const violationCount = new Map<string, number>();
  const violations = new Map<string, { trap: LabelTrap; detector: string; alerts: number }>();
  const unexplained: UnexplainedAlert[] = [];
  const incidentsByKey = new Map<string, Set<string>>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const classified = labels.incidents.some((i) => i.class !== undefined);
  const classOf = (inc: LabelIncident) => inc.class ?? inc.detector;
  const classAlerts = new Map<string, number>();
  /** Incident id → alerts of its own detector matching it. */
  const ownPerIncident = new Map<string, number>();
  const classOwnAlerts = new Map<string, number>();
  const trapClassAlerts = new Map<string, number>();
  const incidentAccounts = new Set<string>();
  for (const inc of labels.incidents) if ('accountId' in inc.key) incidentAccounts.add(inc.key.accountId);
  /** Detector → benign accounts with a high or critical alert of it. */
  const benignHighAccounts = new Map<string, Set<string>>();

  for (const alert of alerts) {
    const ts = Date.parse(alert.ts);
    const net = alert.ip !== undefined ? parseNet(alert.ip) : undefined;
    bump(alertCount, alert.detector);
    if (alert.accountId !== undefined && !incidentAccounts.has(alert.accountId) && (alert.severity === 'high' || alert.severity === 'critical')) {
      for (const d of [alert.detector, 'any']) {
        let set = benignHighAccounts.get(d);
        if (!set) benignHighAccounts.set(d, (set = new Set()));
        set.add(alert.accountId);
      }
    }

    const hits = incidents.matches(alert, ts, slack, net);
    if (classified) {
      // Each class counts the alert once, however many of its incidents it matches.
      const all = new Set<string>();
      const own = new Set<string>();
      for (const inc of hits) {
        const c = classOf(inc);
        all.add(c);
        if (inc.detector === alert.detector) own.add(c);
      }
      for (const c of all) bump(classAlerts, c);
      for (const c of own) bump(classOwnAlerts, c);
    }
    for (const inc of hits) {
      if (inc.detector === alert.detector) bump(ownPerIncident, inc.id);
      let s = detectedBy.get(inc.id);
      if (!s) detectedBy.set(inc.id, (s = new Set()));
      s.add(alert.detector);
      const key = alert.accountId ?? alert.ip!;
      let k = incidentsByKey.get(key);
      if (!k) incidentsByKey.set(key, (k = new Set()));
      k.add(inc.id);
    }
    if (hits.length > 0) bump(matchedAlerts, alert.detector);

    const trapHits = traps.matches(alert, ts, slack, net);
    let violated = false;
    const violatedClasses = new Set<string>();
    for (const trap of trapHits) {
      if (!trap.quietDetectors.includes(alert.detector)) continue;
      violated = true;
      violatedClasses.add(trap.class);
      const vk = `${trap.id}\u0000${alert.detector}`;
      const v = violations.get(vk);
      if (v) v.alerts++;
      else violations.set(vk, { trap, detector: alert.detector, alerts: 1 });
    }
    // An alert counts once however many traps it trips.
    if (violated) bump(violationCount, alert.detector);
    for (const c of violatedClasses) bump(trapClassAlerts, c);

    if (hits.length === 0) {
      unexplained.push({
        alert,
        traps: trapHits.map((trap) => ({
          trap,
          role: trap.quietDetectors.includes(alert.detector) ? 'quiet' : trap.mayAlsoFire.includes(alert.detector) ? 'mayAlsoFire' : 'other',
        })),
      });
    }
  }

  const perDetector: DetectorScore[] = DETECTOR_IDS.map((d) => {
    const mine = labels.incidents.filter((i) => i.detector === d);
    const detected = mine.filter((i) => detectedBy.get(i.id)?.has(d) ?? false).length;
    const n = alertCount.get(d) ?? 0;
    const m = matchedAlerts.get(d) ?? 0;
    return {
      detector: d,
      incidents: mine.length,
      detected,
      recall: ratio(detected, mine.length),
      alerts: n,
      matched: m,
      precision: ratio(m, n),
      trapViolations: violationCount.get(d) ?? 0,
      alertsPerIncident: pagesPerIncident(mine.map((i) => ownPerIncident.get(i.id) ?? 0)),
    };
  });
  const sum = (f: (s: DetectorScore) => number) => perDetector.reduce((a, s) => a + f(s), 0);
  const overall: DetectorScore = {
    detector: 'overall',
    incidents: sum((s) => s.incidents),
    detected: sum((s) => s.detected),
    recall: ratio(sum((s) => s.detected), sum((s) => s.incidents)),
    alerts: sum((s) => s.alerts),
    matched: sum((s) => s.matched),
    precision: ratio(sum((s) => s.matched), sum((s) => s.alerts)),
    trapViolations: sum((s) => s.trapViolations),
    alertsPerIncident: pagesPerIncident(labels.incidents.map((i) => ownPerIncident.get(i.id) ?? 0)),
  };

  const order = new Map(DETECTOR_IDS.map((d, i) => [d, i]));
  const isDetected = (i: LabelIncident) => detectedBy.get(i.id)?.has(i.detector) ?? false;

  let perClass: ClassScore[] | undefined;
  if (classified) {
    const groups = new Map<string, LabelIncident[]>();
    for (const inc of labels.incidents) {
      const g = groups.get(classOf(inc));
      if (g) g.push(inc);
      else groups.set(classOf(inc), [inc]);
    }
    perClass = [...groups].map(([cls, list]) => {
      const detectors = [...new Set(list.map((i) => i.detector))].sort((a, b) => order.get(a)! - order.get(b)!);
      const detected = list.filter(isDetected).length;
      return { class: cls, detectors, incidents: list.length, detected, recall: ratio(detected, list.length), alerts: classAlerts.get(cls) ?? 0, ownAlerts: classOwnAlerts.get(cls) ?? 0 };
    });
    perClass.sort((a, b) => order.get(a.detectors[0]!)! - order.get(b.detectors[0]!)! || (a.class < b.class ? -1 : a.class > b.class ? 1 : 0));
  }
  const trapGroups = new Map<string, { traps: number; violated: Set<string> }>();
  for (const t of labels.traps) {
    const g = trapGroups.get(t.class);
    if (g) g.traps++;
    else trapGroups.set(t.class, { traps: 1, violated: new Set() });
  }
  for (const v of violations.values()) trapGroups.get(v.trap.class)!.violated.add(v.trap.id);
  const perTrapClass: TrapClassScore[] = [...trapGroups]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([cls, g]) => ({ class: cls, traps: g.traps, violated: g.violated.size, alerts: trapClassAlerts.get(cls) ?? 0 }));

  const missed: MissedIncident[] = labels.incidents
    .filter((i) => !isDetected(i))
    .sort((a, b) => order.get(a.detector)! - order.get(b.detector)! || a.start - b.start || a.id.localeCompare(b.id))
    .map((incident) => ({ incident, otherAlerts: {} }));
  // Count the other detectors' alerts on each missed incident (a second, narrow pass: few misses).
  if (missed.length > 0) {
    const missedIndex = new LabelIndex(missed.map((m) => m.incident));
    const byId = new Map(missed.map((m) => [m.incident.id, m.otherAlerts as Record<string, number>]));
    for (const alert of alerts) {
      const ts = Date.parse(alert.ts);
      for (const inc of missedIndex.matches(alert, ts, slack, alert.ip !== undefined ? parseNet(alert.ip) : undefined)) {
        const o = byId.get(inc.id)!;
        o[alert.detector] = (o[alert.detector] ?? 0) + 1;
      }
    }
  }

  const violationList = [...violations.values()].sort(
    (a, b) => order.get(a.detector)! - order.get(b.detector)! || b.alerts - a.alerts || a.trap.id.localeCompare(b.trap.id),
  );
  const byKey = new Map<string, string[]>();
  for (const [k, ids] of incidentsByKey) byKey.set(k, [...ids].sort());

  const benignAccounts = labels.accounts !== undefined ? Math.max(0, labels.accounts - incidentAccounts.size) : null;
  const benignHigh: BenignHighScore[] = [...DETECTOR_IDS, 'any'].map((d) => {
    const n = benignHighAccounts.get(d)?.size ?? 0;
    return { detector: d, accounts: n, rate: benignAccounts === null ? null : ratio(n, benignAccounts) };
  });

  return { slackMs: slack, perDetector, overall, perClass, perTrapClass, benignAccounts, benignHigh, missed, unexplained, violations: violationList, incidentsByKey: byKey };
}

/** Median and maximum over the incidents that got at least one alert (undetected ones are recall's business). */
function pagesPerIncident(counts: readonly number[]): { median: number; mean: number; max: number } | null {
  const hit = counts.filter((n) => n > 0).sort((a, b) => a - b);
  if (hit.length === 0) return null;
  const mid = hit.length >> 1;
  const median = hit.length % 2 === 1 ? hit[mid]! : (hit[mid - 1]! + hit[mid]!) / 2;
  return { median, mean: hit.reduce((a, b) => a + b, 0) / hit.length, max: hit[hit.length - 1]! };
}
