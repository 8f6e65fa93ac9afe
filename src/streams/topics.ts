import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { DaemonConfig } from '../daemon/config.js';
import type { KeyKind } from '../detectors/types.js';
import { FraudwatchError } from '../errors.js';

/**
 * The exactly-once runner's topology: names of the internal topics, how task partitions map to
 * changelog partitions, and transactional ids. Everything derives from the group id, so two
 * groups never share internal topics, and every instance of a group computes the same names.
 */
export interface Topology {
  readonly input: string;
  readonly repartition: Record<KeyKind, string>;
  readonly changelog: string;
  /** Partitions of each repartition topic (the changelog has twice as many). */
  readonly partitions: number;
  /** Partitions of the input topic (the stage-2 watermark waits for each of them). */
  readonly inputPartitions: number;
  /**
   * FRAUDWATCH_INPUT_KEYED=account: the account tasks are the input partitions themselves (their
   * count is the input's), and the account repartition topic is neither created nor read.
   */
  readonly keyedInput: boolean;
}

export function internalTopicNames(groupId: string): { repartition: Record<KeyKind, string>; changelog: string } {
  return {
    repartition: { account: `${groupId}-repartition-account`, ip: `${groupId}-repartition-ip` },
    changelog: `${groupId}-state-changelog`,
  };
}

/** Account task p → changelog partition p; IP task q → P + q. One partition per task, so a restore reads only its own. */
export function changelogPartition(topology: Topology, kind: KeyKind, partition: number): number {
  return kind === 'account' ? partition : topology.partitions + partition;
}

/** Bound to the partition, not the instance: the next owner of the partition fences the previous one. */
export function transactionalId(groupId: string, topic: string, partition: number): string {
  return `${groupId}-tx-${topic}-${partition}`;
}

/**
 * Creates the repartition topics and the compacted changelog when missing (and the output topics,
 * as the at-least-once daemon does), and checks that existing ones still have the partition
 * count the topology needs: a key's partition is hash(key) mod count, so a changed count would
 * send keys to tasks that do not hold their state.
 */
export async function ensureTopology(admin: Admin, config: DaemonConfig, log: Logger): Promise<Topology> {
  const names = internalTopicNames(config.groupId);
  const existing = new Set(await admin.listTopics());
  if (!existing.has(config.inputTopic)) {
    throw new FraudwatchError('FW_KAFKA_CONNECT', `input topic ${config.inputTopic} does not exist yet`, { retry: true });
  }
  const md = await admin.fetchTopicMetadata({ topics: [config.inputTopic] });
  const inputPartitions = md.topics[0]!.partitions.length;
  const keyedInput = config.inputKeyed === 'account';
  if (keyedInput && config.topicPartitions > 0 && config.topicPartitions !== inputPartitions) {
    // Account task p owns changelog partition p and IP task q owns P + q: with co-partitioned
    // input there is one account task per input partition, so P must be the input's count.
    throw new FraudwatchError(
      'FW_KAFKA_FATAL',
      `FRAUDWATCH_INPUT_KEYED=account: the input topic ${config.inputTopic} has ${inputPartitions} partitions, which fixes the account task count, but FRAUDWATCH_TOPIC_PARTITIONS is ${config.topicPartitions}; leave it unset (-1) or set it to ${inputPartitions}`,
    );
  }
  const partitions = config.topicPartitions > 0 ? config.topicPartitions : inputPartitions;
  // A group's changelog holds account state and task positions of one mode: the task records
  // name offsets of the input in one and of the account repartition topic in the other. Which
  // mode a group ran in shows in whether its account repartition topic exists.
  if (existing.has(names.changelog) && keyedInput === existing.has(names.repartition.account)) {
    throw new FraudwatchError(
      'FW_KAFKA_FATAL',
      keyedInput
        ? `group ${config.groupId} ran without FRAUDWATCH_INPUT_KEYED=account (its account repartition topic exists): its state cannot move to co-partitioned tasks; use a new group id`
        : `group ${config.groupId} ran with FRAUDWATCH_INPUT_KEYED=account (it has a changelog and no account repartition topic): its state cannot move to repartitioned tasks; use a new group id or keep the setting`,
    );
  }
  const replicationFactor = config.topicReplication;

  const outputs = [config.alertsTopic, config.shadowTopic, config.dlqTopic].filter((t) => !existing.has(t));
  const internal: { topic: string; numPartitions: number; configEntries?: { name: string; value: string }[] }[] = [];
  if (!keyedInput && !existing.has(names.repartition.account)) internal.push({ topic: names.repartition.account, numPartitions: partitions });
  if (!existing.has(names.repartition.ip)) internal.push({ topic: names.repartition.ip, numPartitions: partitions });
  if (!existing.has(names.changelog)) {
    internal.push({
      topic: names.changelog,
      numPartitions: 2 * partitions,
      // Compacted: the latest snapshot per key survives, expired keys' tombstones clean up.
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    });
  }
  const wanted = [...outputs.map((topic) => ({ topic, numPartitions: config.topicPartitions })), ...internal];
  if (wanted.length > 0) {
    try {
      await admin.createTopics({ waitForLeaders: true, topics: wanted.map((t) => ({ ...t, replicationFactor })) });
    } catch (err) {
      // Another instance of the group may have created them a moment earlier.
      if (!String((err as Error).message).includes('already exists') && (err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
    }
    log.info({ topics: wanted.map((t) => t.topic) }, 'created missing topics');
  }

  const check = await admin.fetchTopicMetadata({ topics: keyedInput ? [names.repartition.ip, names.changelog] : [names.repartition.account, names.repartition.ip, names.changelog] });
  for (const t of check.topics) {
    const want = t.name === names.changelog ? 2 * partitions : partitions;
    if (t.partitions.length !== want) {
      throw new FraudwatchError(
        'FW_KAFKA_FATAL',
        `internal topic ${t.name} has ${t.partitions.length} partitions, the topology needs ${want} (FRAUDWATCH_TOPIC_PARTITIONS or the input topic's count): state is placed by partition, so use a new group id to change it`,
      );
    }
  }
  return { input: config.inputTopic, repartition: names.repartition, changelog: names.changelog, partitions, inputPartitions, keyedInput };
}
