/**
 * Owns reading committed records back from a topic by offset range: how a stage finds the last
 * record it committed to a partition, and how `aispm verify` walks a topic. KafkaJS has no manual
 * partition assignment, so each read is a short-lived consumer in a throwaway group that seeks to
 * the range's start; the group is deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { deleteGroup } from './client';

/** A partition's range of committed offsets: `low` inclusive, `end` (the last stable offset) exclusive. */
export interface CommittedRange {
  readonly partition: number;
  readonly low: string;
  readonly end: string;
}

/** Each partition's committed range. Under read_committed, ListOffsets answers the last stable offset. */
export async function committedRanges(admin: Admin, topic: string): Promise<CommittedRange[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets
    .map(({ partition, low, high }) => ({ partition, low, end: high }))
    .sort((a, b) => a.partition - b.partition);
}

/** A range to read: offsets `from` (inclusive) to `to` (exclusive). */
export interface ReadRange {
  readonly partition: number;
  readonly from: string;
  readonly to: string;
}

/** How a read of committed records runs. */
export interface ReadCommittedOptions {
  /** Prefix of the read's throwaway consumer group (AISPM_GROUP_PREFIX). */
  readonly groupPrefix: string;
  /** How long the whole read may take; 120 s when not given. */
  readonly timeoutMs?: number;
}

/**
 * Calls `onMessage` for every committed record (read_committed: no aborted records, no markers)
 * of each range, in offset order per partition, and resolves once every range is read.
 */
export async function readCommitted(
  kafka: Kafka,
  topic: string,
  ranges: readonly ReadRange[],
  onMessage: (partition: number, message: KafkaMessage) => void | Promise<void>,
  { groupPrefix, timeoutMs = 120_000 }: ReadCommittedOptions,
): Promise<void> {
  const pending = new Map(
    ranges.filter(({ from, to }) => BigInt(from) < BigInt(to)).map((range) => [range.partition, range]),
  );
  if (pending.size === 0) return;
  const groupId = `${groupPrefix}-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, allowAutoTopicCreation: false });
  let finish: () => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  // Records past a range's end were committed after the read began; they are not part of it.
  const reached = (partition: number, offset: string) => {
    const range = pending.get(partition);
    if (range && BigInt(offset) >= BigInt(range.to) - 1n) pending.delete(partition);
    if (pending.size === 0) finish();
  };
  // A batch of only markers or aborted records reaches no handler; this event still carries its end.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.lastOffset !== null) reached(payload.partition, payload.lastOffset);
  });
  const timer = setTimeout(
    () => fail(new Error(`Reading ${topic} did not finish within ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    // TRICKY: the consumer may fetch from the beginning before the seeks below take effect, and
    // the seek then fetches those offsets again; each offset is handed on once.
    const next = new Map(ranges.map(({ partition, from }) => [partition, BigInt(from)]));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const range = pending.get(batch.partition);
        if (!range) return;
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          if (offset < next.get(batch.partition)! || offset >= BigInt(range.to)) continue;
          await onMessage(batch.partition, message);
          next.set(batch.partition, offset + 1n);
        }
      },
    });
    const metadataAdmin = kafka.admin();
    await metadataAdmin.connect();
    const partitions = (
      await metadataAdmin.fetchTopicMetadata({ topics: [topic] })
    ).topics[0]!.partitions.map(({ partitionId }) => partitionId);
    await metadataAdmin.disconnect();
    const idle = partitions.filter((partition) => !pending.has(partition));
    if (idle.length > 0) consumer.pause([{ topic, partitions: idle }]);
    for (const { partition, from } of pending.values()) consumer.seek({ topic, partition, offset: from });
    await done;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    await deleteGroup(kafka, groupId);
  }
}

/**
 * What `pick` makes of the last committed record of a partition it accepts (returns a value for),
 * or undefined when there is none. Reads a growing window back from the last stable offset, since
 * markers and aborted records also take offsets, and records `pick` refuses (poison) may sit at
 * the end.
 */
export async function findLastCommitted<T>(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  partition: number,
  pick: (message: KafkaMessage) => Promise<T | undefined>,
  options: ReadCommittedOptions,
): Promise<{ offset: string; value: T } | undefined> {
  const range = (await committedRanges(admin, topic)).find((r) => r.partition === partition);
  if (!range) return undefined;
  const low = BigInt(range.low);
  let end = BigInt(range.end);
  for (let window = 64n; end > low; window *= 4n) {
    const from = end - window > low ? end - window : low;
    const messages: KafkaMessage[] = [];
    await readCommitted(
      kafka,
      topic,
      [{ partition, from: from.toString(), to: end.toString() }],
      (_, message) => {
        messages.push(message);
      },
      options,
    );
    for (const message of messages.reverse()) {
      const value = await pick(message);
      if (value !== undefined) return { offset: message.offset, value };
    }
    end = from;
  }
  return undefined;
}
