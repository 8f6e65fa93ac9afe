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

/** `score` with its spread raised to at least `floor` (and z rescored), when it is below it. */
export function withScaleFloor(score: RobustScore, x: number, floor: number): RobustScore {
  if (score.scale >= floor) return score;
  return { median: score.median, mad: score.mad, scale: floor, z: (x - score.median) / floor };
}

/** Rounds for evidence, so alerts print the same digits everywhere. */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A population prior: a typical value, how widely accounts differ, and what it is worth in observations. */
export interface Prior {
  readonly median: number;
  readonly scale: number;
  readonly weight: number;
}

export interface Shrunk extends RobustScore {
  /** The account's own median, before shrinking. */
  readonly ownMedian: number;
  /** The prior's share of the baseline: weight / (weight + n); 0 without a prior. */
  readonly priorShare: number;
}

/**
 * Shrinks an account's own robust baseline (`own`, over `n` observations) toward a population
 * prior, as empirical Bayes does: the median and the spread each become
 * (weight × prior + n × own) / (weight + n), and `x` is scored against the result. With no
 * prior (or weight 0) the own score is returned as it is. A young account is thus judged early,
 * against the population as much as against its few days, and its own habit takes over as its
 * history grows.
 */
export function shrinkToPrior(own: RobustScore, n: number, x: number, prior: Prior | undefined): Shrunk {
  if (prior === undefined || prior.weight <= 0) return { ...own, ownMedian: own.median, priorShare: 0 };
  const share = prior.weight / (prior.weight + n);
  // With no observations the own score has median 0 and scale minScale: the prior alone counts.
  const med = share * prior.median + (1 - share) * own.median;
  const scale = share * prior.scale + (1 - share) * own.scale;
  return { median: med, mad: own.mad, scale, z: (x - med) / scale, ownMedian: own.median, priorShare: share };
}
