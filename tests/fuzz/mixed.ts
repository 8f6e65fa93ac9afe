/**
 * A real event log with a hostile corpus mixed in: corpus lines at uniformly random places
 * among the log's lines, written to a file line by line (a million-line corpus never sits in
 * memory at once). Every corpus line is invalid by the event contract, so a replay of the mixed
 * file must give exactly the log's own alerts, byte for byte, and count one invalid outcome per
 * corpus line. Used by tests/fuzz/replay.test.ts (the demo log) and `npm run fuzz` (a generated log).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { decodeEvent } from '../../src/events/decode.js';
import { hostileLine } from './events.js';
import type { Rng } from './prng.js';

/** Real events pushed just outside the contract: every field else as in the log. */
const TWISTS: readonly ((ev: Record<string, unknown>) => Record<string, unknown>)[] = [
  () => ({ ts: 1e20 }),
  () => ({ ts: 253_402_300_800_000 }),
  () => ({ ts: '1969-12-31T23:59:59Z' }),
  () => ({ ts: '9999-12-31T23:59:59.999-01:00' }),
  () => ({ ip: 'fe80::1%eth0' }),
  (ev) => ({ accountId: `${String(ev.accountId)}${'x'.repeat(300)}` }),
  (ev) => ({ eventId: `${String(ev.eventId)}${'x'.repeat(300)}` }),
];

function eventOf(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** One corpus line: invalid by the contract, never containing a line break. */
function corpusLine(r: Rng, base: readonly string[], i: number): Buffer {
  for (;;) {
    const kind = r.int(100);
    if (kind < 2) return Buffer.from(Array.from({ length: 1 + r.int(80) }, () => 0x80 + r.int(128))); // not UTF-8 at all
    if (kind < 22) {
      // A generated log has invalid lines of its own: twist only lines that are events.
      const ev = eventOf(base[r.int(base.length)]!);
      if (ev === undefined) continue;
      const twist = r.pick(TWISTS)(ev);
      // A fresh eventId (unless the twist is the eventId), so no corpus line can shadow a real event as a duplicate.
      return Buffer.from(JSON.stringify({ ...ev, ...twist, eventId: `fuzz-${i}-${String(twist.eventId ?? ev.eventId)}` }));
    }
    // A random hostile line can happen to be a valid event: drawn again then.
    const line = hostileLine(r, i);
    if (!/[\r\n]/.test(line) && line.trim() !== '' && !decodeEvent(line).ok) return Buffer.from(line);
  }
}

export interface MixedLog {
  readonly lines: number;
  readonly corpus: number;
}

/** Writes `base` with `corpus` hostile lines mixed in at random places to `path`. */
export function writeMixedLog(r: Rng, base: readonly string[], corpus: number, path: string): MixedLog {
  const before = new Uint32Array(base.length + 1);
  for (let i = 0; i < corpus; i++) before[r.int(base.length + 1)]!++;
  const fd = openSync(path, 'w');
  const nl = Buffer.from('\n');
  let pending: Buffer[] = [];
  let size = 0;
  const out = (b: Buffer) => {
    pending.push(b, nl);
    size += b.length + 1;
    if (size > 1 << 20) flush();
  };
  const flush = () => {
    writeSync(fd, Buffer.concat(pending));
    pending = [];
    size = 0;
  };
  let n = 0;
  try {
    for (let slot = 0; slot <= base.length; slot++) {
      for (let k = 0; k < before[slot]!; k++) out(corpusLine(r, base, n++));
      if (slot < base.length) out(Buffer.from(base[slot]!));
    }
    flush();
  } finally {
    closeSync(fd);
  }
  return { lines: base.length + corpus, corpus };
}
