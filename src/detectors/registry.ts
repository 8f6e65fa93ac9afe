import { accountSharing } from './accountSharing.js';
import { accountTakeover } from './accountTakeover.js';
import { bruteForce } from './bruteForce.js';
import { concurrentStreams } from './concurrentStreams.js';
import { credentialStuffing } from './credentialStuffing.js';
import { geoSurge } from './geoSurge.js';
import { impossibleTravel } from './impossibleTravel.js';
import { loginRateAnomaly } from './loginRateAnomaly.js';
import { loginRisk } from './loginRisk.js';
import type { DetectorSpec, KeyKind } from './types.js';
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
  loginRisk,
  accountTakeover,
] as unknown as DetectorSpec[]);

/**
 * Slot of each detector in the state record of its key kind: detectors of one kind are numbered
 * from 0, so an account record has no slot for IP detectors and an IP record only the one or
 * two it needs (there is a record per tracked account: every slot is 8 bytes times millions).
 */
export const DETECTOR_INDEX: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(DETECTORS.map((d) => [d.id, DETECTORS.filter((o) => o.keyKind === d.keyKind).indexOf(d)])),
);

/** Number of state slots in a record of each key kind. */
export const SLOTS_PER_KIND: Readonly<Record<KeyKind, number>> = Object.freeze({
  account: DETECTORS.filter((d) => d.keyKind === 'account').length,
  ip: DETECTORS.filter((d) => d.keyKind === 'ip').length,
});

export const DETECTOR_IDS: readonly string[] = Object.freeze(DETECTORS.map((d) => d.id));
