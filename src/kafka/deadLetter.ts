import type { IHeaders, Message } from 'kafkajs';

/** Headers of a dead letter; the names are a contract with whoever drains the dead-letter topic. */
export const DLQ_HEADERS = {
  code: 'fw-error-code',
  reason: 'fw-error-reason',
  message: 'fw-error-message',
  topic: 'fw-source-topic',
  partition: 'fw-source-partition',
  offset: 'fw-source-offset',
} as const;

/**
 * A dead letter, the same in both processing modes: the original key, bytes and headers,
 * unchanged, plus why it was rejected and where it came from.
 */
export function deadLetterMessage(
  m: { key: Buffer | null; value: Buffer | null; headers?: IHeaders },
  source: { topic: string; partition: number; offset: string | number },
  reason: string,
  message: string,
): Message {
  return {
    key: m.key,
    value: m.value,
    headers: {
      ...(m.headers ?? {}),
      [DLQ_HEADERS.code]: 'FW_INPUT_INVALID',
      [DLQ_HEADERS.reason]: reason,
      [DLQ_HEADERS.message]: message.slice(0, 500),
      [DLQ_HEADERS.topic]: source.topic,
      [DLQ_HEADERS.partition]: String(source.partition),
      [DLQ_HEADERS.offset]: String(source.offset),
    },
  };
}
