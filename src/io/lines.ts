import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { FraudwatchError } from '../errors.js';

/** Opens a log for reading: a path, or `-` for standard input. */
export function openLog(path: string): { stream: Readable; size: number | undefined } {
  if (path === '-') return { stream: process.stdin, size: undefined };
  const size = logSize(path);
  return { stream: createReadStream(path, { highWaterMark: 1 << 20 }), size };
}

/** A log file's size in bytes; FW_INPUT_READ when it cannot be read. */
export function logSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (err) {
    throw new FraudwatchError('FW_INPUT_READ', `${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
}

/**
 * Splits a byte stream into lines (LF or CRLF), calling `onLine(text, lineNumber)`.
 * Hand-rolled rather than node:readline because readline costs about as much as the JSON
 * parse it feeds (measured in the replay benchmark); this is the same floor the benchmark uses.
 * `afterChunk` runs after each chunk's lines with the chunk's size in bytes (progress bars)
 * and may return a promise (output backpressure): reading waits for it.
 */
export async function forEachLine(
  stream: Readable,
  onLine: (line: string, lineNumber: number) => void,
  afterChunk?: (bytes: number) => void | Promise<void>,
): Promise<number> {
  let carry = '';
  let lineNumber = 0;
  stream.setEncoding('utf8');
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      let start = 0;
      let nl = chunk.indexOf('\n');
      if (nl !== -1 && carry.length > 0) {
        lineNumber++;
        emit(carry + chunk.slice(0, nl), lineNumber, onLine);
        carry = '';
        start = nl + 1;
        nl = chunk.indexOf('\n', start);
      }
      while (nl !== -1) {
        lineNumber++;
        emit(chunk.slice(start, nl), lineNumber, onLine);
        start = nl + 1;
        nl = chunk.indexOf('\n', start);
      }
      carry += chunk.slice(start);
      if (afterChunk) await afterChunk(Buffer.byteLength(chunk));
    }
  } catch (err) {
    // Errors raised by the callbacks (e.g. a strict replay's invalid line) pass through as they are.
    if (err instanceof FraudwatchError) throw err;
    throw new FraudwatchError('FW_INPUT_READ', (err as Error).message, {}, { cause: err });
  }
  if (carry.length > 0) {
    lineNumber++;
    emit(carry, lineNumber, onLine);
  }
  return lineNumber;
}

function emit(line: string, n: number, onLine: (line: string, n: number) => void): void {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  // Blank lines (a trailing newline, spacing in hand-written logs) are not records.
  if (text.trim().length > 0) onLine(text, n);
}
