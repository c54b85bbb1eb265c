/**
 * Owns dead letters: what a message that cannot be processed becomes (its original bytes and key,
 * where it was found, the error code and why, DESIGN §2) and where it goes. A tenant stage
 * dead-letters into its tenant's DLQ topic, in the same transaction as its output. The shared
 * topics' readers (the control plane, the audit chain writer, the health evidence sink) have no
 * tenant, so what they cannot decode goes to `aispm.dlq` and the reader steps over it. Before,
 * one garbage record on `aispm.control` kept every service's control reader in a restart loop
 * and the service unready.
 */
import type { Kafka, Producer } from 'kafkajs';
import {
  HEADERS,
  SHARED_TOPICS,
  tenantTopic,
  TOPIC_SCHEMAS,
  type DlqRecord,
  type SchemaName,
} from '@aispm/contracts';
import { isRetriable } from '@aispm/errors';
import type { Logger, Metrics } from '@aispm/observability';
import type { StageCodec } from './codec';
import { EXACTLY_ONCE_RETRY } from './client';
import type { Outgoing } from './offsets';
import { failureOf, type Failure } from './results';

/** The parts of a consumed message a dead letter keeps. */
interface Poison {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

/** The dead letter of `message`, found by `service` on `topic`'s `partition`. */
export function deadLetterRecord(
  service: string,
  topic: string,
  partition: number,
  message: Poison,
  failure: Failure,
): DlqRecord {
  const record: DlqRecord = {
    schema_version: 'aispm.dlq_record.v1',
    service,
    code: failure.code,
    message: failure.message,
    source: { topic, partition, offset: message.offset },
    original_base64: (message.value ?? Buffer.alloc(0)).toString('base64'),
    failed_ms: Date.now(),
  };
  if (message.key) record.original_key = message.key.toString();
  return record;
}

/** A stage's dead letters, as messages to its tenants' DLQ topics. */
export class TenantDeadLetters {
  constructor(
    private readonly service: string,
    private readonly codec: StageCodec,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  /**
   * The message that takes `message` of `tenant`'s `topic` to the tenant's DLQ topic, with its
   * original headers; counted and logged here, produced by the caller with the rest of its work.
   */
  async letter(
    tenant: string,
    topic: string,
    partition: number,
    message: Poison & { readonly headers: Readonly<Record<string, string>> },
    failure: Failure,
  ): Promise<Outgoing> {
    const record = deadLetterRecord(this.service, topic, partition, message, failure);
    this.metrics.stageMessages.inc({ service: this.service, tenant, outcome: 'dlq' });
    this.metrics.dlqMessages.inc({ service: this.service, tenant, code: record.code });
    this.logger.warn({ tenant, code: record.code, source: record.source }, 'message dead-lettered');
    return {
      topic: tenantTopic(tenant, 'dlq'),
      message: {
        key: message.key,
        value: await this.codec.encode(TOPIC_SCHEMAS.dlq, record),
        headers: { ...message.headers, [HEADERS.tenant]: tenant },
      },
    };
  }
}

/** The dead letters of a shared topic's reader, sent to `aispm.dlq` one by one as found. */
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
   * The record `message` holds, decoded (as `schema`, when given); undefined once a record that
   * cannot be decoded is dead-lettered. A failure worth retrying (the registry away) is thrown
   * instead.
   */
  async decodeOr<T>(
    topic: string,
    partition: number,
    message: Poison,
    schema?: SchemaName,
  ): Promise<T | undefined> {
    try {
      return await this.codec.decode<T>(message.value, schema);
    } catch (error) {
      if (isRetriable(error)) throw error;
      await this.deadLetter(topic, partition, message, failureOf(error, 'KAFKA_DECODE_FAILED'));
      return undefined;
    }
  }

  async stop(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await (await producer).disconnect();
  }

  private async deadLetter(topic: string, partition: number, message: Poison, failure: Failure) {
    const record = deadLetterRecord(this.reader, topic, partition, message, failure);
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
