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
  'login_risk',
  'account_takeover',
] as const;
export type DetectorId = (typeof DETECTORS)[number];

export type LabelKey = { accountId: string } | { ip: string };

/**
 * Every incident class the generator injects, with the detector that must catch it. A class is
 * finer than a detector: it says which of the detector's rules (or which attacker technique) the
 * incident exercises, so a backtest can show, say, that turning the long window off loses slow
 * brute force while bursts are still caught.
 */
export const INCIDENT_CLASSES = {
  /** Home login, then a precise city >= 4000 km away 40–80 min later. */
  impossible_travel_login: 'impossible_travel',
  /** Two precise cities of one country 150–450 km apart, logins minutes apart (the 100 km floor). */
  short_hop: 'impossible_travel',
  /** A stream from another continent while the owner streams at home: playback fixes, no login. */
  stolen_session_stream: 'impossible_travel',
  geo_surge: 'geo_surge',
  /** 15–30 failures in 5 minutes, half ending in a success. */
  brute_force_burst: 'brute_force',
  /** 34–44 failures over most of a day, never 10 in 10 minutes (the 24 h long window). */
  slow_brute_force: 'brute_force',
  /** One address, 30–60 accounts in 8 minutes. */
  stuffing_single_ip: 'credential_stuffing',
  /** 8–12 addresses of one /24, each below the address threshold, 40–60 accounts together. */
  distributed_stuffing: 'credential_stuffing',
  unfamiliar_location: 'unfamiliar_location',
  /** 20–40 attempts, mostly successes, in an hour from home. */
  login_rate_spike: 'login_rate_anomaly',
  /** 18–26 failures over most of a day: under brute_force's 30, far above the account's own failures. */
  slow_guessing: 'login_rate_anomaly',
  concurrent_streams: 'concurrent_streams',
  /** 4–5 other cities streaming on 2–3 scattered days each. */
  sharing_households: 'account_sharing',
  /** Just two other cities, each streaming on 3–4 days spread over two weeks or more. */
  sharing_recurrent: 'account_sharing',
  /** About 20 h of viewing in a day (the absolute cap). */
  viewing_binge: 'viewing_anomaly',
  /** A light viewer (about 1 h a day) watching 10 h on one day (the baseline). */
  viewing_jump: 'viewing_anomaly',
  /** A light viewer watching about 9 h a day for 3–4 days running (the baseline, under the cap). */
  viewing_habit_jump: 'viewing_anomaly',
  account_takeover: 'account_takeover',
  /** Same country, new device, user agent family and /24, at an hour the owner never logs in. */
  quiet_takeover: 'login_risk',
  // Detection fidelity: young accounts, and brute force against the owner's own logins.
  /** A young account (3–6 days of about 1 h a day) jumping to 9–10 h a day for three days. */
  viewing_young_jump: 'viewing_anomaly',
  /** A young account (1–2 days old, a few logins) making 20–40 attempts in an hour. */
  login_rate_young_spike: 'login_rate_anomaly',
  /** 12–20 failures in 5 minutes from one address, split by the owner's own successes from another, half ending in the attacker's success. */
  brute_force_interleaved: 'brute_force',
  /** Guessing from 40–80 addresses (many networks, countries and user agents), one or two failures each, within minutes. */
  spread_guessing: 'brute_force',
} as const satisfies Record<string, DetectorId>;
export type IncidentClass = keyof typeof INCIDENT_CLASSES;

/** Something injected that the named detector must alert on, for this key, inside [start, end]. */
export interface Incident {
  id: string;
  /** Which kind of incident (a key of INCIDENT_CLASSES): finer than the detector. */
  class: IncidentClass;
  detector: DetectorId;
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
