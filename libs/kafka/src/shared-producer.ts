/**
 * Owns writes that many concurrent callers make to Kafka (the gateway's requests): while Produce
 * requests are in flight the next callers' messages wait and then go together, one request for
 * all of them. Under load the broker then answers a request per round trip instead of one per
 * HTTP request, and with a thousand tenants sending small batches each request carries many
 * tenants' topics.
 */
import type { Message, Producer, RecordMetadata } from 'kafkajs';
import { Gatherer, type Outcomes } from '@aispm/gather';
import { isMissingTopic } from './kafkajs-errors';
import { PRODUCE_CHUNK_BYTES } from './offsets';

/** A message whose partition the caller chose (so its receipt can name it before the write). */
export interface PartitionedMessage extends Message {
  readonly partition: number;
  readonly value: Buffer;
}

/** One caller's messages to one topic. */
export interface Send {
  readonly topic: string;
  readonly messages: readonly PartitionedMessage[];
}

/**
 * The request for `sends`: one entry per topic (KafkaJS keeps only the last entry of a topic named
 * twice), each caller's messages after the previous caller's, so on every partition a caller's
 * messages are consecutive and in its order.
 */
export function mergeSends(sends: readonly Send[]): { topic: string; messages: PartitionedMessage[] }[] {
  const byTopic = new Map<string, PartitionedMessage[]>();
  for (const { topic, messages } of sends) {
    const merged = byTopic.get(topic);
    if (merged) merged.push(...messages);
    else byTopic.set(topic, [...messages]);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * The offset of every message of every send, from the broker's answer to their merged request:
 * each partition's base offset, counted on in the order {@link mergeSends} laid the messages out.
 */
export function offsetsOf(sends: readonly Send[], answer: readonly RecordMetadata[]): bigint[][] {
  const next = new Map<string, bigint>();
  for (const { topicName, partition, baseOffset } of answer) {
    if (baseOffset === undefined) throw new Error(`The broker gave no offset for ${topicName}[${partition}]`);
    next.set(`${partition}:${topicName}`, BigInt(baseOffset));
  }
  return sends.map(({ topic, messages }) =>
    messages.map(({ partition }) => {
      const id = `${partition}:${topic}`;
      const offset = next.get(id);
      if (offset === undefined) throw new Error(`The broker did not answer for ${topic}[${partition}]`);
      next.set(id, offset + 1n);
      return offset;
    }),
  );
}

export interface SharedProducerOptions {
  /** Requests under way at once; callers beyond them wait for the next request. */
  readonly maxInFlight: number;
  /** Bytes of message values a request gathers before the next caller starts another. */
  readonly maxBytes: number;
}

/**
 * Two: a caller finds a request free when the load is light, and under load each request carries
 * what came during the other's round trip. `npm run bench:produce` (docs/performance.md): 32
 * callers of one message each 7,435 → 21,739 messages/s, the producer's CPU per message 134 →
 * 42 µs and the broker's 101 → 15; 8 callers of 100 messages each 58,083 → 49,221 messages/s at
 * about the same CPU.
 */
const REQUESTS_IN_FLIGHT = 2;

const valueBytes = (messages: readonly PartitionedMessage[]) =>
  messages.reduce((sum, { value }) => sum + value.length, 0);

export class SharedProducer {
  private readonly requests: Gatherer<Send, bigint[]>;

  constructor(
    private readonly producer: Pick<Producer, 'sendBatch'>,
    options: SharedProducerOptions = { maxInFlight: REQUESTS_IN_FLIGHT, maxBytes: PRODUCE_CHUNK_BYTES },
  ) {
    this.requests = new Gatherer((sends) => this.write(sends), {
      maxInFlight: options.maxInFlight,
      maxWeight: options.maxBytes,
      weight: ({ messages }) => valueBytes(messages),
    });
  }

  /**
   * Writes `messages` to `topic` with acks from all replicas, together with other callers' writes
   * of the moment; resolves to each message's offset, in order. A caller's messages stay within
   * one request when they fit `maxBytes` (one chunk of {@link produceChunks}).
   */
  send(topic: string, messages: readonly PartitionedMessage[]): Promise<bigint[]> {
    return this.requests.run({ topic, messages });
  }

  /**
   * One request for all `sends`. When it fails on a topic that is not there (a tenant deleted
   * while its requests were under way), each topic's callers are written again on their own, so
   * only that topic's callers fail; any other failure (the broker unreachable) fails them all, as
   * it would each. A partition the failed request did write gets those messages twice: the same
   * as a client's own retry, which the idempotency keys downstream absorb.
   */
  private async write(sends: readonly Send[]): Promise<Outcomes<bigint[]>> {
    let answer: RecordMetadata[];
    try {
      answer = await this.producer.sendBatch({ topicMessages: mergeSends(sends), acks: -1 });
    } catch (error) {
      const topics = new Set(sends.map(({ topic }) => topic));
      if (topics.size === 1 || !isMissingTopic(error)) throw error;
      return this.writeEachTopic(sends, topics);
    }
    return offsetsOf(sends, answer).map((value) => ({ status: 'fulfilled', value }));
  }

  /** `sends` again, one request per topic; each caller's outcome in its place. */
  private async writeEachTopic(
    sends: readonly Send[],
    topics: ReadonlySet<string>,
  ): Promise<Outcomes<bigint[]>> {
    const outcomes: Outcomes<bigint[]> = [];
    await Promise.all(
      [...topics].map(async (topic) => {
        const places = sends.flatMap((send, place) => (send.topic === topic ? [place] : []));
        const ofTopic = places.map((place) => sends[place]!);
        const written = await this.write(ofTopic).catch((reason: unknown) =>
          ofTopic.map(() => ({ status: 'rejected' as const, reason })),
        );
        written.forEach((outcome, i) => (outcomes[places[i]!] = outcome));
      }),
    );
    return outcomes;
  }
}
