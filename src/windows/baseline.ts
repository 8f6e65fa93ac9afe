import { median, medianAbsoluteDeviation } from 'simple-statistics';

/** 1.4826 × MAD estimates the standard deviation for normal data, so z-scores read as usual. */
const MAD_TO_SIGMA = 1.4826;

export interface RobustScore {
  readonly median: number;
  readonly mad: number;
  /** The spread actually divided by: max(1.4826 × MAD, minScale). */
  readonly scale: number;
  readonly z: number;
}

/**
 * Robust z-score of `x` against `history` (median and MAD, not mean and SD, so one earlier
 * spike does not mask the next). `minScale` keeps a flat history (MAD 0: a user who logs in
 * once a day, every day) from turning any small change into an infinite score.
 */
export function robustScore(history: readonly number[], x: number, minScale: number): RobustScore {
  if (history.length === 0) return { median: 0, mad: 0, scale: minScale, z: 0 };
  const med = median(history as number[]);
  const mad = medianAbsoluteDeviation(history as number[]);
  const scale = Math.max(MAD_TO_SIGMA * mad, minScale);
  return { median: med, mad, scale, z: (x - med) / scale };
}

/** Rounds for evidence, so alerts print the same digits everywhere. */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
