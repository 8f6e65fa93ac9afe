import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { decodeEvent } from '../events/decode.js';
import type { DecodeResult } from '../events/types.js';
import { BatchReader } from '../io/eventBatch.js';
import { startWorker } from '../io/thread.js';
import type { RecordsReply, RecordsRequest } from './decodeThread.js';

/**
 * The values of one fetched batch, copied back to back: what an event's dead letter is built
 * from should scoring it fail. One copy per batch rather than a string per event: the record
 * values kafkajs hands over are slices of the whole fetch response, and holding one of them
 * would hold all of it for as long as its event waits in the reorder buffer.
 */
export class RawValues {
  constructor(
    private readonly bytes: Buffer,
    private readonly ends: Int32Array,
  ) {}

  /** Record `i`'s value as text ('' for a null value, which decodes as invalid). */
  text(i: number): string {
    return this.bytes.toString('utf8', i === 0 ? 0 : this.ends[i - 1]!, this.ends[i]!);
  }

  static of(values: readonly (Buffer | null)[]): RawValues {
    let total = 0;
    for (const v of values) total += v?.length ?? 0;
    const bytes = Buffer.allocUnsafeSlow(total);
    const ends = new Int32Array(values.length);
    let at = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v) at += v.copy(bytes, at);
      ends[i] = at;
    }
    return new RawValues(bytes, ends);
  }

  /** For the decode thread: a copy (this side keeps its own, for dead letters and should the thread fail). */
  request(): RecordsRequest {
    return { bytes: this.bytes, ends: this.ends };
  }

  /** Decodes every value on this thread. */
  decode(): DecodeResult[] {
    const out: DecodeResult[] = new Array(this.ends.length);
    for (let i = 0; i < this.ends.length; i++) out[i] = decodeEvent(this.text(i));
    return out;
  }
}

export interface DecodedRecords {
  /** Per record, in order: what decodeEvent gave for its value. */
  readonly results: readonly DecodeResult[];
  readonly raw: RawValues;
}

interface Pending {
  readonly raw: RawValues;
  readonly resolve: (r: DecodedRecords) => void;
}

/**
 * Decodes fetched record values on a thread of its own, so that parsing a batch overlaps
 * scoring the one before it and fetching the next: on a backlog, JSON parsing was a quarter of
 * the daemon's thread. Results come back in the order batches were sent, exactly what
 * decodeEvent gives on this thread (tests/recordDecoder.test.ts). Should the thread fail, the
 * batches it held and all later ones are decoded here: slower, nothing lost.
 */
export class RecordDecoder {
  private worker: Worker | undefined;
  private readonly reader = new BatchReader();
  private readonly pending: Pending[] = [];

  constructor(
    private readonly log: Logger,
    thread = true,
  ) {
    if (!thread) return;
    const worker = startWorker(import.meta.url, 'decodeThread', undefined);
    if (worker === undefined) return;
    this.worker = worker;
    worker.on('message', (m: RecordsReply) => this.arrive(m));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`the decode thread exited (code ${code})`)));
    // The daemon's shutdown ends it; it must not keep the process alive by itself.
    worker.unref();
  }

  /** Whether values are decoded on a thread of their own (false once it has failed). */
  get threaded(): boolean {
    return this.worker !== undefined;
  }

  /** Starts decoding `values` at once; resolves with their records. Never rejects. */
  decode(values: readonly (Buffer | null)[]): Promise<DecodedRecords> {
    const raw = RawValues.of(values);
    if (this.worker === undefined) return Promise.resolve({ results: raw.decode(), raw });
    return new Promise((resolve) => {
      this.pending.push({ raw, resolve });
      this.worker!.postMessage(raw.request());
    });
  }

  private arrive(m: RecordsReply): void {
    const p = this.pending.shift();
    if (p === undefined) return;
    // Read at once, in arrival order: the string table the batches refer to moves on with each.
    const results: DecodeResult[] = [];
    this.reader.read(m.batch, (result) => results.push(result));
    p.resolve({ results, raw: p.raw });
  }

  private fail(err: Error): void {
    if (this.worker === undefined) return;
    this.worker = undefined;
    this.log.error({ err, code: 'FW_INTERNAL', pending: this.pending.length }, 'the decode thread failed; decoding on the main thread from now on');
    for (const p of this.pending.splice(0)) p.resolve({ results: p.raw.decode(), raw: p.raw });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    for (const p of this.pending.splice(0)) p.resolve({ results: p.raw.decode(), raw: p.raw });
    await w?.terminate();
  }
}
