import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BackgroundContext, backgroundDay } from './background.js';
import type { LabelsFile } from './labels.js';
import { DAY, type Ev, HOUR, byTime } from './model.js';
import { makePlan } from './plan.js';
import { Rng } from './random.js';

export type { Incident, IncidentClass, LabelsFile, Trap } from './labels.js';
export { DETECTORS, INCIDENT_CLASSES } from './labels.js';

export interface GenerateOptions {
  seed: number;
  accounts: number;
  days: number;
  /** ISO-8601 with a zone; default '2026-01-05T00:00:00.000Z' (a Monday). */
  start?: string;
  /** Inject labelled incidents (default true). Traps are always part of the population. */
  incidents?: boolean;
  /** Duplicates, bounded disorder and a few invalid lines (default true). */
  noise?: boolean;
  /**
   * Scales how often ordinary accounts watch, 0..1 (default 1). Viewing is most of a log's
   * volume (a heartbeat every 5 minutes); small demo logs turn it down. Incident and trap
   * viewing (heavy viewers, families, sharing, binges) is not scaled below what its label needs.
   */
  backgroundViewing?: number;
}

export const DEFAULT_START = '2026-01-05T00:00:00.000Z';

/** Share of events emitted late (by 1–9.5 s: the contract's disorder bound is 10 s). */
const P_DISORDER = 0.005;
const P_DUPLICATE = 0.002;
const P_INVALID = 0.0005;
/** Share of valid events whose ts is written as epoch milliseconds instead of ISO text. */
const P_EPOCH_TS = 0.01;
/** Upper bound on how far any event is displaced; the tests hold the output to it. */
export const MAX_DISORDER_MS = 10_000;

/** Local days start at most this long before the UTC day (UTC+14 is the furthest zone). */
const ZONE_LEAD = 14 * HOUR;

interface Resolved {
  seed: number;
  accounts: number;
  days: number;
  start: number;
  incidents: boolean;
  noise: boolean;
  viewScale: number;
}

function resolve(opts: GenerateOptions): Resolved {
  if (!Number.isSafeInteger(opts.seed)) throw new Error(`generate: seed must be an integer, got ${opts.seed}`);
  if (!Number.isSafeInteger(opts.accounts) || opts.accounts < 1) throw new Error(`generate: accounts must be a positive integer, got ${opts.accounts}`);
  if (!Number.isSafeInteger(opts.days) || opts.days < 1) throw new Error(`generate: days must be a positive integer, got ${opts.days}`);
  const startText = opts.start ?? DEFAULT_START;
  const start = Date.parse(startText);
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(startText) || Number.isNaN(start)) throw new Error(`generate: start must be ISO-8601 with a zone, got "${startText}"`);
  const viewScale = opts.backgroundViewing ?? 1;
  if (!(viewScale >= 0 && viewScale <= 1)) throw new Error(`generate: backgroundViewing must be within 0..1, got ${viewScale}`);
  return { seed: opts.seed, accounts: opts.accounts, days: opts.days, start, incidents: opts.incidents ?? true, noise: opts.noise ?? true, viewScale };
}

/**
 * All events in time order. Accounts are generated one (local) day at a time and merged with
 * the planned special events, so memory holds about a day of events, not the whole log.
 */
function* orderedEvents(r: Resolved, plan: ReturnType<typeof makePlan>): Generator<Ev> {
  const end = r.start + r.days * DAY;
  const special = plan.special.sort(byTime);
  const ctx: BackgroundContext = { seed: r.seed, start: r.start, viewScale: r.viewScale, em: plan.em };
  let sp = 0;
  let carried: Ev[] = [];
  // Local day -1 is still "today" in UTC for accounts west of Greenwich; local day `days` is for the east.
  for (let day = -1; day <= r.days; day++) {
    const fresh: Ev[] = [];
    plan.em.out = fresh;
    for (const acc of plan.accounts) backgroundDay(ctx, acc, day);
    // Nothing generated for a later local day can be earlier than this.
    const bound = day === r.days ? Infinity : r.start + (day + 1) * DAY - ZONE_LEAD;
    while (sp < special.length && special[sp]!.ts < bound) fresh.push(special[sp++]!);
    // What was carried over is already sorted: sort the new day only and merge.
    const buf = merge(carried, fresh.sort(byTime));
    let i = 0;
    for (; i < buf.length && buf[i]!.ts < bound; i++) {
      const ev = buf[i]!;
      if (ev.ts >= r.start && ev.ts < end) yield ev;
    }
    carried = buf.slice(i);
  }
}

function merge(a: Ev[], b: Ev[]): Ev[] {
  if (a.length === 0) return b;
  const out: Ev[] = new Array<Ev>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = byTime(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

/**
 * One event as a JSON line, fields in contract order. Built by hand: JSON.stringify of a fresh
 * object per event was a third of the generator's time. String values still go through
 * JSON.stringify so that any character is escaped correctly.
 */
function serialize(ev: Ev, eventId: string, epoch: boolean): string {
  const q = JSON.stringify;
  let s = `{"eventId":${q(eventId)},"type":"${ev.type}","ts":${epoch ? ev.ts : `"${new Date(ev.ts).toISOString()}"`},"accountId":${q(ev.accountId)}`;
  if (ev.ip !== undefined) s += `,"ip":${q(ev.ip)}`;
  if (ev.deviceId !== undefined) s += `,"deviceId":${q(ev.deviceId)}`;
  if (ev.userAgent !== undefined) s += `,"userAgent":${q(ev.userAgent)}`;
  switch (ev.type) {
    case 'login':
      return `${s},"success":${ev.success === true}}`;
    case 'playback':
      return `${s},"sessionId":${q(ev.sessionId)},"action":"${ev.action}"${ev.titleId !== undefined ? `,"titleId":${q(ev.titleId)}` : ''}}`;
    case 'account_update':
      return `${s},"change":"${ev.change}"}`;
  }
}

/** One line that a decoder must reject, shaped like the event it sits next to. */
function invalidLine(ev: Ev, id: string, rng: Rng): string {
  const obj: Record<string, unknown> = JSON.parse(serialize(ev, id, false)) as Record<string, unknown>;
  switch (rng.int(0, 4)) {
    case 0: {
      const text = JSON.stringify(obj);
      return text.slice(0, Math.floor(text.length * rng.real(0.3, 0.8)));
    }
    case 1:
      delete obj[rng.pick(['accountId', 'eventId', 'type'])];
      return JSON.stringify(obj);
    case 2:
      obj.ip = rng.pick(['10.0.0.300', '2001:db8::g00d', 'not-an-ip', '192.168.1']);
      return JSON.stringify(obj);
    case 3:
      obj.ts = rng.pick([new Date(ev.ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ''), '2026-13-45T25:61:00Z', 'yesterday']);
      return JSON.stringify(obj);
    default:
      obj.type = rng.pick(['logout', 'purchase', 'Login']);
      return JSON.stringify(obj);
  }
}

interface Pending {
  release: number;
  ts: number;
  line: string;
}

/**
 * Streams the log for `opts`. `labels` is complete for incidents and traps immediately; its
 * counts (`events`, `duplicateLines`, `invalidLines`, `maxDisorderMs`) are final once `lines`
 * has been iterated to the end. Iterate `lines` once: it is a single-use generator.
 */
export function generateLog(opts: GenerateOptions): { lines: Iterable<string>; labels: LabelsFile } {
  const r = resolve(opts);
  const plan = makePlan({ seed: r.seed, accounts: r.accounts, days: r.days, start: r.start, incidents: r.incidents });
  const labels: LabelsFile = {
    version: 1,
    seed: r.seed,
    accounts: r.accounts,
    days: r.days,
    start: new Date(r.start).toISOString(),
    end: new Date(r.start + r.days * DAY).toISOString(),
    events: 0,
    duplicateLines: 0,
    invalidLines: 0,
    maxDisorderMs: 0,
    incidents: plan.incidents,
    traps: plan.traps,
  };

  function* lines(): Generator<string> {
    const rng = Rng.derive(r.seed, 'noise');
    const idPrefix = `e${r.seed < 0 ? 'n' : ''}${Math.abs(r.seed).toString(36)}-`;
    let n = 0;
    let bad = 0;
    let maxTs = -Infinity;
    const held: Pending[] = [];
    const hold = (p: Pending) => {
      let i = held.length;
      while (i > 0 && held[i - 1]!.release > p.release) i--;
      held.splice(i, 0, p);
    };
    const out = (ts: number, line: string): string => {
      if (ts > maxTs) maxTs = ts;
      else labels.maxDisorderMs = Math.max(labels.maxDisorderMs, maxTs - ts);
      return line;
    };

    for (const ev of orderedEvents(r, plan)) {
      // A held line goes out before the first event later than its release time, so it is never
      // displaced by more than its delay.
      while (held.length > 0 && held[0]!.release < ev.ts) {
        const p = held.shift()!;
        yield out(p.ts, p.line);
      }
      const id = idPrefix + (n++).toString(36).padStart(6, '0');
      const line = serialize(ev, id, rng.chance(P_EPOCH_TS));
      labels.events++;
      if (r.noise && rng.chance(P_DISORDER)) hold({ release: ev.ts + rng.int(1000, 9500), ts: ev.ts, line });
      else yield out(ev.ts, line);
      if (r.noise && rng.chance(P_DUPLICATE)) {
        labels.duplicateLines++;
        hold({ release: ev.ts + rng.int(200, 4000), ts: ev.ts, line });
      }
      if (r.noise && rng.chance(P_INVALID)) {
        labels.invalidLines++;
        yield invalidLine(ev, `bad-${(bad++).toString(36)}`, rng);
      }
    }
    for (const p of held) yield out(p.ts, p.line);
  }

  return { lines: lines(), labels };
}

/** Writes `outDir/events.jsonl` and `outDir/labels.json`. */
export async function generateToDir(
  opts: GenerateOptions,
  outDir: string,
): Promise<{ events: number; invalid: number; duplicates: number; incidents: number; traps: number }> {
  await mkdir(outDir, { recursive: true });
  const { lines, labels } = generateLog(opts);
  const ws = createWriteStream(join(outDir, 'events.jsonl'));
  const failed = new Promise<never>((_, reject) => ws.once('error', reject));
  // Only ever awaited through Promise.race; keep an early error from counting as unhandled.
  failed.catch(() => undefined);
  // Batching lines into ~1 MB writes is several times faster than a write per line.
  let chunk: string[] = [];
  let size = 0;
  const flush = async () => {
    const ok = ws.write(chunk.join(''));
    chunk = [];
    size = 0;
    if (!ok) await Promise.race([once(ws, 'drain'), failed]);
  };
  for (const line of lines) {
    chunk.push(line, '\n');
    size += line.length + 1;
    if (size >= 1 << 20) await flush();
  }
  if (size > 0) await flush();
  ws.end();
  await Promise.race([once(ws, 'finish'), failed]);
  await writeFile(join(outDir, 'labels.json'), `${JSON.stringify(labels, null, 2)}\n`);
  return {
    events: labels.events,
    invalid: labels.invalidLines,
    duplicates: labels.duplicateLines,
    incidents: labels.incidents.length,
    traps: labels.traps.length,
  };
}
