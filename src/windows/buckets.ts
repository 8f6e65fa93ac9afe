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
