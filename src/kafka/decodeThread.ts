/*
 * The Kafka daemons' decode thread (the at-least-once daemon, and the exactly-once runner's
 * tasks reading co-partitioned input): decodes the values of fetched records (the same
 * decoder as everywhere, src/events/decode.ts) and posts them back as one columnar batch
 * (src/io/eventBatch.ts) per fetched partition batch, in the order they were sent
 * (src/kafka/recordDecoder.ts is the other side).
 */
import { parentPort } from 'node:worker_threads';
import { decodeEvent } from '../events/decode.js';
import { BatchWriter, type EventBatch } from '../io/eventBatch.js';

/** To the thread: the values of one batch, back to back, and where each ends. */
export interface RecordsRequest {
  readonly bytes: Uint8Array;
  readonly ends: Int32Array;
}

/** From the thread (src/kafka/recordDecoder.ts imports only these types: importing a value would run the thread there). */
export type RecordsReply = { readonly type: 'batch'; readonly batch: EventBatch };

const port = parentPort!;
const writer = new BatchWriter();
port.on('message', ({ bytes, ends }: RecordsRequest) => {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    const value = text.toString('utf8', start, end);
    start = end;
    const result = decodeEvent(value);
    // The text of an invalid record is not sent back: its dead letter carries the original bytes.
    writer.add(result, i, '');
  }
  const { batch, transfer } = writer.take(bytes.byteLength);
  port.postMessage({ type: 'batch', batch } satisfies RecordsReply, transfer);
});
