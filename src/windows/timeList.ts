/*
 * Event-time lists kept as plain arrays so detector state stays JSON data. Events arrive in
 * event-time order except late ones (past the reorder buffer), so appends dominate and the
 * sorted insert below is the rare path.
 */

/** Inserts `t` keeping `ts` sorted ascending; returns the index. Parallel arrays get the same index. */
export function insertSorted(ts: number[], t: number): number {
  let i = ts.length;
  while (i > 0 && ts[i - 1]! > t) i--;
  if (i === ts.length) ts.push(t);
  else ts.splice(i, 0, t);
  return i;
}

/** Number of leading entries older than `cutoff` (strictly before it). */
export function countBefore(ts: readonly number[], cutoff: number): number {
  let n = 0;
  while (n < ts.length && ts[n]! < cutoff) n++;
  return n;
}

/** Drops entries older than `cutoff` from the front of `ts` and of each parallel array. */
export function evictBefore(cutoff: number, ts: number[], ...parallel: unknown[][]): void {
  const n = countBefore(ts, cutoff);
  if (n === 0) return;
  ts.splice(0, n);
  for (const arr of parallel) arr.splice(0, n);
}

/** Drops the oldest entries so at most `max` remain (bounds memory under attack traffic). */
export function capFront(max: number, ts: number[], ...parallel: unknown[][]): void {
  const n = ts.length - max;
  if (n <= 0) return;
  ts.splice(0, n);
  for (const arr of parallel) arr.splice(0, n);
}
