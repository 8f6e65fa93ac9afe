import type { KafkaMessage } from 'kafkajs';
import type { Rules } from '../config/rules.js';
import { deadLetterMessage } from '../kafka/deadLetter.js';
import type { Stats } from '../engine/stats.js';
import { decodeEvent } from '../events/decode.js';
import type { FraudEvent } from '../events/types.js';
import type { OutRecord } from './transactions.js';
import type { Topology } from './topics.js';

/** Larger input records are dead-lettered (truncated) instead of repartitioned. */
export const MAX_EVENT_BYTES = 256 * 1024;

/**
 * Headers a repartition record carries: where its event was read (for the alert's `source` and
 * the task's per-input-partition clock). A progress marker has no value, a `fw-src-read` header
 * with the input offset read below, and a `fw-progress` header with the newest event time read
 * so far from that input partition (absent until it has had a valid event).
 */
export const SOURCE_HEADERS = { partition: 'fw-src-partition', offset: 'fw-src-offset', progress: 'fw-progress', read: 'fw-src-read' } as const;

/**
 * Progress markers to every task, one per repartition partition: input partition `partition` has
 * been read below input offset `read`, and up to event time `maxTs` (when it has had an event).
 * Written after a batch's events in the same transaction, so a task that reads a marker has read
 * every event stage 1 forwarded from below that offset: this, not the wall clock or the
 * repartition topic's end offset (which an open transaction of a crashed instance holds back),
 * is what tells a task that an input partition has nothing more for it.
 */
export function progressMarkers(partition: number, read: number, maxTs: number, topology: Topology): OutRecord[] {
  const headers: Record<string, string> = { [SOURCE_HEADERS.partition]: String(partition), [SOURCE_HEADERS.read]: String(read) };
  if (maxTs > Number.NEGATIVE_INFINITY) headers[SOURCE_HEADERS.progress] = String(maxTs);
  const out: OutRecord[] = [];
  for (const topic of [topology.repartition.account, topology.repartition.ip]) {
    for (let p = 0; p < topology.partitions; p++) out.push({ topic, message: { key: null, value: null, partition: p, headers } });
  }
  return out;
}

/**
 * The key an event is re-keyed by for the IP tasks. credential_stuffing aggregates an address and
 * its network (keyOf returns [ip, cidr]); keying by the network puts every address of a network in
 * one task, so both levels see all their events. With the detector off or network aggregation off,
 * the address itself.
 */
export function ipRoutingKey(rules: Rules): (ev: FraudEvent) => string | undefined {
  const rule = rules.detectors.find((r) => r.id === 'credential_stuffing');
  return (ev) => {
    if (ev.type !== 'login') return undefined;
    if (rule === undefined) return ev.ip;
    const keys = rule.detector.keyOf(ev);
    if (keys === undefined) return undefined;
    return typeof keys === 'string' ? keys : keys[keys.length - 1];
  };
}

/**
 * Stage 1, stateless: an input partition's records → dead letters (invalid) and repartition
 * records (valid: the original bytes, keyed by accountId, and logins also by network). The
 * caller adds the progress markers and commits it all with the input offsets in one transaction.
 */
export function repartitionBatch(
  messages: readonly KafkaMessage[],
  partition: number,
  topology: Topology,
  dlqTopic: string,
  ipKeyOf: (ev: FraudEvent) => string | undefined,
  stats: Stats,
  clock: { maxTs: number },
): OutRecord[] {
  const out: OutRecord[] = [];
  for (const m of messages) {
    stats.read++;
    if (m.value !== null && m.value.length > MAX_EVENT_BYTES) {
      // No event of the contract is near this size; forwarding it (plus headers) could exceed the
      // broker's record limit and fail every transaction of the partition forever. Dead-lettered,
      // cut short for the same reason.
      stats.countInvalid('bad_value');
      out.push({
        topic: dlqTopic,
        message: deadLetterMessage({ ...m, value: m.value.subarray(0, MAX_EVENT_BYTES) }, { topic: topology.input, partition, offset: m.offset }, 'bad_value', `record of ${m.value.length} bytes is larger than ${MAX_EVENT_BYTES}; value truncated`),
      });
      continue;
    }
    const result = decodeEvent(m.value === null ? '' : m.value.toString('utf8'));
    if (!result.ok) {
      stats.countInvalid(result.reason);
      out.push({ topic: dlqTopic, message: deadLetterMessage(m, { topic: topology.input, partition, offset: m.offset }, result.reason, result.message) });
      continue;
    }
    const ev = result.event;
    if (ev.ts > clock.maxTs) clock.maxTs = ev.ts;
    stats.valid++;
    stats.byType[ev.type]!++;
    const headers = { [SOURCE_HEADERS.partition]: String(partition), [SOURCE_HEADERS.offset]: m.offset };
    out.push({ topic: topology.repartition.account, message: { key: ev.accountId, value: m.value, headers } });
    const ipKey = ipKeyOf(ev);
    if (ipKey !== undefined) out.push({ topic: topology.repartition.ip, message: { key: ipKey, value: m.value, headers } });
  }
  return out;
}

