import { accountSharing } from './accountSharing.js';
import { accountTakeover } from './accountTakeover.js';
import { bruteForce } from './bruteForce.js';
import { concurrentStreams } from './concurrentStreams.js';
import { credentialStuffing } from './credentialStuffing.js';
import { geoSurge } from './geoSurge.js';
import { impossibleTravel } from './impossibleTravel.js';
import { loginRateAnomaly } from './loginRateAnomaly.js';
import type { DetectorSpec } from './types.js';
import { unfamiliarLocation } from './unfamiliarLocation.js';
import { viewingAnomaly } from './viewingAnomaly.js';

/**
 * Every detector type, in evaluation order. Order matters once: the composite
 * account_takeover reads the findings of the detectors before it on the same event.
 * Ids are a public contract (alert `detector` field, rule keys, metrics labels).
 */
export const DETECTORS: readonly DetectorSpec[] = Object.freeze([
  impossibleTravel,
  geoSurge,
  bruteForce,
  credentialStuffing,
  unfamiliarLocation,
  loginRateAnomaly,
  concurrentStreams,
  accountSharing,
  viewingAnomaly,
  accountTakeover,
] as unknown as DetectorSpec[]);

/** Stable slot of each detector in a key's state record. */
export const DETECTOR_INDEX: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(DETECTORS.map((d, i) => [d.id, i])),
);

export const DETECTOR_IDS: readonly string[] = Object.freeze(DETECTORS.map((d) => d.id));
