/**
 * Owns how a stage makes its work durable: producing in chunks the broker takes, the offset to
 * commit after a batch, and committing a shard's output and input offsets together, in one
 * transaction (exactly once) or, only to measure what transactions cost, one after the other.
 */
import type { Batch, Consumer, IHeaders, Message, Producer } from 'kafkajs';
import { isConcurrentTransactions } from './kafkajs-errors';
import { offsetAfter } from './messages';

/** A message to produce, with the topic it goes to. */
export interface Outgoing {
  readonly topic: string;
  readonly message: { key: Buffer | string | null; value: Buffer; headers: IHeaders; partition?: number };
}

/** An input offset to commit, with the metadata committed beside it (a chain head). */
export interface OffsetCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly metadata?: string;
}

/**
 * The offset to commit after a batch. TRICKY: a transaction's commit marker takes an offset after
 * its last message; committing only past the last message would leave every transactionally
 * written partition one behind its end offset, a lag of 1 that never drains.
 */
export function commitAfter(batch: Batch): string {
  return offsetAfter(batch.lastOffset());
}

/** Bytes of message values per produce request: well under the broker's 1 MiB message.max.bytes. */
export const PRODUCE_CHUNK_BYTES = 512 * 1024;

/**
 * Sends topic messages in order, acks from all replicas, one request per chunk: a batch can
 * outgrow what the broker takes in one record batch (message.max.bytes).
 */
export async function sendChunked<M extends Message & { value: Buffer }>(
  sender: Pick<Producer, 'sendBatch'>,
  topicMessages: readonly { topic: string; messages: readonly M[] }[],
  sendFirst: (send: () => Promise<void>) => Promise<void> = (send) => send(),
): Promise<void> {
  let first = true;
  for (const chunk of produceChunks(topicMessages)) {
    const send = async () => {
      await sender.sendBatch({ topicMessages: chunk, acks: -1 });
    };
    await (first ? sendFirst(send) : send());
    first = false;
  }
}

/** Splits topic messages into consecutive requests of at most PRODUCE_CHUNK_BYTES of values each. */
export function produceChunks<M extends { value: Buffer }>(
  topicMessages: readonly { topic: string; messages: readonly M[] }[],
): { topic: string; messages: M[] }[][] {
  const chunks: { topic: string; messages: M[] }[][] = [];
  let current: { topic: string; messages: M[] }[] = [];
  let bytes = 0;
  for (const { topic, messages } of topicMessages) {
    for (const message of messages) {
      if (bytes > 0 && bytes + message.value.length > PRODUCE_CHUNK_BYTES) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      const last = current[current.length - 1];
      if (last?.topic === topic) last.messages.push(message);
      else current.push({ topic, messages: [message] });
      bytes += message.value.length;
    }
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Sends `outgoing` in order, one request per chunk (see {@link produceChunks}), the first through `sendFirst`. */
export async function sendAll(
  sender: Pick<Producer, 'sendBatch'>,
  outgoing: readonly Outgoing[],
  sendFirst?: (send: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const byTopic = new Map<string, Outgoing['message'][]>();
  for (const { topic, message } of outgoing) {
    const messages = byTopic.get(topic);
    if (messages) messages.push(message);
    else byTopic.set(topic, [message]);
  }
  await sendChunked(
    sender,
    [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    sendFirst,
  );
}

/**
 * How long a transaction's first request waits for the producer's previous transaction to finish.
 * The coordinator answers EndTxn before it has written the commit markers, and until they are
 * written answers the next transaction's AddPartitionsToTxn with CONCURRENT_TRANSACTIONS. KafkaJS
 * gives up after its retries (about 0.6 s, TRANSACTIONAL_RETRY in client.ts); a commit that touched
 * a few hundred partitions on a loaded broker outlasts that, and the whole round was then aborted
 * and done again, a second more for every tenant of the stage. The Java client waits up to its
 * delivery timeout. Safe to repeat: a refused first request has produced nothing.
 */
export const TRANSACTION_OPEN_WAIT_MS = 10_000;

/** Runs `send`, the first request of a transaction, again while the previous one is finishing. */
export async function afterPreviousTransaction(
  send: () => Promise<void>,
  waitMs = TRANSACTION_OPEN_WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await send();
      return;
    } catch (error) {
      if (!isConcurrentTransactions(error) || Date.now() >= deadline) throw error;
    }
  }
}

/** Offsets to commit, grouped by topic as KafkaJS takes them. */
function byTopic(
  offsets: readonly OffsetCommit[],
): { topic: string; partitions: { partition: number; offset: string; metadata?: string }[] }[] {
  const grouped = new Map<string, { partition: number; offset: string; metadata?: string }[]>();
  for (const { topic, ...position } of offsets) grouped.set(topic, [...(grouped.get(topic) ?? []), position]);
  return [...grouped].map(([topic, partitions]) => ({ topic, partitions }));
}

/**
 * Produces a shard's output and commits its input offsets. With `transactional`, in one
 * transaction of the shard's producer, so both happen or neither does, and a producer fenced by
 * the shard's new holder can do neither; without, produce and then commit through the consumer (at
 * least once: a crash in between duplicates records and can fork a chain).
 */
export async function produceAndCommit(
  producer: Producer,
  consumer: Consumer,
  groupId: string,
  transactional: boolean,
  outgoing: readonly Outgoing[],
  offsets: readonly OffsetCommit[],
): Promise<void> {
  if (!transactional) {
    await sendAll(producer, outgoing);
    await consumer.commitOffsets([...offsets]);
    return;
  }
  const transaction = await producer.transaction();
  await sendAll(transaction, outgoing, afterPreviousTransaction);
  const sendOffsets = () => transaction.sendOffsets({ consumerGroupId: groupId, topics: byTopic(offsets) });
  await (outgoing.length > 0 ? sendOffsets() : afterPreviousTransaction(sendOffsets));
  await transaction.commit();
}
