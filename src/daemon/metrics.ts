import { createRequire } from 'node:module';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DETECTOR_IDS } from '../detectors/registry.js';
import { SEVERITIES } from '../detectors/types.js';
import type { Stats } from '../engine/stats.js';
import { EVENT_TYPES, INVALID_REASONS } from '../events/types.js';

/**
 * Label values with no exported list elsewhere. ALERT_MODES is how the engine labels
 * `alertsByDetectorSeverity` (src/engine/engine.ts), RELOAD_RESULTS what reloadRulesFile counts
 * (src/daemon/lifecycle.ts); tests/observability.test.ts checks both against the code that uses them.
 */
export const ALERT_MODES = ['enforce', 'shadow'] as const;
export const SUPPRESSION_REASONS = ['cooldown', 'allowlist'] as const;
export const RELOAD_RESULTS = ['applied', 'rejected'] as const;
export const KEY_KINDS = ['account', 'ip'] as const;

const require = createRequire(import.meta.url);

/** A package's version from its package.json, or "unknown"; the same relative path from src/daemon/ and dist/daemon/. */
function versionOf(spec: string): string {
  try {
    return String((require(spec) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

export const BUILD_INFO = Object.freeze({ version: versionOf('../../package.json'), node: process.versions.node, kafkajs: versionOf('kafkajs/package.json') });
import type { GeoDataInfo } from '../geo/locator.js';

/**
 * Prometheus metrics. The engine counts in plain numbers (cheap on the hot path); the counters
 * here catch up from those numbers when scraped, so nothing per event touches prom-client.
 */
export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly events = new Counter({ name: 'fraudwatch_events_total', help: 'Valid events consumed, by type', labelNames: ['type'], registers: [this.registry] });
  private readonly invalid = new Counter({ name: 'fraudwatch_invalid_events_total', help: 'Invalid records sent to the dead-letter topic, by reason', labelNames: ['reason'], registers: [this.registry] });
  private readonly duplicates = new Counter({ name: 'fraudwatch_duplicate_events_total', help: 'Events dropped as repeated eventIds', registers: [this.registry] });
  private readonly late = new Counter({ name: 'fraudwatch_late_events_total', help: 'Events that arrived later than the lateness (scored out of order)', registers: [this.registry] });
  private readonly processingErrors = new Counter({
    name: 'fraudwatch_processing_errors_total',
    // Unlabelled: prom-client exports it at 0 from the first scrape, like the other plain counters.
    help: 'Events whose scoring failed (a bug, logged as FW_INTERNAL): dead-lettered with reason processing_error, not retried',
    registers: [this.registry],
  });
  private readonly alerts = new Counter({ name: 'fraudwatch_alerts_total', help: 'Alerts produced, by detector, severity and mode', labelNames: ['detector', 'severity', 'mode'], registers: [this.registry] });
  private readonly suppressed = new Counter({ name: 'fraudwatch_alerts_suppressed_total', help: 'Findings suppressed, by detector and reason (cooldown, allowlist)', labelNames: ['detector', 'reason'], registers: [this.registry] });
  readonly reloads = new Counter({ name: 'fraudwatch_rules_reloads_total', help: 'Rules reloads, by result (applied, rejected)', labelNames: ['result'], registers: [this.registry] });
  readonly rulesInfo = new Gauge({ name: 'fraudwatch_rules_info', help: 'The rules in effect (value 1), by rulesVersion', labelNames: ['version'], registers: [this.registry] });
  readonly lastReloadSuccess = new Gauge({
    name: 'fraudwatch_rules_last_reload_success_timestamp_seconds',
    help: 'When the rules in effect were loaded (s since the epoch): the start, then every applied reload',
    registers: [this.registry],
  });
  readonly buildInfo = new Gauge({
    name: 'fraudwatch_build_info',
    help: 'Always 1: the fraudwatch version and the Node.js and kafkajs versions it runs on',
    labelNames: ['version', 'node', 'kafkajs'],
    registers: [this.registry],
  });
  readonly geoInfo = new Gauge({ name: 'fraudwatch_geo_info', help: 'The geolocation data in use (value 1), by provider and build', labelNames: ['provider', 'build'], registers: [this.registry] });
  readonly lag = new Gauge({ name: 'fraudwatch_consumer_lag', help: 'Messages behind the partition high watermark', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly ready = new Gauge({ name: 'fraudwatch_ready', help: '1 when joined to the group and consuming', registers: [this.registry] });
  readonly buffered = new Gauge({ name: 'fraudwatch_reorder_buffered_events', help: 'Events waiting in the event-time reorder buffer', registers: [this.registry] });
  readonly pausedPartitions = new Gauge({ name: 'fraudwatch_paused_partitions', help: 'Input partitions paused by flow control (too many of their events wait in the reorder buffer)', registers: [this.registry] });
  readonly partitionPauses = new Counter({ name: 'fraudwatch_partition_pauses_total', help: 'Times an input partition was paused by flow control', registers: [this.registry] });
  private readonly evictions = new Counter({
    name: 'fraudwatch_state_evictions_total',
    help: "Keys evicted, by kind, to keep detector state within the rules' stateBudget (an evicted key starts again with no history)",
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly stateBudget = new Gauge({ name: 'fraudwatch_state_budget_keys', help: "The most keys of each kind this process holds (the rules' stateBudget, this process's share)", labelNames: ['kind'], registers: [this.registry] });
  readonly trackedKeys = new Gauge({ name: 'fraudwatch_tracked_keys', help: 'Keys with detector state, by kind', labelNames: ['kind'], registers: [this.registry] });
  readonly watermark = new Gauge({
    name: 'fraudwatch_watermark_seconds',
    help: 'Event time (s since the epoch) up to which a task releases events: its slowest input partition, less the lateness',
    labelNames: ['task'],
    registers: [this.registry],
  });
  readonly sourceTime = new Gauge({
    name: 'fraudwatch_source_event_time_seconds',
    help: 'Newest event time (s since the epoch) a task has from each input partition; a partition far behind the others holds back its watermark',
    labelNames: ['task', 'partition'],
    registers: [this.registry],
  });
  readonly sourceCaughtUp = new Gauge({
    name: 'fraudwatch_source_caught_up',
    help: '1 when the latest lag check found nothing unread for the input partition, so it no longer holds back event time',
    labelNames: ['task', 'partition'],
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'fraudwatch_batch_duration_seconds',
    help: 'Time to score a fetched batch, produce its alerts and dead letters, and commit',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly alertLatency = new Histogram({
    name: 'fraudwatch_alert_latency_seconds',
    help: 'From receiving the triggering event to the broker acknowledging its alert (includes the reorder lateness)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  private readonly seen = new Map<string, number>();
  /** Partition labels set per task, so a task's series can be removed when it moves away. */
  private readonly progressSeries = new Map<string, Set<string>>();

  /** Re-evaluates readiness; see probeReadinessOnScrape. */
  private readiness: (() => unknown) | undefined;

  constructor(private readonly stats: Stats) {
    collectDefaultMetrics({ register: this.registry, prefix: 'fraudwatch_' });
    this.buildInfo.set(BUILD_INFO, 1);
    this.lastReloadSuccess.setToCurrentTime();
    // Every known label value exists from the first scrape, at 0: rate() and increase() see the
    // first event of a kind as a step from 0, and "no X" alerts have a series to compare.
    for (const type of EVENT_TYPES) this.events.inc({ type }, 0);
    for (const reason of INVALID_REASONS) this.invalid.inc({ reason }, 0);
    for (const detector of DETECTOR_IDS) {
      for (const severity of SEVERITIES) for (const mode of ALERT_MODES) this.alerts.inc({ detector, severity, mode }, 0);
      for (const reason of SUPPRESSION_REASONS) this.suppressed.inc({ detector, reason }, 0);
    }
    for (const result of RELOAD_RESULTS) this.reloads.inc({ result }, 0);
    for (const kind of KEY_KINDS) this.evictions.inc({ kind }, 0);
  }

  /**
   * `probe` runs before every scrape. The service passes its readiness check, which sets
   * `fraudwatch_ready`: without it the gauge moved only when someone asked /readyz.
   */
  probeReadinessOnScrape(probe: () => unknown): void {
    this.readiness = probe;
  }

  /** Brings the counters up to the engine's numbers; called before each scrape. */
  sync(): void {
    this.readiness?.();
    const s = this.stats;
    for (const [type, n] of Object.entries(s.byType)) this.catchUp(this.events, { type }, `e:${type}`, n);
    for (const [reason, n] of Object.entries(s.invalid)) this.catchUp(this.invalid, { reason }, `i:${reason}`, n ?? 0);
    this.catchUp(this.duplicates, {}, 'dup', s.duplicates);
    this.catchUp(this.late, {}, 'late', s.late);
    this.catchUp(this.processingErrors, {}, 'perr', s.processingErrors);
    for (const kind of KEY_KINDS) this.catchUp(this.evictions, { kind }, `ev:${kind}`, s.evictions[kind]);
    for (const [key, n] of Object.entries(s.alertsByDetectorSeverity)) {
      const [detector, severity, mode] = key.split('|') as [string, string, string];
      this.catchUp(this.alerts, { detector, severity, mode }, `a:${key}`, n);
    }
    for (const [detector, n] of Object.entries(s.suppressedCooldown)) this.catchUp(this.suppressed, { detector, reason: 'cooldown' }, `c:${detector}`, n);
    for (const [detector, n] of Object.entries(s.suppressedAllowlist)) this.catchUp(this.suppressed, { detector, reason: 'allowlist' }, `w:${detector}`, n);
  }

  /** The geolocation data in use: one series, replaced when the database is swapped. */
  setGeo(info: GeoDataInfo): void {
    this.geoInfo.reset();
    this.geoInfo.set({ provider: info.provider, build: info.build }, 1);
  }

  /** A task's event-time position: its watermark and each input partition's clock (ms; −∞ is left unset). */
  setProgress(task: string, watermarkMs: number, sources: Iterable<{ partition: string | number; ts: number; caughtUp: boolean }>): void {
    if (Number.isFinite(watermarkMs)) this.watermark.set({ task }, watermarkMs / 1000);
    let known = this.progressSeries.get(task);
    if (known === undefined) this.progressSeries.set(task, (known = new Set()));
    for (const s of sources) {
      const labels = { task, partition: String(s.partition) };
      known.add(labels.partition);
      if (Number.isFinite(s.ts)) this.sourceTime.set(labels, s.ts / 1000);
      this.sourceCaughtUp.set(labels, s.caughtUp ? 1 : 0);
    }
  }

  /** A task or partition that moved away: its series go with it. */
  forgetProgress(task: string, partition?: string | number): void {
    const known = this.progressSeries.get(task);
    const partitions = partition === undefined ? [...(known ?? [])] : [String(partition)];
    for (const p of partitions) {
      this.sourceTime.remove({ task, partition: p });
      this.sourceCaughtUp.remove({ task, partition: p });
      known?.delete(p);
    }
    if (partition === undefined) {
      this.watermark.remove({ task });
      this.progressSeries.delete(task);
    }
  }

  private catchUp(counter: Counter<string>, labels: Record<string, string>, id: string, value: number): void {
    const delta = value - (this.seen.get(id) ?? 0);
    if (delta > 0) {
      counter.inc(labels, delta);
      this.seen.set(id, value);
    }
  }
}
