import { toAlert, type Alert } from '../alerts/alert.js';
import type { DetectorRule, Rules } from '../config/rules.js';
import { DETECTOR_INDEX } from '../detectors/registry.js';
import { SEVERITY_RANK, type EventContext, type Finding, type KeyKind } from '../detectors/types.js';
import type { FraudEvent } from '../events/types.js';
import type { GeoLocator, GeoPoint } from '../geo/locator.js';
import { bump, type Stats } from './stats.js';

/**
 * Everything fraudwatch remembers about one key (an account, an address, a network), shared by
 * the detectors of that key kind. One record per key, not one per detector, keeps the
 * per-account overhead to a single small object and lets a changelog snapshot a key whole.
 */
export interface KeyRecord {
  /** Event time of the key's latest event: the key expires a retention period after it. */
  lastTs: number;
  /** Detector states by registry index (sparse: most keys touch few detectors). */
  states: unknown[];
  /** Cooldown bookkeeping by registry index: time and severity rank of the last alert. */
  coolTs?: (number | undefined)[];
  coolRank?: number[];
}

/** How often (event time) the stores are swept for expired keys. */
const SWEEP_INTERVAL_MS = 3_600_000;

export type AlertListener = (alert: Alert, trigger: FraudEvent) => void;

class Context implements EventContext {
  geo: GeoPoint | null = null;
  readonly findings: Finding[] = [];
  constructor(readonly locator: GeoLocator) {}
}

/**
 * The scoring core: event → detectors → suppression → alert. It sees events already decoded,
 * de-duplicated and in event-time order (the Pipeline's job) and knows nothing of files or
 * Kafka. Time is the events' time: the engine never reads the clock.
 */
export class Engine {
  private rules: Rules;
  private readonly stores: Record<KeyKind, Map<string, KeyRecord>> = { account: new Map(), ip: new Map() };
  private readonly ctx: Context;
  private retention: Record<KeyKind, number> = { account: 0, ip: 0 };
  private clock = Number.NEGATIVE_INFINITY;
  private nextSweep = Number.NEGATIVE_INFINITY;
  /** The rule whose detector is running; read by `emit` (bound once, not a closure per event). */
  private current: DetectorRule | undefined;
  private readonly pending: { rule: DetectorRule; finding: Finding }[] = [];
  private readonly emit = (finding: Finding): void => {
    const rule = this.current!;
    const keyIsAccount = rule.detector.keyKind === 'account';
    const ev = this.currentEvent!;
    const allowed =
      this.isAllowlisted(this.rules.allowlist, keyIsAccount, finding.key, ev) || this.isAllowlisted(rule.allowlist, keyIsAccount, finding.key, ev);
    if (allowed) {
      bump(this.stats.suppressedAllowlist, rule.id);
      return;
    }
    this.ctx.findings.push(finding);
    if (finding.signalOnly) bump(this.stats.suppressedCooldown, rule.id);
    else this.pending.push({ rule, finding });
  };
  private currentEvent: FraudEvent | undefined;

  constructor(
    rules: Rules,
    private readonly locator: GeoLocator,
    private readonly stats: Stats,
    private readonly onAlert: AlertListener,
  ) {
    this.rules = rules;
    this.ctx = new Context(locator);
    this.retention = this.computeRetention(rules);
  }

  get rulesVersion(): string {
    return this.rules.version;
  }

  get currentRules(): Rules {
    return this.rules;
  }

  /** Swaps in new rules. State carries over: detectors with the same id keep their state. */
  setRules(rules: Rules): void {
    this.rules = rules;
    this.retention = this.computeRetention(rules);
  }

  /** Number of keys held, per kind (for metrics and the memory benchmark). */
  keyCounts(): Record<KeyKind, number> {
    return { account: this.stores.account.size, ip: this.stores.ip.size };
  }

  store(kind: KeyKind): ReadonlyMap<string, KeyRecord> {
    return this.stores[kind];
  }

  process(ev: FraudEvent): void {
    if (ev.ts > this.clock) {
      this.clock = ev.ts;
      if (ev.ts >= this.nextSweep) {
        this.expire(ev.ts);
        this.nextSweep = ev.ts + SWEEP_INTERVAL_MS;
      }
    }
    const ctx = this.ctx;
    ctx.geo = ev.ip === undefined ? null : this.locator.lookup(ev.ip);
    ctx.findings.length = 0;
    this.currentEvent = ev;

    const detectors = this.rules.detectors;
    for (let i = 0; i < detectors.length; i++) {
      const rule = detectors[i]!;
      const det = rule.detector;
      const keys = det.keyOf(ev);
      if (keys === undefined) continue;
      this.current = rule;
      if (typeof keys === 'string') this.score(rule, keys, ev);
      else for (let k = 0; k < keys.length; k++) this.score(rule, keys[k]!, ev);
    }
    this.current = undefined;
    this.currentEvent = undefined;

    if (this.pending.length > 0) {
      for (const { rule, finding } of this.pending) this.raise(rule, finding, ev);
      this.pending.length = 0;
    }
  }

  private score(rule: DetectorRule, key: string, ev: FraudEvent): void {
    const store = this.stores[rule.detector.keyKind];
    let rec = store.get(key);
    if (rec === undefined) {
      rec = { lastTs: ev.ts, states: [] };
      store.set(key, rec);
    } else if (ev.ts > rec.lastTs) {
      rec.lastTs = ev.ts;
    }
    const slot = DETECTOR_INDEX[rule.id]!;
    rec.states[slot] = rule.detector.onEvent(ev, rec.states[slot], this.ctx, this.emit, key);
  }

  private isAllowlisted(list: Rules['allowlist'], keyIsAccount: boolean, key: string, ev: FraudEvent): boolean {
    if (list.empty) return false;
    if (keyIsAccount) return list.hasAccount(key) || list.hasAddress(ev.ip);
    return list.hasAddress(key) || list.hasAccount(ev.accountId);
  }

  private raise(rule: DetectorRule, finding: Finding, ev: FraudEvent): void {
    const kind = rule.detector.keyKind;
    const severity = finding.severity ?? rule.severity;
    const rank = SEVERITY_RANK[severity];
    const slot = DETECTOR_INDEX[rule.id]!;
    const store = this.stores[kind];
    let rec = store.get(finding.key);
    if (rec === undefined) {
      rec = { lastTs: ev.ts, states: [] };
      store.set(finding.key, rec);
    }
    // Cooldown: one alert per detector and key per period, unless the severity escalates
    // (a brute force that ends in a success must reach the analyst even minutes after the first alert).
    const coolTs = (rec.coolTs ??= []);
    const coolRank = (rec.coolRank ??= []);
    const lastTs = coolTs[slot];
    if (lastTs !== undefined && ev.ts - lastTs < rule.cooldownMs && rank <= (coolRank[slot] ?? 0)) {
      bump(this.stats.suppressedCooldown, rule.id);
      return;
    }
    coolTs[slot] = ev.ts;
    coolRank[slot] = rank;

    const alert = toAlert({
      detector: rule.id,
      severity,
      keyKind: kind,
      key: finding.key,
      ts: ev.ts,
      triggerEventId: ev.eventId,
      summary: finding.summary,
      evidence: finding.evidence,
      eventIds: finding.eventIds,
      rulesVersion: this.rules.version,
      shadow: rule.shadow,
    });
    bump(this.stats.alertsByDetectorSeverity, `${rule.id}|${severity}|${rule.shadow ? 'shadow' : 'enforce'}`);
    if (rule.shadow) bump(this.stats.shadowAlerts, rule.id);
    else {
      bump(this.stats.alerts, rule.id);
      bump(this.stats.alertsBySeverity, severity);
    }
    this.onAlert(alert, ev);
  }

  /**
   * Drops keys whose latest event is older than the longest window of their kind, and, in keys
   * that stay, the state of detectors whose own (shorter) window has passed: a quiet account
   * kept for a 90-day history should not also keep a 10-minute burst counter for 90 days.
   */
  expire(now: number): void {
    for (const kind of ['account', 'ip'] as const) {
      const cutoff = now - this.retention[kind];
      const store = this.stores[kind];
      const rules = this.rules.detectors.filter((r) => r.detector.keyKind === kind);
      for (const [key, rec] of store) {
        if (rec.lastTs < cutoff) {
          store.delete(key);
          continue;
        }
        const idle = now - rec.lastTs;
        for (const rule of rules) {
          const slot = DETECTOR_INDEX[rule.id]!;
          if (rec.states[slot] !== undefined && idle > rule.detector.retentionMs) rec.states[slot] = undefined;
          if (rec.coolTs?.[slot] !== undefined && now - rec.coolTs[slot]! >= rule.cooldownMs) {
            rec.coolTs[slot] = undefined;
          }
        }
      }
    }
  }

  private computeRetention(rules: Rules): Record<KeyKind, number> {
    const r: Record<KeyKind, number> = { account: 0, ip: 0 };
    for (const rule of rules.detectors) {
      const kind = rule.detector.keyKind;
      r[kind] = Math.max(r[kind], rule.detector.retentionMs, rule.cooldownMs);
    }
    return r;
  }
}
