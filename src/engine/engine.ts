import { toAlert, type Alert } from '../alerts/alert.js';
import type { DetectorRule, Rules } from '../config/rules.js';
import { DETECTOR_INDEX, SLOTS_PER_KIND } from '../detectors/registry.js';
import { SEVERITY_RANK, type Detector, type EventContext, type Finding, type KeyKind } from '../detectors/types.js';
import { EVENT_TYPES, type EventType, type FraudEvent } from '../events/types.js';
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
  /** Detector states by slot within the key kind (DETECTOR_INDEX; sparse: most keys touch few detectors). */
  states: unknown[];
  /** The open alert episode of each detector slot (see `raise`); absent for most keys. */
  episodes?: (Episode | undefined)[];
}

/**
 * One incident as the pager sees it: the findings of one detector on one key that keep coming
 * less than the cooldown apart. It opens with an alert, pages again only when the severity
 * rises, and closes after a cooldown without findings or once it is `episodeMax` old.
 */
export interface Episode {
  /** The alertId of the alert that opened it. */
  readonly id: string;
  /** Event time of the opening finding. */
  readonly start: number;
  /** Event time of the latest finding. */
  last: number;
  /** Severity rank of the latest alert: only a higher one pages again. */
  rank: number;
  /** Findings so far, the opening one included. */
  findings: number;
}

/**
 * A key's detector slots, sized exactly for its kind: an empty array grown by index reserves 17
 * slots or more, and this record exists for every tracked account.
 */
function newStates(kind: KeyKind): unknown[] {
  return new Array<unknown>(SLOTS_PER_KIND[kind]);
}

/** How often (event time) the stores are swept for expired keys. */
const SWEEP_INTERVAL_MS = 3_600_000;

export type AlertListener = (alert: Alert, trigger: FraudEvent) => void;

export interface EngineOptions {
  /**
   * Run only the detectors of this key kind. The exactly-once runner splits the work into
   * account tasks and IP tasks (each fed by its own repartition topic), and each task's engine
   * must score only its own kind: the other kind's keys live in another task.
   */
  readonly keyKind?: KeyKind;
  /**
   * How many engines share the rules' state budget (the exactly-once daemon: the partitions of
   * the task's repartition topic). Each holds budget / shares keys, so that a deployment holds
   * the budget in all, however its tasks are spread. Default 1: replay and at-least-once.
   */
  readonly budgetShares?: number;
}

/**
 * A key's state as plain data, for the changelog. Detector states are stored by detector id with
 * the detector's `stateVersion`, so that a restore under other rules or another release can
 * tell which states it can still read: registry slots and shapes may change, ids may not.
 */
export interface KeySnapshot {
  /** Snapshot format version (this shape). */
  readonly v: 1;
  readonly lastTs: number;
  readonly detectors: Readonly<Record<string, { readonly v: number; readonly s: unknown }>>;
  /** Written by releases before alert episodes: [time of the last alert, its severity rank], read as an episode. */
  readonly cooldown?: Readonly<Record<string, readonly [number, number]>>;
  /** Open alert episode per detector id: [episode id, start, latest finding, severity rank, findings]. */
  readonly episodes?: Readonly<Record<string, readonly [string, number, number, number, number]>>;
}

/** What a restore kept and left out of one key's snapshot. */
export interface RestoreOutcome {
  readonly restored: number;
  /** Detector ids whose state was discarded: unknown or disabled now, or another stateVersion. */
  readonly dropped: readonly { readonly id: string; readonly why: 'unknown' | 'version' }[];
}

/** Keys changed since the last `takeChanges()`: snapshot the dirty ones, tombstone the removed ones. */
export interface KeyChanges {
  readonly dirty: Record<KeyKind, Set<string>>;
  readonly removed: Record<KeyKind, Set<string>>;
}

/** The engine's own event-time bookkeeping, persisted with a task so a restored task sweeps when the original would have. */
export interface EngineClock {
  readonly clock: number;
  readonly nextSweep: number;
}

/** What a sweep checks per detector of a kind, computed once per rules change (shortest retention first). */
interface SweepRule {
  readonly slot: number;
  readonly retentionMs: number;
  readonly cooldownMs: number;
}

/** One detector to run on an event of some type: its rule, the detector, and its state slot. */
interface Dispatch {
  readonly rule: DetectorRule;
  readonly detector: Detector;
  readonly slot: number;
}

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
  /**
   * Per event type, the detectors that consume it (the rules' detectors, restricted to
   * `options.keyKind` when given), in registry order: a composite reads the findings of the
   * detectors before it on the same event. Built once per rules change, so an event calls only
   * the detectors that read it (nine events in ten are playback, read by four of eleven), and
   * the slot is resolved here, not by a string-keyed lookup per detector and event.
   */
  private dispatch: Readonly<Record<EventType, readonly Dispatch[]>>;
  private sweepRules: Record<KeyKind, readonly SweepRule[]> = { account: [], ip: [] };
  /** Per kind, the shortest detector retention: a key idle for less keeps all its states. */
  private minRetention: Record<KeyKind, number> = { account: 0, ip: 0 };
  /**
   * The record last looked up per kind during the current event. Most of a kind's detectors key
   * an event by the same string (its accountId), so one map lookup serves them all.
   */
  private memoKey: Record<KeyKind, string | undefined> = { account: undefined, ip: undefined };
  private memoRec: Record<KeyKind, KeyRecord | undefined> = { account: undefined, ip: undefined };
  /** Set by `trackChanges()`; undefined (no cost) in replay and the at-least-once daemon. */
  private changes: KeyChanges | undefined;
  private readonly stores: Record<KeyKind, Map<string, KeyRecord>> = { account: new Map(), ip: new Map() };
  private readonly ctx: Context;
  private retention: Record<KeyKind, number> = { account: 0, ip: 0 };
  private clock = Number.NEGATIVE_INFINITY;
  /** How long an alert episode may last before the next finding opens a new one (rules `episodeMax`). */
  private episodeMaxMs: number;
  private nextSweep = Number.NEGATIVE_INFINITY;
  /** Most keys held per kind (the rules' stateBudget, this engine's share). */
  private limit: Record<KeyKind, number> = { account: 0, ip: 0 };
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
    private readonly options: EngineOptions = {},
  ) {
    this.rules = rules;
    this.episodeMaxMs = rules.episodeMaxMs;
    this.limit = this.limitsOf(rules);
    this.dispatch = this.planDispatch(rules);
    this.ctx = new Context(locator);
    this.retention = this.computeRetention(rules);
    this.planSweeps(rules);
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
    this.episodeMaxMs = rules.episodeMaxMs;
    this.limit = this.limitsOf(rules);
    this.dispatch = this.planDispatch(rules);
    this.retention = this.computeRetention(rules);
    this.planSweeps(rules);
  }

  private limitsOf(rules: Rules): Record<KeyKind, number> {
    const shares = Math.max(1, this.options.budgetShares ?? 1);
    return { account: Math.ceil(rules.stateBudget.account / shares), ip: Math.ceil(rules.stateBudget.ip / shares) };
  }

  private planDispatch(rules: Rules): Record<EventType, readonly Dispatch[]> {
    const kind = this.options.keyKind;
    const selected = kind === undefined ? rules.detectors : rules.detectors.filter((r) => r.detector.keyKind === kind);
    const plan = {} as Record<EventType, Dispatch[]>;
    for (const type of EVENT_TYPES) {
      plan[type] = selected
        .filter((r) => r.detector.consumes.includes(type))
        .map((rule) => ({ rule, detector: rule.detector, slot: DETECTOR_INDEX[rule.id]! }));
    }
    return plan;
  }

  private planSweeps(rules: Rules): void {
    for (const kind of ['account', 'ip'] as const) {
      const plan = rules.detectors
        .filter((r) => r.detector.keyKind === kind)
        .map((r) => ({ slot: DETECTOR_INDEX[r.id]!, retentionMs: r.detector.retentionMs, cooldownMs: r.cooldownMs }))
        .sort((a, b) => a.retentionMs - b.retentionMs);
      this.sweepRules[kind] = plan;
      this.minRetention[kind] = plan.reduce((m, r) => Math.min(m, r.retentionMs), Number.POSITIVE_INFINITY);
    }
  }

  /** The key's record (created when new), its latest event time moved on to `ts`. */
  private recordOf(kind: KeyKind, key: string, ts: number): KeyRecord {
    let rec: KeyRecord | undefined;
    if (this.memoKey[kind] === key) rec = this.memoRec[kind]!;
    else {
      const store = this.stores[kind];
      rec = store.get(key);
      if (rec === undefined) {
        rec = { lastTs: ts, states: newStates(kind) };
        store.set(key, rec);
      }
      this.memoKey[kind] = key;
      this.memoRec[kind] = rec;
    }
    if (ts > rec.lastTs) rec.lastTs = ts;
    return rec;
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
        // Sweeps run on hour boundaries of event time, with the boundary itself as "now", before
        // the first event at or past it: once everything below the boundary has been released.
        // A sweep timed by whichever event happened to cross it would differ between replay and a
        // task that sees only some keys; on boundaries, every key's state is the same in both
        // (expiry only depends on the key's own times and the boundary, and a later boundary
        // drops a superset of what an earlier one would).
        const boundary = Math.floor(ev.ts / SWEEP_INTERVAL_MS) * SWEEP_INTERVAL_MS;
        this.expire(boundary);
        this.nextSweep = boundary + SWEEP_INTERVAL_MS;
      }
    }
    // Over budget: evict before the event, so the event's own keys (the most recent) are never
    // the ones dropped. The check is two comparisons; the work happens once per batch of keys.
    if (this.stores.account.size > this.limit.account) this.evict('account');
    if (this.stores.ip.size > this.limit.ip) this.evict('ip');
    // The memo lives for one event: a sweep or a restore between events may drop the record.
    this.memoKey.account = this.memoKey.ip = undefined;
    this.memoRec.account = this.memoRec.ip = undefined;
    // So do the pending findings: an event abandoned by a detector that threw (the Pipeline counts
    // and dead-letters it) must not have its findings raised with the next event.
    this.pending.length = 0;
    const ctx = this.ctx;
    const run = this.dispatch[ev.type];
    // No detector reads this type (playback with brute_force alone): no lookup for nobody.
    ctx.geo = ev.ip === undefined || run.length === 0 ? null : this.locator.lookup(ev.ip);
    ctx.findings.length = 0;
    this.currentEvent = ev;

    for (let i = 0; i < run.length; i++) {
      const { rule, detector, slot } = run[i]!;
      const keys = detector.keyOf(ev);
      if (keys === undefined) continue;
      this.current = rule;
      if (typeof keys === 'string') this.score(rule, slot, keys, ev);
      else for (let k = 0; k < keys.length; k++) this.score(rule, slot, keys[k]!, ev);
    }
    this.current = undefined;
    this.currentEvent = undefined;

    if (this.pending.length > 0) {
      for (const { rule, finding } of this.pending) this.raise(rule, finding, ev);
      this.pending.length = 0;
    }
  }

  private score(rule: DetectorRule, slot: number, key: string, ev: FraudEvent): void {
    const rec = this.recordOf(rule.detector.keyKind, key, ev.ts);
    const prev = rec.states[slot];
    const next = rule.detector.onEvent(ev, prev, this.ctx, this.emit, key);
    // Writing `undefined` into an empty slot would still grow the array's backing store.
    if (next !== prev) rec.states[slot] = next;
    if (this.changes !== undefined) this.changes.dirty[rule.detector.keyKind].add(key);
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
    // Not recordOf: a finding about a key the event did not touch must not move its lastTs.
    const store = this.stores[kind];
    let rec = store.get(finding.key);
    if (rec === undefined) {
      rec = { lastTs: ev.ts, states: newStates(kind) };
      store.set(finding.key, rec);
    }
    // Episodes: findings of one detector on one key that keep coming less than the cooldown apart
    // are one incident, paged once, and again only when the severity rises (a brute force that
    // ends in a success must reach the analyst even minutes after the first alert). An episode
    // older than episodeMax closes, so a campaign that never stops still pages once a day.
    const episodes = (rec.episodes ??= []);
    let ep = episodes[slot];
    if (ep !== undefined && (ev.ts - ep.last >= rule.cooldownMs || ev.ts - ep.start >= this.episodeMaxMs)) ep = undefined;
    if (this.changes !== undefined) this.changes.dirty[kind].add(finding.key);
    if (ep !== undefined) {
      if (ev.ts > ep.last) ep.last = ev.ts;
      ep.findings++;
      if (rank <= ep.rank) {
        bump(this.stats.suppressedCooldown, rule.id);
        return;
      }
      ep.rank = rank;
    }
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
      episode: ep === undefined ? undefined : { id: ep.id, start: ep.start, findings: ep.findings },
    });
    if (ep === undefined) {
      ep = { id: alert.alertId, start: ev.ts, last: ev.ts, rank, findings: 1 };
      episodes[slot] = ep;
    }
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
      const rules = this.sweepRules[kind];
      const minRetention = this.minRetention[kind];
      const changes = this.changes;
      // forEach, not for-of: an entries iterator allocates a [key, record] pair per key visited,
      // every key every hour (about a tenth of replay's allocations). Deleting the entry being
      // visited is allowed in both.
      store.forEach((rec, key) => {
        if (rec.lastTs < cutoff) {
          store.delete(key);
          if (changes !== undefined) {
            changes.dirty[kind].delete(key);
            changes.removed[kind].add(key);
          }
          return;
        }
        const idle = now - rec.lastTs;
        const episodes = rec.episodes;
        // A key active within the shortest retention keeps every state: only episodes can close.
        if (idle <= minRetention && episodes === undefined) return;
        // Shortest retention first: the first detector whose retention the key is still within
        // keeps its state, and so does every one after it (most keys stop at the first).
        const states = rec.states;
        for (let i = 0; i < rules.length; i++) {
          const { slot, retentionMs } = rules[i]!;
          if (idle <= retentionMs) break;
          if (states[slot] !== undefined) {
            states[slot] = undefined;
            // The changelog must forget it too, or a restore would bring back state the live engine dropped.
            if (changes !== undefined) changes.dirty[kind].add(key);
          }
        }
        if (episodes === undefined) return;
        for (let i = 0; i < rules.length; i++) {
          const { slot, cooldownMs } = rules[i]!;
          const ep = episodes[slot];
          if (ep !== undefined && (now - ep.last >= cooldownMs || now - ep.start >= this.episodeMaxMs)) {
            episodes[slot] = undefined;
            if (changes !== undefined) changes.dirty[kind].add(key);
          }
        }
      });
    }
  }

  /**
   * Brings a kind's store back under its budget by dropping the least recently active keys (the
   * oldest `lastTs`, ties in insertion order, so replay and a live task drop the same keys). It
   * drops a twentieth of the budget at once: finding the cut is a pass over the store, and one
   * pass per key evicted would make every new key cost a full scan (the GC collapse a budget is
   * there to prevent); in batches the cost per key stays flat at about twenty entries visited.
   */
  private evict(kind: KeyKind): void {
    const store = this.stores[kind];
    const limit = this.limit[kind];
    const target = limit - Math.max(1, Math.floor(limit / 20));
    const count = store.size - target;
    if (count <= 0) return;
    const times = new Float64Array(store.size);
    let i = 0;
    for (const rec of store.values()) times[i++] = rec.lastTs;
    const cut = kthSmallest(times, count - 1);
    // Keys strictly older than the cut go; of those at the cut, the first ones in store order.
    let atCut = count;
    for (let j = 0; j < times.length; j++) if (times[j]! < cut) atCut--;
    const changes = this.changes;
    let evicted = 0;
    for (const [key, rec] of store) {
      const ts = rec.lastTs;
      if (ts > cut) continue;
      if (ts === cut) {
        if (atCut === 0) continue;
        atCut--;
      }
      store.delete(key);
      evicted++;
      if (changes !== undefined) {
        changes.dirty[kind].delete(key);
        changes.removed[kind].add(key);
      }
      if (evicted === count) break;
    }
    this.stats.evictions[kind] += evicted;
  }

  // ---- changelog support (exactly-once runner) ----------------------------------------------

  /** Starts recording which keys change, for `takeChanges()`. Off by default: replay pays nothing. */
  trackChanges(): void {
    this.changes ??= { dirty: { account: new Set(), ip: new Set() }, removed: { account: new Set(), ip: new Set() } };
  }

  /** The keys changed or removed since the previous call (then forgotten). */
  takeChanges(): KeyChanges {
    const taken = this.changes ?? { dirty: { account: new Set(), ip: new Set() }, removed: { account: new Set(), ip: new Set() } };
    if (this.changes !== undefined) this.changes = { dirty: { account: new Set(), ip: new Set() }, removed: { account: new Set(), ip: new Set() } };
    return taken;
  }

  /**
   * One key's state as plain data (see KeySnapshot), or undefined when the key holds nothing.
   * Only detectors of the current rules are written: a detector that is off has nothing to restore.
   */
  snapshotKey(kind: KeyKind, key: string): KeySnapshot | undefined {
    const rec = this.stores[kind].get(key);
    if (rec === undefined) return undefined;
    const detectors: Record<string, { v: number; s: unknown }> = {};
    let open: Record<string, [string, number, number, number, number]> | undefined;
    for (const rule of this.rules.detectors) {
      if (rule.detector.keyKind !== kind) continue;
      const slot = DETECTOR_INDEX[rule.id]!;
      const state = rec.states[slot];
      if (state !== undefined) detectors[rule.id] = { v: rule.detector.stateVersion, s: state };
      const ep = rec.episodes?.[slot];
      if (ep !== undefined) (open ??= {})[rule.id] = [ep.id, ep.start, ep.last, ep.rank, ep.findings];
    }
    return open === undefined ? { v: 1, lastTs: rec.lastTs, detectors } : { v: 1, lastTs: rec.lastTs, detectors, episodes: open };
  }

  /**
   * Puts a key back from its snapshot (replacing what the key held). A detector that no longer
   * exists, is off, or has another stateVersion starts empty for this key: a rules or release
   * change must never crash a restore, and a state of another shape must never reach a detector.
   */
  restoreKey(kind: KeyKind, key: string, snap: KeySnapshot): RestoreOutcome {
    const rec: KeyRecord = { lastTs: snap.lastTs, states: newStates(kind) };
    const dropped: { id: string; why: 'unknown' | 'version' }[] = [];
    let restored = 0;
    for (const [id, entry] of Object.entries(snap.detectors)) {
      const rule = this.ruleOf(kind, id);
      if (rule === undefined) dropped.push({ id, why: 'unknown' });
      else if (entry.v !== rule.detector.stateVersion) dropped.push({ id, why: 'version' });
      else {
        rec.states[DETECTOR_INDEX[id]!] = entry.s;
        restored++;
      }
    }
    // A snapshot from before episodes: its last alert is an episode of one finding, id unknown.
    for (const [id, [ts, rank]] of Object.entries(snap.cooldown ?? {})) {
      if (this.ruleOf(kind, id) === undefined) continue;
      (rec.episodes ??= [])[DETECTOR_INDEX[id]!] = { id: '', start: ts, last: ts, rank, findings: 1 };
    }
    for (const [id, [epId, start, last, rank, findings]] of Object.entries(snap.episodes ?? {})) {
      if (this.ruleOf(kind, id) === undefined) continue;
      (rec.episodes ??= [])[DETECTOR_INDEX[id]!] = { id: epId, start, last, rank, findings };
    }
    this.stores[kind].set(key, rec);
    return { restored, dropped };
  }

  private ruleOf(kind: KeyKind, id: string): DetectorRule | undefined {
    for (const rule of this.rules.detectors) if (rule.id === id && rule.detector.keyKind === kind) return rule;
    return undefined;
  }

  /** Event-time bookkeeping, saved with a task's position. */
  clockState(): EngineClock {
    return { clock: this.clock, nextSweep: this.nextSweep };
  }

  restoreClock(c: EngineClock): void {
    this.clock = c.clock;
    this.nextSweep = c.nextSweep;
  }

  /** The budget this engine holds per kind (metrics, docs). */
  budget(): Readonly<Record<KeyKind, number>> {
    return this.limit;
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

/**
 * The k-th smallest value (0-based) of `a`, by quickselect (Hoare partition). It reorders `a`.
 * Pivots come from a xorshift sequence rather than a fixed position, so an ordinary arrangement
 * of event times (they come from outside: sorted, reversed, organ-pipe) cannot make it
 * quadratic; the value found does not depend on the pivots, so eviction stays deterministic.
 */
function kthSmallest(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let seed = 0x9e3779b9;
  while (lo < hi) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const pivot = a[lo + ((seed >>> 0) % (hi - lo + 1))]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}
