import type { Alert } from '../alerts/alert.js';
import type { Rules } from '../config/rules.js';
import { Pipeline } from '../engine/pipeline.js';
import type { Stats } from '../engine/stats.js';
import type { InvalidReason } from '../events/types.js';
import type { GeoLocator } from '../geo/locator.js';
import { FraudwatchError } from '../errors.js';
import { decodeLog } from './decodeLog.js';
import { logSize } from './lines.js';

export interface InvalidLine {
  readonly lineNumber: number;
  readonly reason: InvalidReason;
  readonly message: string;
  readonly text: string;
}

/** An event whose scoring threw (a bug): skipped, counted as a processing error, replay goes on. */
export interface ProcessingErrorLine {
  readonly lineNumber: number;
  readonly eventId: string;
  readonly message: string;
}

export interface ReplayOptions {
  readonly path: string;
  readonly rules: Rules;
  readonly locator: GeoLocator;
  readonly latenessMs?: number;
  readonly onAlert: (alert: Alert) => void;
  readonly onInvalid?: (invalid: InvalidLine) => void;
  /** An event whose scoring threw: skipped and counted (`stats.processingErrors`) as the daemon does, never fatal here. */
  readonly onProcessingError?: (error: ProcessingErrorLine) => void;
  /** Invalid lines are fatal (FW_INPUT_INVALID naming the line). */
  readonly strict?: boolean;
  /** Called after each chunk read: bytes so far and the file size when known. May apply backpressure. */
  readonly onProgress?: (bytesRead: number, totalBytes: number | undefined) => void | Promise<void>;
  /** Decode on a worker thread (default for a file: see src/io/decodeLog.ts); false decodes on this one. */
  readonly decodeThread?: boolean;
}

export interface ReplayResult {
  readonly stats: Stats;
  readonly lines: number;
  readonly elapsedMs: number;
}

/**
 * The file front door: lines → decode (on a thread of its own) → Pipeline, one source, no wall
 * clock. The whole log is one stream, so the watermark is simply the newest time seen less the
 * lateness, and the end of the file flushes the reorder buffer.
 */
export async function replayLog(opts: ReplayOptions): Promise<ReplayResult> {
  const started = performance.now();
  // Tagged with the line number: an event is released (and may fail) lines after it was read.
  const pipeline = new Pipeline<number>({
    rules: opts.rules,
    locator: opts.locator,
    latenessMs: opts.latenessMs,
    onAlert: (alert) => opts.onAlert(alert),
    onProcessingError: (err, ev, lineNumber) => opts.onProcessingError?.({ lineNumber, eventId: ev.eventId, message: err instanceof Error ? err.message : String(err) }),
  });
  const size = opts.path === '-' ? undefined : logSize(opts.path);
  let bytes = 0;
  const lines = await decodeLog(
    opts.path,
    (result, lineNumber, text) => {
      if (!result.ok) {
        if (opts.strict) {
          throw new FraudwatchError('FW_INPUT_INVALID', `line ${lineNumber}: ${result.reason}: ${result.message}`, { lineNumber, reason: result.reason });
        }
        opts.onInvalid?.({ lineNumber, reason: result.reason, message: result.message, text: text! });
      }
      pipeline.offer(result, 0, lineNumber);
    },
    {
      thread: opts.decodeThread,
      afterChunk: opts.onProgress
        ? (n) => {
            bytes += n;
            return opts.onProgress!(bytes, size);
          }
        : undefined,
    },
  );
  pipeline.flush();
  return { stats: pipeline.stats, lines, elapsedMs: performance.now() - started };
}
