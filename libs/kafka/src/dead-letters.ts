/**
 * Owns the dead letters of the shared topics' readers (the control plane, the audit chain writer,
 * the health follower and the health evidence sink). A tenant stage dead-letters into its tenant's
 * DLQ topic; these readers have no tenant, so what they cannot decode goes to `aispm.dlq`, with
 * the reason and where it was found, and the reader steps over it. Before, one garbage record on
 * `aispm.control` kept every service's control reader in a restart loop and the service unready.
 */
import type { KafkaMessage, Kafka, Producer } from 'kafkajs';
import { SHARED_TOPICS, TOPIC_SCHEMAS, type DlqRecord, type SchemaName } from '@aispm/contracts';
import { AppError, isRetriable } from '@aispm/errors';
import type { Logger } from '@aispm/observability';
import type { StageCodec } from './codec';
import { EXACTLY_ONCE_RETRY } from './client';

export class SharedDeadLetters {
  /** Made on the first poison: most processes never need it. */
  private producer: Promise<Producer> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: StageCodec,
    private readonly logger: Logger,
    /** Who found the poison, as the dead letter records it: e.g. `ingest-gateway control reader`. */
    private readonly reader: string,
  ) {}

  /**
   * The record `message` holds, decoded as `schema`; undefined once a record that cannot be
   * decoded is dead-lettered. A failure worth retrying (the registry away) is thrown instead.
   */
  async decodeOr<T>(
    topic: string,
    partition: number,
    message: KafkaMessage,
    schema: SchemaName,
  ): Promise<T | undefined> {
    try {
      return await this.codec.decode<T>(message.value, schema);
    } catch (error) {
      if (isRetriable(error)) throw error;
      await this.deadLetter(topic, partition, message, error);
      return undefined;
    }
  }

  async stop(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await (await producer).disconnect();
  }

  private async deadLetter(topic: string, partition: number, message: KafkaMessage, error: unknown) {
    const record: DlqRecord = {
      schema_version: 'aispm.dlq_record.v1',
      service: this.reader,
      code: error instanceof AppError ? error.code : 'KAFKA_DECODE_FAILED',
      message: String((error as Error).message),
      source: { topic, partition, offset: message.offset },
      original_base64: (message.value ?? Buffer.alloc(0)).toString('base64'),
      failed_ms: Date.now(),
    };
    if (message.key) record.original_key = message.key.toString();
    this.logger.error({ code: record.code, source: record.source }, 'poison on a shared topic dead-lettered');
    const producer = await this.connected();
    await producer.send({
      topic: SHARED_TOPICS.deadLetters,
      acks: -1,
      messages: [{ key: topic, value: await this.codec.encode(TOPIC_SCHEMAS.deadLetters, record) }],
    });
  }

  private connected(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: EXACTLY_ONCE_RETRY,
      });
      await producer.connect();
      return producer;
    })().catch((error: unknown) => {
      // The next poison tries again; the reader retries this one.
      this.producer = undefined;
      throw error;
    });
    return this.producer;
  }
}
