/*
 * The decode thread of a replay: reads the log, splits it into lines and decodes each one
 * (src/events/decode.ts, the same decoder as everywhere), and posts the results in batches of
 * one read chunk (about 1 MB of text) to the thread that runs the pipeline (src/io/decodeLog.ts).
 *
 * Flow control: at most MAX_IN_FLIGHT batches are posted and not yet acknowledged; reading
 * waits for an acknowledgement beyond that, so a slow pipeline (or a slow alert sink behind it)
 * holds the reading back instead of letting batches pile up in memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeEvent } from '../events/decode.js';
import { FraudwatchError } from '../errors.js';
import { BatchWriter } from './eventBatch.js';
import { forEachLine, openLog } from './lines.js';

const MAX_IN_FLIGHT = 4;

/** Messages from the decode thread (src/io/decodeLog.ts imports only this type: importing a value would run the thread here). */
export type DecodeThreadMessage =
  | { readonly type: 'batch'; readonly batch: import('./eventBatch.js').EventBatch }
  | { readonly type: 'end'; readonly lines: number }
  | { readonly type: 'error'; readonly code: string | undefined; readonly message: string };

async function main(path: string): Promise<void> {
  const port = parentPort!;
  let inFlight = 0;
  let resume: (() => void) | undefined;
  port.on('message', () => {
    inFlight--;
    const r = resume;
    resume = undefined;
    r?.();
  });
  const writer = new BatchWriter();
  const post = (bytes: number): void => {
    const { batch, transfer } = writer.take(bytes);
    port.postMessage({ type: 'batch', batch } satisfies DecodeThreadMessage, transfer);
    inFlight++;
  };
  try {
    const lines = await forEachLine(
      openLog(path).stream,
      (line, lineNumber) => writer.add(decodeEvent(line), lineNumber, line),
      (bytes) => {
        post(bytes);
        if (inFlight < MAX_IN_FLIGHT) return;
        return new Promise<void>((r) => {
          resume = r;
        });
      },
    );
    // The last line has no newline after it: it is decoded after the last chunk.
    if (writer.size > 0) post(0);
    port.postMessage({ type: 'end', lines } satisfies DecodeThreadMessage);
  } catch (err) {
    const code = err instanceof FraudwatchError ? err.code : undefined;
    port.postMessage({ type: 'error', code, message: (err as Error).message } satisfies DecodeThreadMessage);
  }
  // The port stays open: the pipeline's thread ends this thread once it has read the last message.
}

void main((workerData as { path: string }).path);
