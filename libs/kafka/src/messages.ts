/**
 * Owns how a consumed message is handed to the platform's code: KafkaJS's message with its
 * partition, its timestamp as a number and its headers as strings, so nothing outside libs/kafka
 * sees KafkaJS's own message type.
 */
import type { IHeaders, KafkaMessage } from 'kafkajs';

/** One consumed message of one partition, with its headers as strings. */
export interface TopicMessage {
  readonly partition: number;
  readonly offset: string;
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** Headers as strings (KafkaJS hands them over as buffers). */
export function readHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name] = Array.isArray(value) ? String(value[0]) : String(value);
  }
  return out;
}

/** A KafkaJS message of `partition` as a {@link TopicMessage}. */
export function toTopicMessage(partition: number, message: KafkaMessage): TopicMessage {
  return {
    partition,
    offset: message.offset,
    timestampMs: Number(message.timestamp),
    key: message.key,
    value: message.value,
    headers: readHeaders(message.headers),
  };
}

/** The offset to commit once the message at `offset` is done: the next one. */
export function offsetAfter(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}
