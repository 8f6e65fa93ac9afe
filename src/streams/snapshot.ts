import type { KeyKind } from '../detectors/types.js';
import type { KeySnapshot } from '../engine/engine.js';
import type { PipelinePosition } from '../engine/pipeline.js';
import { FraudwatchError } from '../errors.js';

/*
 * The changelog's record formats: pure functions from state to bytes and back, so that the
 * versioning rules can be tested without a broker.
 *
 *   key "a:<accountId>" | "i:<ip or CIDR>"  → a KeySnapshot (JSON), or a tombstone when the key expired
 *   key "__task__"                          → a TaskRecord (JSON): where the task stands
 */

export const TASK_KEY = '__task__';
/** Bumped when the TaskRecord shape changes; a record of another version is ignored on restore. */
export const TASK_RECORD_VERSION = 1;

export function stateKey(kind: KeyKind, key: string): string {
  return (kind === 'account' ? 'a:' : 'i:') + key;
}

/** The kind and key of a changelog key, or undefined for the task record or an unknown prefix. */
export function parseStateKey(k: string): { kind: KeyKind; key: string } | undefined {
  if (k.startsWith('a:')) return { kind: 'account', key: k.slice(2) };
  if (k.startsWith('i:')) return { kind: 'ip', key: k.slice(2) };
  return undefined;
}

/**
 * JSON cannot hold ±Infinity (a fresh pipeline's "nothing released yet"); they travel as strings
 * so that a restored position is the saved one, not null.
 */
function num(n: number): number | string {
  return Number.isFinite(n) ? n : n > 0 ? 'inf' : '-inf';
}
function unnum(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === 'inf') return Number.POSITIVE_INFINITY;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  throw corrupt(`${what} is not a number`);
}

function corrupt(detail: string): FraudwatchError {
  return new FraudwatchError('FW_STATE_CORRUPT', detail);
}

export function encodeKeySnapshot(s: KeySnapshot): Buffer {
  return Buffer.from(JSON.stringify(s), 'utf8');
}

/**
 * Parses and checks a key snapshot's shape. Throws FW_STATE_CORRUPT on anything
 * else; the caller logs the key and restores it empty rather than stopping. Detector states are
 * checked only for presence: their shape is the detector's business, gated by stateVersion.
 */
export function decodeKeySnapshot(bytes: Buffer | string): KeySnapshot {
  let v: unknown;
  try {
    v = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    throw corrupt(`not JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw corrupt('not an object');
  const o = v as Record<string, unknown>;
  if (o.v !== 1) throw corrupt(`unknown snapshot format ${JSON.stringify(o.v)}`);
  if (typeof o.lastTs !== 'number' || !Number.isFinite(o.lastTs)) throw corrupt('lastTs is not a number');
  if (typeof o.detectors !== 'object' || o.detectors === null || Array.isArray(o.detectors)) throw corrupt('detectors is not an object');
  for (const [id, e] of Object.entries(o.detectors as Record<string, unknown>)) {
    const entry = e as Record<string, unknown> | null;
    if (typeof entry !== 'object' || entry === null || typeof entry.v !== 'number' || !('s' in entry)) throw corrupt(`detector ${id}: not {v, s}`);
  }
  if (o.cooldown !== undefined) {
    if (typeof o.cooldown !== 'object' || o.cooldown === null) throw corrupt('cooldown is not an object');
    for (const [id, c] of Object.entries(o.cooldown as Record<string, unknown>)) {
      if (!Array.isArray(c) || c.length !== 2 || typeof c[0] !== 'number' || typeof c[1] !== 'number') throw corrupt(`cooldown ${id}: not [ts, rank]`);
    }
  }
  if (o.episodes !== undefined) {
    if (typeof o.episodes !== 'object' || o.episodes === null) throw corrupt('episodes is not an object');
    for (const [id, e] of Object.entries(o.episodes as Record<string, unknown>)) {
      if (!Array.isArray(e) || e.length !== 5 || typeof e[0] !== 'string' || !e.slice(1).every((n) => typeof n === 'number' && Number.isFinite(n))) {
        throw corrupt(`episode ${id}: not [id, start, last, rank, findings]`);
      }
    }
  }
  return o as unknown as KeySnapshot;
}

/**
 * A stage-2 task's position, committed in the same transaction as its offsets:
 * - `committed`: the offset committed to the group (the earliest event still buffered);
 * - `processed`: offsets at or above it already scored (released from the reorder buffer before
 *   older ones), as flat [from, to) ranges; a restore skips them;
 * - `dedupeFrom`: where to start re-reading so that ids released within the dedupe horizon are
 *   remembered again (every such id is at or above this offset);
 * - `position`: the pipeline's event-time position (last released, source clocks, sweep clock).
 * - `read`: per input partition, the input offset below which every forwarded event has been
 *   received (from stage 1's markers); a restored task needs it to tell a drained input
 *   partition from one whose last events are still to come.
 */
export interface TaskRecord {
  readonly committed: number;
  readonly processed: readonly number[];
  readonly dedupeFrom: number;
  readonly position: PipelinePosition;
  readonly read?: readonly (readonly [number, number])[];
  /**
   * A co-partitioned account task (FRAUDWATCH_INPUT_KEYED=account) only: the input offset below
   * which its stage-1 output (dead letters, logins forwarded to the IP tasks, progress markers)
   * is committed. Records re-read below it after a restore are scored, never forwarded again.
   */
  readonly routed?: number;
}

export function encodeTaskRecord(r: TaskRecord): Buffer {
  const p = r.position;
  return Buffer.from(
    JSON.stringify({
      v: TASK_RECORD_VERSION,
      committed: r.committed,
      processed: r.processed,
      dedupeFrom: r.dedupeFrom,
      read: r.read ?? [],
      ...(r.routed === undefined ? {} : { routed: r.routed }),
      position: {
        lastTs: num(p.lastTs),
        lastId: p.lastId,
        sources: p.sources.map(([s, t]) => [s, num(t)]),
        engine: { clock: num(p.engine.clock), nextSweep: num(p.engine.nextSweep) },
      },
    }),
    'utf8',
  );
}

export function decodeTaskRecord(bytes: Buffer | string): TaskRecord {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    throw corrupt(`task record is not JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null) throw corrupt('task record is not an object');
  if (v.v !== TASK_RECORD_VERSION) throw corrupt(`unknown task record version ${JSON.stringify(v.v)}`);
  const int = (x: unknown, what: string) => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw corrupt(`${what} is not an offset`);
    return x;
  };
  const processed = v.processed;
  if (!Array.isArray(processed) || processed.length % 2 !== 0) throw corrupt('processed is not a list of ranges');
  processed.forEach((o, i) => int(o, `processed[${i}]`));
  const p = v.position as Record<string, unknown> | undefined;
  if (typeof p !== 'object' || p === null) throw corrupt('position missing');
  if (typeof p.lastId !== 'string' || !Array.isArray(p.sources)) throw corrupt('position malformed');
  const engine = p.engine as Record<string, unknown> | undefined;
  if (typeof engine !== 'object' || engine === null) throw corrupt('position.engine missing');
  // Optional: a record written before it existed restores with nothing known as received.
  const read = v.read ?? [];
  if (!Array.isArray(read)) throw corrupt('read is not a list');
  const readPairs = read.map((e, i) => {
    if (!Array.isArray(e) || e.length !== 2) throw corrupt(`read[${i}] malformed`);
    return [int(e[0], `read[${i}] partition`), int(e[1], `read[${i}] offset`)] as const;
  });
  return {
    read: readPairs,
    ...(v.routed === undefined ? {} : { routed: int(v.routed, 'routed') }),
    committed: int(v.committed, 'committed'),
    processed: processed as number[],
    dedupeFrom: int(v.dedupeFrom, 'dedupeFrom'),
    position: {
      lastTs: unnum(p.lastTs, 'position.lastTs'),
      lastId: p.lastId,
      sources: (p.sources as unknown[]).map((e) => {
        if (!Array.isArray(e) || e.length !== 2 || (typeof e[0] !== 'number' && typeof e[0] !== 'string')) throw corrupt('position.sources malformed');
        return [e[0] as string | number, unnum(e[1], 'position.sources')] as const;
      }),
      engine: { clock: unnum(engine.clock, 'engine.clock'), nextSweep: unnum(engine.nextSweep, 'engine.nextSweep') },
    },
  };
}

/** Sorted distinct offsets → flat [from, to) ranges (consecutive offsets collapse into one range). */
export function toRanges(sorted: readonly number[]): number[] {
  const out: number[] = [];
  for (const o of sorted) {
    if (out.length > 0 && out[out.length - 1] === o) out[out.length - 1] = o + 1;
    else out.push(o, o + 1);
  }
  return out;
}

/** Membership test over flat ranges for offsets read in increasing order (a moving cursor). */
export class RangeCursor {
  private i = 0;
  constructor(private readonly ranges: readonly number[]) {}

  has(offset: number): boolean {
    const r = this.ranges;
    while (this.i < r.length && r[this.i + 1]! <= offset) this.i += 2;
    return this.i < r.length && r[this.i]! <= offset;
  }

  /** The last offset any range covers, +1 (0 when empty). */
  get end(): number {
    return this.ranges.length > 0 ? this.ranges[this.ranges.length - 1]! : 0;
  }
}
