/**
 * A sparse series of counts per fixed-size event-time bucket (hour, day), as two sorted
 * parallel arrays. Sparse because most accounts are idle most hours: a dense week of hourly
 * buckets would cost 168 numbers per account, the sparse one costs a few.
 */
export interface BucketSeries {
  /** Bucket indexes (floor(ts / size)), ascending. */
  idx: number[];
  val: number[];
}

export function emptySeries(): BucketSeries {
  return { idx: [], val: [] };
}

export function addToBucket(series: BucketSeries, bucket: number, amount: number): void {
  const { idx, val } = series;
  let i = idx.length - 1;
  while (i >= 0 && idx[i]! > bucket) i--;
  if (i >= 0 && idx[i] === bucket) {
    val[i]! += amount;
    return;
  }
  idx.splice(i + 1, 0, bucket);
  val.splice(i + 1, 0, amount);
}

/** Drops buckets before `minBucket`. */
export function pruneBuckets(series: BucketSeries, minBucket: number): void {
  let n = 0;
  while (n < series.idx.length && series.idx[n]! < minBucket) n++;
  if (n > 0) {
    series.idx.splice(0, n);
    series.val.splice(0, n);
  }
}

export function bucketValue(series: BucketSeries, bucket: number): number {
  for (let i = series.idx.length - 1; i >= 0; i--) {
    const b = series.idx[i]!;
    if (b === bucket) return series.val[i]!;
    if (b < bucket) break;
  }
  return 0;
}

/** Sum of buckets in [fromBucket, toBucket]. */
export function sumBuckets(series: BucketSeries, fromBucket: number, toBucket: number): number {
  let sum = 0;
  for (let i = 0; i < series.idx.length; i++) {
    const b = series.idx[i]!;
    if (b >= fromBucket && b <= toBucket) sum += series.val[i]!;
  }
  return sum;
}

/** The dense values of buckets [fromBucket, toBucket], zeros included (a baseline needs its quiet hours). */
export function denseBuckets(series: BucketSeries, fromBucket: number, toBucket: number): number[] {
  const out = new Array<number>(Math.max(0, toBucket - fromBucket + 1)).fill(0);
  for (let i = 0; i < series.idx.length; i++) {
    const b = series.idx[i]!;
    if (b >= fromBucket && b <= toBucket) out[b - fromBucket] = series.val[i]!;
  }
  return out;
}

/*
 * Flat pair series: [key, count, key, count, …] with keys ascending, in one number array, or in
 * the range [from, to) of one (a detector that packs several series into one state array keeps
 * each in a range). One array where a BucketSeries takes three objects. The functions that add
 * or remove pairs return how much the range grew (negative: shrank), for the caller's offsets.
 */

/** Adds `amount` to the pair keyed `key`, inserting the pair in order when it is new; returns 2 when inserted, else 0. */
export function addPair(pairs: number[], key: number, amount: number, from = 0, to = pairs.length): number {
  let i = to - 2;
  while (i >= from && pairs[i]! > key) i -= 2;
  if (i >= from && pairs[i] === key) {
    pairs[i + 1]! += amount;
    return 0;
  }
  pairs.splice(i + 2, 0, key, amount);
  return 2;
}

/** Drops the pairs keyed before `minKey`; returns minus the number of numbers dropped. */
export function dropPairsBefore(pairs: number[], minKey: number, from = 0, to = pairs.length): number {
  let n = from;
  while (n < to && pairs[n]! < minKey) n += 2;
  if (n > from) pairs.splice(from, n - from);
  return from - n;
}

/** Sum of the counts keyed in [fromKey, toKey]. */
export function sumPairs(pairs: readonly number[], fromKey: number, toKey: number, from = 0, to = pairs.length): number {
  let sum = 0;
  for (let i = from; i < to; i += 2) if (pairs[i]! >= fromKey && pairs[i]! <= toKey) sum += pairs[i + 1]!;
  return sum;
}
