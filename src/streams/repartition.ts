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
export function progressMarkers(partition: number, read: number, maxTs: number, topology: Topology, kinds: readonly ('account' | 'ip')[] = ['account', 'ip']): OutRecord[] {
  const headers: Record<string, string> = { [SOURCE_HEADERS.partition]: String(partition), [SOURCE_HEADERS.read]: String(read) };
  if (maxTs > Number.NEGATIVE_INFINITY) headers[SOURCE_HEADERS.progress] = String(maxTs);
  const out: OutRecord[] = [];
  for (const kind of kinds) {
    const topic = topology.repartition[kind];
    for (let p = 0; p < topology.partitions; p++) out.push({ topic, message: { key: null, value: null, partition: p, headers } });
  }
  return out;
}

/**
 * Where stage 1 sends a valid event: to the account tasks or not, and under which key (if any)
 * to the IP tasks. Built once per rules load.
 */
export interface RepartitionRoute {
  /** True when some enabled account-kind detector reads the event (its keyOf gives a key). */
  readonly account: (ev: FraudEvent) => boolean;
  /** The key the event is re-keyed by for the IP tasks, or undefined when no IP-kind detector reads it. */
  readonly ipKey: (ev: FraudEvent) => string | undefined;
  /** Some IP-kind detector is enabled (else ipKey never gives a key). */
  readonly ip: boolean;
}

/**
 * Only the events some detector of a key kind reads cross that kind's repartition topic: with
 * brute_force alone, a tenth of the input (its logins) goes to the account tasks and nothing to
 * the IP tasks. A task's detectors never see the others, so its alerts and state are those of
 * the whole input, and its event time still moves with every input partition through stage 1's
 * progress markers (which carry the newest event time read, forwarded or not). What the task's
 * dedupe no longer sees is the eventIds of events it is not sent: that matters only for two
 * different events sharing one eventId (which the contract forbids), and the
 * duplicates it counts are those of the events it reads.
 *
 * The IP key: credential_stuffing aggregates an address and its network (keyOf returns [ip,
 * cidr]); keying by the network puts every address of a network in one task, so both levels see
 * all their events. With network aggregation off, the address itself.
 */
export function repartitionRoute(rules: Rules): RepartitionRoute {
  const account = rules.detectors.filter((r) => r.detector.keyKind === 'account').map((r) => r.detector);
  const ip = rules.detectors.filter((r) => r.detector.keyKind === 'ip').map((r) => r.detector);
  const stuffing = rules.detectors.find((r) => r.id === 'credential_stuffing')?.detector;
  return {
    ip: stuffing !== undefined || ip.length > 0,
    account: (ev) => {
      for (let i = 0; i < account.length; i++) if (account[i]!.keyOf(ev) !== undefined) return true;
      return false;
    },
    ipKey: (ev) => {
      if (stuffing !== undefined) {
        const keys = stuffing.keyOf(ev);
        if (keys !== undefined) return typeof keys === 'string' ? keys : keys[keys.length - 1];
      }
      // Another IP-kind detector (none is registered today) is keyed by the address.
      for (const d of ip) if (d !== stuffing && ev.ip !== undefined && d.keyOf(ev) !== undefined) return ev.ip;
      return undefined;
    },
  };
}

/**
 * Stage 1, stateless: an input partition's records → dead letters (invalid) and repartition
 * records (valid: the original bytes, keyed by accountId, and logins also by network, each only
 * when some detector of that kind reads it: see repartitionRoute). The caller adds the progress markers and commits it all with the input offsets in one transaction.
 */
export function repartitionBatch(
  messages: readonly KafkaMessage[],
  partition: number,
  topology: Topology,
  dlqTopic: string,
  route: RepartitionRoute,
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
    if (route.account(ev)) out.push({ topic: topology.repartition.account, message: { key: ev.accountId, value: m.value, headers } });
    const ipKey = route.ipKey(ev);
    if (ipKey !== undefined) out.push({ topic: topology.repartition.ip, message: { key: ipKey, value: m.value, headers } });
  }
  return out;
}

