import type { IHeaders, Message } from 'kafkajs';
import type { Logger } from 'pino';
import type { FraudEvent } from '../events/types.js';

/** Headers of a dead letter; the names are a contract with whoever drains the dead-letter topic. */
export const DLQ_HEADERS = {
  code: 'fw-error-code',
  reason: 'fw-error-reason',
  message: 'fw-error-message',
  topic: 'fw-source-topic',
  partition: 'fw-source-partition',
  offset: 'fw-source-offset',
} as const;

/** The dead-letter reason of a valid event whose scoring threw (beside the invalid reasons). */
export const PROCESSING_ERROR = 'processing_error';

/**
 * A dead letter, the same in both processing modes: the original key, bytes and headers,
 * unchanged, plus why it was rejected and where it came from.
 */
export function deadLetterMessage(
  m: { key: Buffer | string | null; value: Buffer | null; headers?: IHeaders },
  source: { topic: string; partition: number; offset: string | number },
  reason: string,
  message: string,
  code: 'FW_INPUT_INVALID' | 'FW_INTERNAL' = 'FW_INPUT_INVALID',
): Message {
  return {
    key: m.key,
    value: m.value,
    headers: {
      ...(m.headers ?? {}),
      [DLQ_HEADERS.code]: code,
      [DLQ_HEADERS.reason]: reason,
      [DLQ_HEADERS.message]: message.slice(0, 500),
      [DLQ_HEADERS.topic]: source.topic,
      [DLQ_HEADERS.partition]: String(source.partition),
      [DLQ_HEADERS.offset]: String(source.offset),
    },
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The dead letter of an event whose scoring threw: code FW_INTERNAL, reason processing_error,
 * the error's message. The value is the event's original bytes, kept as the text the daemon
 * decoded (JSON exchanged between systems is UTF-8, RFC 8259 §8.1, so the text gives the bytes
 * back): keeping the record itself while the event waits in the reorder buffer would pin the
 * whole fetch response it was sliced from. The key is the event's accountId, in both modes: the
 * exactly-once runner scores events read back from its repartition topics, where the original
 * key and headers are no longer known.
 */
export function processingErrorDeadLetter(raw: string, ev: FraudEvent, source: { topic: string; partition: number; offset: string | number }, err: unknown): Message {
  return deadLetterMessage({ key: ev.accountId, value: Buffer.from(raw, 'utf8') }, source, PROCESSING_ERROR, errorMessage(err), 'FW_INTERNAL');
}

/**
 * Logs processing errors (FW_INTERNAL) at most once per `intervalMs`: a detector bug that throws
 * on every event of some shape would otherwise write a line (with a stack) per event. Each line
 * carries the error and event it was written for and `count`, the errors since the previous
 * line (itself included); `flush` (from the service's tick) writes the count of errors held back
 * once the interval has passed, so none goes unreported for long.
 */
export class ProcessingErrorLog {
  private held = 0;
  private last = Number.NEGATIVE_INFINITY;
  private lastHeld: Record<string, unknown> | undefined;
  total = 0;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 1000,
  ) {}

  report(err: unknown, fields: Record<string, unknown>, now = Date.now()): void {
    this.total++;
    if (now - this.last < this.intervalMs) {
      this.held++;
      this.lastHeld = { ...fields, err: errorMessage(err) };
      return;
    }
    this.write({ ...fields, err }, 1 + this.held, now);
  }

  flush(now = Date.now()): void {
    if (this.held > 0 && now - this.last >= this.intervalMs) this.write({ last: this.lastHeld }, this.held, now);
  }

  private write(fields: Record<string, unknown>, count: number, now: number): void {
    this.log.error(
      { ...fields, count, total: this.total, code: 'FW_INTERNAL', reason: PROCESSING_ERROR },
      'scoring failed: the event was dead-lettered (processing_error) and processing goes on',
    );
    this.last = now;
    this.held = 0;
    this.lastHeld = undefined;
  }
}
