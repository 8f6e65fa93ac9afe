import { accountUpdateEvent, loginEvent, playbackEvent } from '../events/decode.js';
import {
  ACCOUNT_CHANGES,
  INVALID_REASONS,
  PLAYBACK_ACTIONS,
  type DecodeResult,
  type FraudEvent,
  type InvalidReason,
} from '../events/types.js';

/*
 * The decode thread's records, as they cross to the pipeline's thread.
 *
 * Posting decoded events as objects costs more than parsing them again: V8's structured clone
 * rebuilds each object property by property (measured at 1.4 µs an event to deserialise, against
 * 0.76 µs for JSON.parse of the line). So a batch is columns of numbers, moved without a copy,
 * plus the strings: each distinct string (an account, an address, a device, a user agent, a
 * session, a title) crosses once and is referred to by its index in a table both sides keep in
 * step, and only eventIds, unique per event, cross every time. Rebuilding an event on the other
 * side is then one string and one object. The table also means the pipeline's thread uses one
 * string object per account, whose hash V8 computes once.
 */

/** Record kinds in a batch. */
const INVALID = 0;
const LOGIN = 1;
const PLAYBACK = 2;
const ACCOUNT_UPDATE = 3;

/** String columns per record: accountId, ip, deviceId, userAgent, sessionId, titleId. */
const STRINGS = 6;
const ABSENT = -1;

/**
 * Distinct strings held in the table before both sides start a new one. Without a bound the
 * table would hold every session id of a long log; at the bound the writer clears it and marks
 * the next batch, and strings still in use simply cross again.
 */
export const TABLE_LIMIT = 1 << 19;

const ACTION_CODE: Readonly<Record<string, number>> = Object.fromEntries(PLAYBACK_ACTIONS.map((a, i) => [a, i]));
const CHANGE_CODE: Readonly<Record<string, number>> = Object.fromEntries(ACCOUNT_CHANGES.map((c, i) => [c, i]));
const REASON_CODE: Readonly<Record<string, number>> = Object.fromEntries(INVALID_REASONS.map((r, i) => [r, i]));

/** One batch, as posted (the typed arrays' buffers are transferred, not copied). */
export interface EventBatch {
  readonly count: number;
  readonly kind: Uint8Array;
  /** login: success (0/1); playback: action index; account_update: change index; invalid: reason index. */
  readonly code: Uint8Array;
  readonly line: Float64Array;
  readonly ts: Float64Array;
  /** STRINGS table indexes per record (ABSENT for an undefined field). */
  readonly str: Int32Array;
  /** One per valid record, in order. */
  readonly eventIds: string[];
  /** Per invalid record, in order: its message, then its text. */
  readonly invalid: string[];
  /** The table is cleared before `added` is appended. */
  readonly reset: boolean;
  /** Strings new to the table, in index order. */
  readonly added: string[];
  /** Bytes of input the batch's lines came from (progress). */
  readonly bytes: number;
}

/** Builds batches on the decode thread. */
export class BatchWriter {
  private readonly table = new Map<string, number>();
  private capacity: number;
  private count = 0;
  private kind!: Uint8Array;
  private code!: Uint8Array;
  private line!: Float64Array;
  private ts!: Float64Array;
  private str!: Int32Array;
  private eventIds: string[] = [];
  private invalid: string[] = [];
  private added: string[] = [];
  private reset = false;

  constructor(
    capacity = 8192,
    private readonly tableLimit = TABLE_LIMIT,
  ) {
    this.capacity = capacity;
    this.allocate();
  }

  get size(): number {
    return this.count;
  }

  private allocate(): void {
    const n = this.capacity;
    this.kind = new Uint8Array(n);
    this.code = new Uint8Array(n);
    this.line = new Float64Array(n);
    this.ts = new Float64Array(n);
    this.str = new Int32Array(n * STRINGS);
  }

  private grow(): void {
    const { kind, code, line, ts, str } = this;
    this.capacity *= 2;
    this.allocate();
    this.kind.set(kind);
    this.code.set(code);
    this.line.set(line);
    this.ts.set(ts);
    this.str.set(str);
  }

  private intern(s: string | undefined): number {
    if (s === undefined) return ABSENT;
    let id = this.table.get(s);
    if (id === undefined) {
      id = this.table.size;
      this.table.set(s, id);
      this.added.push(s);
    }
    return id;
  }

  /** Adds one decoded line. */
  add(result: DecodeResult, lineNumber: number, text: string): void {
    if (this.count === this.capacity) this.grow();
    const i = this.count++;
    this.line[i] = lineNumber;
    if (!result.ok) {
      this.kind[i] = INVALID;
      this.code[i] = REASON_CODE[result.reason]!;
      this.invalid.push(result.message, text);
      return;
    }
    const ev = result.event;
    this.ts[i] = ev.ts;
    this.eventIds.push(ev.eventId);
    const o = i * STRINGS;
    const str = this.str;
    str[o] = this.intern(ev.accountId);
    str[o + 1] = this.intern(ev.ip);
    str[o + 2] = this.intern(ev.deviceId);
    str[o + 3] = this.intern(ev.userAgent);
    if (ev.type === 'login') {
      this.kind[i] = LOGIN;
      this.code[i] = ev.success ? 1 : 0;
      str[o + 4] = ABSENT;
      str[o + 5] = ABSENT;
    } else if (ev.type === 'playback') {
      this.kind[i] = PLAYBACK;
      this.code[i] = ACTION_CODE[ev.action]!;
      str[o + 4] = this.intern(ev.sessionId);
      str[o + 5] = this.intern(ev.titleId);
    } else {
      this.kind[i] = ACCOUNT_UPDATE;
      this.code[i] = CHANGE_CODE[ev.change]!;
      str[o + 4] = ABSENT;
      str[o + 5] = ABSENT;
    }
  }

  /** The batch so far, and the buffers to transfer; the writer starts a new one. */
  take(bytes: number): { batch: EventBatch; transfer: ArrayBuffer[] } {
    const n = this.count;
    const batch: EventBatch = {
      count: n,
      kind: this.kind.slice(0, n),
      code: this.code.slice(0, n),
      line: this.line.slice(0, n),
      ts: this.ts.slice(0, n),
      str: this.str.slice(0, n * STRINGS),
      eventIds: this.eventIds,
      invalid: this.invalid,
      reset: this.reset,
      added: this.added,
      bytes,
    };
    this.count = 0;
    this.eventIds = [];
    this.invalid = [];
    this.added = [];
    this.reset = false;
    // Cleared between batches only, so a batch's indexes all refer to one table.
    if (this.table.size >= this.tableLimit) {
      this.table.clear();
      this.reset = true;
    }
    return { batch, transfer: [batch.kind.buffer, batch.code.buffer, batch.line.buffer, batch.ts.buffer, batch.str.buffer] as ArrayBuffer[] };
  }
}

/** Rebuilds a batch's records on the pipeline's thread, in order. */
export class BatchReader {
  private table: string[] = [];

  /**
   * Calls `onRecord` for each line of the batch: the same DecodeResult the decoder gave, the line
   * number, and for an invalid line its text (a valid line's text is not needed, so not sent).
   */
  read(batch: EventBatch, onRecord: (result: DecodeResult, lineNumber: number, text: string | undefined) => void): void {
    if (batch.reset) this.table = [];
    const table = this.table;
    for (const s of batch.added) table.push(s);
    const { kind, code, line, ts, str, eventIds, invalid } = batch;
    let e = 0;
    let bad = 0;
    const at = (i: number): string | undefined => (i === ABSENT ? undefined : table[i]);
    for (let i = 0; i < batch.count; i++) {
      const k = kind[i]!;
      if (k === INVALID) {
        const reason = INVALID_REASONS[code[i]!] as InvalidReason;
        onRecord({ ok: false, reason, message: invalid[bad]! }, line[i]!, invalid[bad + 1]!);
        bad += 2;
        continue;
      }
      const o = i * STRINGS;
      const eventId = eventIds[e++]!;
      let ev: FraudEvent;
      if (k === LOGIN) {
        ev = loginEvent(eventId, ts[i]!, table[str[o]!]!, table[str[o + 1]!]!, at(str[o + 2]!), at(str[o + 3]!), code[i] === 1);
      } else if (k === PLAYBACK) {
        ev = playbackEvent(
          eventId,
          ts[i]!,
          table[str[o]!]!,
          table[str[o + 1]!]!,
          table[str[o + 2]!]!,
          at(str[o + 3]!),
          table[str[o + 4]!]!,
          PLAYBACK_ACTIONS[code[i]!]!,
          at(str[o + 5]!),
        );
      } else {
        ev = accountUpdateEvent(eventId, ts[i]!, table[str[o]!]!, at(str[o + 1]!), at(str[o + 2]!), at(str[o + 3]!), ACCOUNT_CHANGES[code[i]!]!);
      }
      onRecord({ ok: true, event: ev }, line[i]!, undefined);
    }
  }
}
