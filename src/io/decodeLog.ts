import { decodeEvent } from '../events/decode.js';
import type { DecodeResult } from '../events/types.js';
import { ERRORS, FraudwatchError, type ErrorCode } from '../errors.js';
import type { DecodeThreadMessage } from './decodeThread.js';
import { BatchReader } from './eventBatch.js';
import { forEachLine, logSize, openLog } from './lines.js';
import { startWorker } from './thread.js';

/** Called for each non-blank line, in order: its decoded record, its number, and its text when invalid. */
export type OnRecord = (result: DecodeResult, lineNumber: number, text: string | undefined) => void;

export interface DecodeLogOptions {
  /**
   * Decode on a worker thread (default: yes for a file; standard input is always decoded here).
   * Reading and decoding are a third of a replay's work and independent of what comes after,
   * so on two cores they run beside the pipeline. The records reach `onRecord` exactly as the
   * decoder gave them either way (tests/decodeThread.test.ts).
   */
  readonly thread?: boolean;
  /** After each chunk's lines: the chunk's bytes (progress). May return a promise: reading waits for it. */
  readonly afterChunk?: (bytes: number) => void | Promise<void>;
}

/**
 * Reads a log (a path, or `-` for standard input) line by line and decodes every line, calling
 * `onRecord` in line order. Returns the number of lines. An exception from `onRecord` or
 * `afterChunk` stops the reading and is rethrown as it is; a read error is FW_INPUT_READ.
 */
export async function decodeLog(path: string, onRecord: OnRecord, options: DecodeLogOptions = {}): Promise<number> {
  const inline = (): Promise<number> =>
    forEachLine(
      openLog(path).stream,
      (line, n) => {
        const result = decodeEvent(line);
        onRecord(result, n, result.ok ? undefined : line);
      },
      options.afterChunk,
    );
  if (path === '-' || options.thread === false) return inline();
  // The same check openLog makes, here, so a missing file fails before a thread starts.
  logSize(path);
  const worker = startWorker(import.meta.url, 'decodeThread', { path });
  if (worker === undefined) return inline();
  const reader = new BatchReader();
  const queue: (DecodeThreadMessage | { type: 'crash'; error: Error })[] = [];
  let wake: (() => void) | undefined;
  const arrive = (m: (typeof queue)[number]): void => {
    queue.push(m);
    const w = wake;
    wake = undefined;
    w?.();
  };
  worker.on('message', arrive);
  worker.on('error', (error) => arrive({ type: 'crash', error }));
  worker.on('exit', (code) => arrive({ type: 'crash', error: new Error(`the decode thread exited (code ${code})`) }));
  try {
    for (;;) {
      if (queue.length === 0) {
        await new Promise<void>((r) => {
          wake = r;
        });
        continue;
      }
      const m = queue.shift()!;
      switch (m.type) {
        case 'batch':
          reader.read(m.batch, onRecord);
          // Acknowledged once read, before waiting on the caller: the thread decodes the next
          // batches meanwhile, and at most a few are ever waiting.
          worker.postMessage(0);
          if (options.afterChunk && m.batch.bytes > 0) await options.afterChunk(m.batch.bytes);
          break;
        case 'end':
          return m.lines;
        case 'error':
          throw rebuildError(m.code, m.message);
        case 'crash':
          throw new FraudwatchError('FW_INPUT_READ', m.error.message, { path }, { cause: m.error });
      }
    }
  } finally {
    await worker.terminate();
  }
}

/** A FraudwatchError from the thread, with its code again (only its message crossed). */
function rebuildError(code: string | undefined, message: string): Error {
  if (code !== undefined && code in ERRORS) {
    const prefix = `${ERRORS[code as ErrorCode].message}: `;
    return new FraudwatchError(code as ErrorCode, message.startsWith(prefix) ? message.slice(prefix.length) : message);
  }
  return new FraudwatchError('FW_INPUT_READ', message);
}
