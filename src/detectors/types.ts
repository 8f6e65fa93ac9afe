import type { z } from 'zod';
import type { EventType, FraudEvent } from '../events/types.js';
import type { GeoLocator, GeoPoint } from '../geo/locator.js';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { low: 0, medium: 1, high: 2, critical: 3 };

/** What a detector's state is keyed by. Account state follows the account; IP state the address or network. */
export type KeyKind = 'account' | 'ip';

/** A detector's raw judgement on one event, before allowlist, cooldown and shadow mode. */
export interface Finding {
  readonly detector: string;
  /** Overrides the configured severity for this finding only (brute_force escalates to critical). */
  readonly severity?: Severity;
  /** accountId, IP address, or network CIDR, matching the detector's key kind. */
  readonly key: string;
  /** One sentence a fraud analyst understands, with the key numbers. */
  readonly summary: string;
  /** Detector-specific, JSON-serialisable, deterministic (rounded numbers, stable key order). */
  readonly evidence: Readonly<Record<string, unknown>>;
  /** Supporting events, oldest first, the triggering event last. The engine keeps the last 20. */
  readonly eventIds: readonly string[];
  /**
   * A repeat of an episode already alerted (the detector's own rule): composites still read it
   * as a signal, as they read findings hidden by the cooldown, but it raises no alert and is
   * counted as suppressed by cooldown.
   */
  readonly signalOnly?: boolean;
}

/** What the engine knows about the current event besides the event itself. Reused across events. */
export interface EventContext {
  /** Geolocation of the event's `ip` (cached), or null when unknown or absent. */
  readonly geo: GeoPoint | null;
  readonly locator: GeoLocator;
  /** Findings already raised on this event by detectors earlier in the registry order. */
  readonly findings: readonly Finding[];
}

export type Emit = (finding: Finding) => void;

/**
 * One detector: a pure function of (event, its key's state). It never reads the clock; time is
 * `ev.ts`. Its state is plain JSON data (numbers, strings, arrays, plain objects — no Map, Set
 * or class instances) so that it can be snapshotted to a changelog and restored as it was.
 */
export interface Detector<S = unknown> {
  readonly id: string;
  readonly keyKind: KeyKind;
  /** Bumped when the state's shape changes; a snapshot of another version is discarded on restore. */
  readonly stateVersion: number;
  /** How long after a key's last event its state is still worth keeping (event time, ms). */
  readonly retentionMs: number;
  /**
   * The event types `keyOf` can give a key for. The engine calls a detector only for events of
   * these types (it precomputes, per type, the detectors to run), so most events skip most
   * detectors without a call: nine events in ten are playback, which four detectors read. It
   * must cover every type `keyOf` gives a key for; `keyOf` still returns undefined for the
   * others, for callers that ask it directly (the exactly-once router).
   */
  readonly consumes: readonly EventType[];
  /**
   * The key this event is scored under, or undefined when the detector ignores the event. A
   * detector that aggregates at two levels (an address and its network) returns both keys; it
   * should return a reused array, not allocate one per event. `onEvent` then runs once per key.
   */
  keyOf(ev: FraudEvent): string | readonly string[] | undefined;
  /** Scores one event under `key`. May mutate and return `state`, return a new one, or undefined to drop it. */
  onEvent(ev: FraudEvent, state: S | undefined, ctx: EventContext, emit: Emit, key: string): S | undefined;
}

/**
 * The registration of a detector type: its id, its options schema (zod, strict, with defaults:
 * the single source for validation, defaults and the effective config), and a factory that
 * resolves options once per rules load into a ready detector.
 */
export interface DetectorSpec<O extends z.ZodType = z.ZodType> {
  readonly id: string;
  readonly keyKind: KeyKind;
  readonly defaultSeverity: Severity;
  /** One line for `validate` and the README. */
  readonly description: string;
  /**
   * The detector's own cooldown when the rules give it none, for detectors whose episodes last
   * hours (a slow attack stays over its threshold all day): without it they would re-alert
   * every global cooldown. Unset: the global cooldown applies.
   */
  readonly defaultCooldown?: string;
  readonly options: O;
  create(options: z.output<O>): Detector;
}

export function defineDetector<O extends z.ZodType>(spec: DetectorSpec<O>): DetectorSpec<O> {
  return spec;
}
