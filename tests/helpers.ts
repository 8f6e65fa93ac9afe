/**
 * Shared test helpers: event builders, a fixed geolocation table, and a one-call run of the
 * real pipeline (reorder buffer, dedupe, engine, suppression) over a list of events.
 */
import { stringify } from 'yaml';
import type { Alert } from '../src/alerts/alert.js';
import { parseRules, type Rules } from '../src/config/rules.js';
import { DETECTOR_IDS } from '../src/detectors/registry.js';
import { Pipeline } from '../src/engine/pipeline.js';
import type { Stats } from '../src/engine/stats.js';
import { decodeValue } from '../src/events/decode.js';
import { StaticLocator, type GeoLocator, type GeoPoint } from '../src/geo/locator.js';

const T0 = Date.parse('2026-03-02T08:00:00.000Z');
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/** Event time `offsetMs` after a fixed origin, as ISO text. */
export function at(offsetMs: number): string {
  return new Date(T0 + offsetMs).toISOString();
}

function place(country: string, region: string, city: string, lat: number, lon: number, accuracyKm: number): GeoPoint {
  return { country, region, city, lat, lon, accuracyKm };
}

/**
 * Documentation addresses (RFC 5737 / 3849) mapped to places, so detector tests control
 * geography exactly and do not depend on a geolocation database's yearly changes.
 */
export const GEO: Record<string, GeoPoint> = {
  '198.51.100.1': place('GB', 'ENG', 'London', 51.5074, -0.1278, 20),
  '198.51.100.2': place('GB', 'ENG', 'London', 51.5074, -0.1278, 20),
  '198.51.100.3': place('GB', 'ENG', 'Reading', 51.4543, -0.9781, 20), // ~60 km from London
  '198.51.100.4': place('GB', 'ENG', 'Manchester', 53.4808, -2.2426, 20), // ~260 km from London
  '198.51.100.5': place('GB', 'ENG', 'Oxford', 51.752, -1.2577, 20),
  '198.51.100.6': place('GB', 'SCT', 'Edinburgh', 55.9533, -3.1883, 20),
  '203.0.113.1': place('US', 'NY', 'New York', 40.7128, -74.006, 20), // ~5570 km from London
  '203.0.113.2': place('US', 'CA', 'Los Angeles', 34.0522, -118.2437, 20),
  '203.0.113.3': place('US', 'IL', 'Chicago', 41.8781, -87.6298, 20),
  '192.0.2.1': place('FR', 'IDF', 'Paris', 48.8566, 2.3522, 20), // ~340 km from London
  '192.0.2.2': place('DE', 'BE', 'Berlin', 52.52, 13.405, 20), // ~930 km from London
  '192.0.2.3': place('JP', '13', 'Tokyo', 35.6762, 139.6503, 20),
  '192.0.2.4': place('BR', 'SP', 'Sao Paulo', -23.5505, -46.6333, 20),
  '192.0.2.5': place('ES', 'MD', 'Madrid', 40.4168, -3.7038, 20),
  // Country-level only: no city, accuracy radius of hundreds of km. Not a position fix.
  '192.0.2.100': place('US', '', '', 37.751, -97.822, 1000),
  '192.0.2.101': place('DE', '', '', 51.2993, 9.491, 200),
  '192.0.2.102': place('RU', '', '', 55.7386, 37.6068, 1000),
  '192.0.2.103': place('BR', '', '', -22.8305, -43.2192, 1000),
  '2001:db8::1': place('NL', 'NH', 'Amsterdam', 52.3676, 4.9041, 20),
};

export function testLocator(extra: Record<string, GeoPoint> = {}): GeoLocator {
  return new StaticLocator({ ...GEO, ...extra });
}

let nextId = 0;
function id(prefix: string): string {
  nextId++;
  return `${prefix}-${String(nextId).padStart(6, '0')}`;
}

export type RawEvent = Record<string, unknown>;

export function login(accountId: string, offsetMs: number, ip: string, success = true, extra: RawEvent = {}): RawEvent {
  return { eventId: id('l'), type: 'login', ts: at(offsetMs), accountId, ip, success, deviceId: 'd-' + accountId, ...extra };
}

export function playback(
  accountId: string,
  offsetMs: number,
  ip: string,
  deviceId: string,
  sessionId: string,
  action: 'start' | 'heartbeat' | 'stop',
  extra: RawEvent = {},
): RawEvent {
  return { eventId: id('p'), type: 'playback', ts: at(offsetMs), accountId, ip, deviceId, sessionId, action, titleId: 't1', ...extra };
}

/** A viewing session: start, heartbeats every `beatMs`, stop (unless `stop` is false). */
export function session(accountId: string, startMs: number, durationMs: number, ip: string, deviceId: string, sessionId: string, beatMs = 5 * MIN, stop = true): RawEvent[] {
  const out = [playback(accountId, startMs, ip, deviceId, sessionId, 'start')];
  for (let t = startMs + beatMs; t < startMs + durationMs; t += beatMs) out.push(playback(accountId, t, ip, deviceId, sessionId, 'heartbeat'));
  if (stop) out.push(playback(accountId, startMs + durationMs, ip, deviceId, sessionId, 'stop'));
  return out;
}

export function update(accountId: string, offsetMs: number, change: string, extra: RawEvent = {}): RawEvent {
  return { eventId: id('u'), type: 'account_update', ts: at(offsetMs), accountId, change, ...extra };
}

/** Rules from a plain object (as it would be written in YAML); everything else defaults. */
export function rules(config: Record<string, unknown> = {}): Rules {
  return parseRules(stringify(config), 'test-rules.yaml');
}

/** Rules with only the named detectors enabled, so a test sees one detector's alerts alone. */
export function only(detectorIds: string[], detectorConfig: Record<string, Record<string, unknown>> = {}, top: Record<string, unknown> = {}): Rules {
  const detectors: Record<string, Record<string, unknown>> = {};
  for (const d of DETECTOR_IDS) detectors[d] = { enabled: detectorIds.includes(d), ...(detectorConfig[d] ?? {}) };
  return rules({ ...top, detectors });
}

export interface RunResult {
  alerts: Alert[];
  stats: Stats;
  /** Alerts of one detector. */
  of(detector: string): Alert[];
}

/** Runs raw events (in the given arrival order) through the real pipeline and collects alerts. */
export function run(events: RawEvent[], opts: { rules?: Rules; locator?: GeoLocator; latenessMs?: number } = {}): RunResult {
  const alerts: Alert[] = [];
  const pipeline = new Pipeline({
    rules: opts.rules ?? rules(),
    locator: opts.locator ?? testLocator(),
    latenessMs: opts.latenessMs,
    onAlert: (a) => alerts.push(a),
  });
  for (const e of events) pipeline.offer(decodeValue(e), 0, undefined);
  pipeline.flush();
  return { alerts, stats: pipeline.stats, of: (d) => alerts.filter((a) => a.detector === d) };
}

/** Sorts a copy by event time (builders are often easier to call out of order). */
export function byTime(events: RawEvent[]): RawEvent[] {
  return [...events].sort((a, b) => Date.parse(String(a.ts)) - Date.parse(String(b.ts)));
}
