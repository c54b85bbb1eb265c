/**
 * Owns reading a bounded range of a topic's log (the replay index, DESIGN §12): given, per
 * partition, a first offset and an end offset (exclusive), it hands every message in between to
 * a handler, in offset order per partition, and returns once every partition has reached its end.
 *
 * KafkaJS 2.2 has no manual assignment, so the reader joins a consumer group of its own (a random
 * id, never committed to, deleted afterwards): the pipeline's groups never see it, and nothing it
 * does moves their offsets.
 */
import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { deleteGroup, subscribeWhenReady } from './client';
import { toTopicMessage, type TopicMessage } from './messages';

/** Where one partition's range starts (inclusive) and ends (exclusive). */
export interface PartitionRange {
  readonly partition: number;
  readonly from: string;
  readonly to: string;
}

/** One message of a range. */
export type RangeMessage = TopicMessage;

/** Receives the messages of one fetched batch of one partition; may await (backpressure). */
export type RangeHandler = (
  messages: readonly RangeMessage[],
  heartbeat: () => Promise<void>,
) => Promise<void>;

/** Options of {@link readRanges}. */
export interface ReadRangesOptions {
  /** Prefix of the throwaway consumer group's id. */
  readonly groupPrefix: string;
  /** Stops the read early (e.g. the HTTP client went away); the returned promise then resolves. */
  readonly signal?: AbortSignal;
}

/**
 * Reads `ranges` of `topic` and resolves when each partition's position has reached its `to`.
 * `ranges` should name every partition of the topic: the empty ones are paused, not fetched.
 * Reads are `read_committed`, so records of aborted transactions are skipped, as the pipeline's
 * stages skip them.
 */
export async function readRanges(
  kafka: Kafka,
  topic: string,
  ranges: readonly PartitionRange[],
  handle: RangeHandler,
  options: ReadRangesOptions,
): Promise<void> {
  const pending = new Map(
    ranges
      .filter((range) => BigInt(range.from) < BigInt(range.to))
      .map((range) => [
        range.partition,
        { from: BigInt(range.from), to: BigInt(range.to), next: BigInt(range.from) },
      ]),
  );
  if (pending.size === 0 || options.signal?.aborted) return;
  const groupId = `${options.groupPrefix}-replay-${randomBytes(6).toString('hex')}`;
  const consumer: Consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 100,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
  });
  let finish: (error?: unknown) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    finish = (error) => (error === undefined ? resolve() : reject(error));
  });
  const onAbort = () => finish();
  let work: Promise<void> = Promise.resolve();
  let ahead = 0;
  options.signal?.addEventListener('abort', onAbort, { once: true });

  /** Records that `partition` has been read up to `lastOffset`; done when it reaches its end. */
  const advance = (partition: number, lastOffset: string) => {
    const state = pending.get(partition);
    if (!state) return;
    const position = BigInt(lastOffset) + 1n;
    if (position > state.next) state.next = position;
    if (state.next >= state.to) {
      pending.delete(partition);
      consumer.pause([{ topic, partitions: [partition] }]);
      if (pending.size === 0) finish();
    }
  };
  try {
    await consumer.connect();
    // TRICKY: a batch made only of transaction markers or aborted records never reaches
    // eachBatch, yet it moves the position; the end-of-batch event reports it (its lastOffset
    // counts filtered records). Transform stages write in transactions, so the last offset
    // before a topic's end is usually a commit marker, which only this event reveals.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic === topic && payload.lastOffset !== null)
        advance(payload.partition, payload.lastOffset);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => finish(payload.error));
    await subscribeWhenReady(consumer, { topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
        const state = pending.get(batch.partition);
        if (!state || !isRunning() || isStale()) return;
        // A fetch made before the seek took effect can start below `from`, and the seek can then
        // rewind over offsets already handed out: `next` keeps each offset handed out once.
        const messages = batch.messages
          .filter((message) => {
            const offset = BigInt(message.offset);
            return offset >= state.next && offset < state.to;
          })
          .map((message) => toTopicMessage(batch.partition, message));
        if (messages.length === 0) return;
        state.next = BigInt(messages[messages.length - 1]!.offset) + 1n;
        // The batch is handled while KafkaJS fetches the next one (it fetches only once
        // eachBatch returns); at most two batches are held, so memory stays bounded.
        const previous = work;
        ahead += 1;
        work = work
          .then(() => handle(messages, heartbeat))
          .finally(() => {
            ahead -= 1;
          });
        work.catch(finish);
        if (ahead > 1) await previous.catch(() => undefined);
      },
    });
    const idle = ranges.map((range) => range.partition).filter((partition) => !pending.has(partition));
    if (idle.length > 0) consumer.pause([{ topic, partitions: idle }]);
    for (const [partition, state] of pending)
      consumer.seek({ topic, partition, offset: state.from.toString() });
    await finished;
    await work;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
    await deleteGroup(kafka, groupId);
  }
}
