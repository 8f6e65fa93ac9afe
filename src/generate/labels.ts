/** Detector ids, as the engine names them. */
export const DETECTORS = [
  'impossible_travel',
  'geo_surge',
  'brute_force',
  'credential_stuffing',
  'unfamiliar_location',
  'login_rate_anomaly',
  'concurrent_streams',
  'account_sharing',
  'viewing_anomaly',
  'account_takeover',
] as const;
export type DetectorId = (typeof DETECTORS)[number];

export type LabelKey = { accountId: string } | { ip: string };

/** Something injected that the named detector must alert on, for this key, inside [start, end]. */
export interface Incident {
  id: string;
  detector: string;
  key: LabelKey;
  start: string;
  end: string;
  description: string;
  /**
   * Other detectors whose rule the same events also satisfy (e.g. a brute-force burst is also a
   * login-rate spike). They are neither required nor false positives; a scorer should ignore them.
   */
  mayAlsoFire: string[];
}

/** Benign behaviour that looks suspicious: the `quietDetectors` must NOT alert on this key in [start, end]. */
export interface Trap {
  id: string;
  class: string;
  key: LabelKey;
  start: string;
  end: string;
  quietDetectors: string[];
  description: string;
  /** Detectors that may legitimately alert here by their rule (e.g. a real trip to a new country). */
  mayAlsoFire: string[];
}

export interface LabelsFile {
  version: 1;
  seed: number;
  accounts: number;
  days: number;
  start: string;
  end: string;
  /** Distinct valid events (not counting duplicate or invalid lines). */
  events: number;
  /** Lines that are exact repeats of an earlier line (same eventId). */
  duplicateLines: number;
  /** Lines that do not decode as an event (bad JSON, missing field, bad ip/ts, unknown type). */
  invalidLines: number;
  /** Largest amount by which an event's ts is older than an event before it in the file, in ms. */
  maxDisorderMs: number;
  incidents: Incident[];
  traps: Trap[];
}
