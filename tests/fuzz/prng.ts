/**
 * A small seeded PRNG (mulberry32) for the fuzz tests: the same seed gives the same inputs on
 * every machine, so a failure is reproduced by its seed alone.
 */
export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    seed,
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/**
 * The seed to use: FUZZ_SEED when set (to replay a failure), else `fallback`. The suite's short
 * runs pass a fixed fallback so that `npm test` is reproducible; `npm run fuzz` picks a new one.
 */
export function fuzzSeed(fallback: number): number {
  const env = process.env.FUZZ_SEED;
  if (env === undefined || env === '') return fallback;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw new Error(`FUZZ_SEED must be an integer in 0..2^32-1, not ${env}`);
  return n;
}

/** Runs `check`, adding the seed and how to replay it to any failure. */
export function withSeed<T>(what: string, seed: number, check: () => T): T {
  try {
    return check();
  } catch (err) {
    const e = err as Error;
    e.message = `${what} fuzz failed with seed ${seed} (replay: FUZZ_SEED=${seed}): ${e.message}`;
    throw e;
  }
}
