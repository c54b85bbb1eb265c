/**
 * Owns the two readers of `aispm.health`: the follower that folds recent evidence into a
 * HealthState for the gateway's health endpoint, and the sink that writes evidence into
 * ClickHouse's `health_evidence` table so it has a history auditors can query.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { identifier, type ClickHouse } from '@aispm/clickhouse';
import { SHARED_TOPICS, TOPIC_SCHEMAS, type HealthEvidence } from '@aispm/contracts';
import {
  FollowedReader,
  SharedDeadLetters,
  subscribeWhenReady,
  whileTopicsSettle,
  type StageCodec,
} from '@aispm/kafka';
import type { Logger, Metrics } from '@aispm/observability';
import { HealthState } from './state';

/** Rows of the `health_evidence` table for one record: one per number. */
export function evidenceRows(record: HealthEvidence, insertedMs: number) {
  return Object.entries(record.metrics ?? {}).map(([metric, value]) => ({
    tenant: record.tenant ?? '',
    service: record.service,
    instance: record.instance,
    observed_ms: record.observed_ms,
    metric,
    value,
    inserted_ms: insertedMs,
  }));
}

/**
 * Follows `aispm.health` from `windowMs` ago, so a restarted gateway answers with the same counts
 * as one that ran all along. Every instance reads every record, so each gets a group of its own.
 */
export class HealthFollower {
  readonly state: HealthState;
  /** When the follower started reading: evidence before `startedMs - windowMs` is unknown to it. */
  readonly startedMs = Date.now();
  private readonly consumer: Consumer;
  private readonly reader: FollowedReader;
  private readonly admin: Admin;
  /** The next offset to apply per partition: where a restarted reader seeks back to. */
  private readonly next = new Map<number, string>();

  constructor(
    kafka: Kafka,
    private readonly codec: StageCodec,
    private readonly logger: Logger,
    groupPrefix: string,
    windowMs: number,
  ) {
    this.state = new HealthState(windowMs);
    this.consumer = kafka.consumer({
      groupId: `${groupPrefix}-health-follower-${randomBytes(4).toString('hex')}`,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
    });
    this.reader = new FollowedReader(this.consumer, {
      name: 'health follower',
      logger,
      follow: () => this.follow(),
    });
    this.admin = kafka.admin();
  }

  async start(): Promise<void> {
    await this.admin.connect();
    const from = await whileTopicsSettle(() =>
      this.admin.fetchTopicOffsetsByTimestamp(SHARED_TOPICS.health, this.startedMs - this.state.windowMs),
    );
    for (const { partition, offset } of from) this.next.set(partition, offset);
    await this.reader.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.reader.stop(), this.admin.disconnect()]);
  }

  /** Runs from `next`: the window's start at first, after a crash where the reader stopped. */
  private async follow(): Promise<void> {
    await subscribeWhenReady(this.consumer, { topics: [SHARED_TOPICS.health], fromBeginning: false });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        // The projector's evidence sink dead-letters what does not decode; every follower only
        // steps over it.
        try {
          this.state.apply(
            await this.codec.decode<HealthEvidence>(message.value, TOPIC_SCHEMAS.health),
            Date.now(),
          );
        } catch (error) {
          this.logger.warn({ err: error, offset: message.offset }, 'health record skipped');
        }
        this.next.set(partition, (BigInt(message.offset) + 1n).toString());
      },
    });
    // TRICKY: a seek takes effect only after run(). When the first join fails (a fresh cluster's
    // coordinator still loading), run() resolves anyway and KafkaJS joins again later; until
    // then a seek throws, so it is retried.
    await whileTopicsSettle(
      async () => {
        for (const [partition, offset] of this.next) {
          this.consumer.seek({ topic: SHARED_TOPICS.health, partition, offset });
        }
      },
      40,
      (error) => String(error).includes('Consumer group was not initialized'),
    );
  }
}

/**
 * Writes the evidence of the tenants a projector serves into `<database>.health_evidence`,
 * committing offsets only after the insert; a redelivered record rewrites the same rows, which
 * the ReplacingMergeTree collapses. Records of other tenants are skipped by key, undecoded; a
 * record that does not decode goes to `aispm.dlq`.
 */
export class HealthEvidenceSink {
  private readonly consumer: Consumer;
  private readonly reader: FollowedReader;
  private readonly table: string;
  private readonly tenantPattern: RegExp;
  private readonly deadLetters: SharedDeadLetters;

  constructor(
    kafka: Kafka,
    codec: StageCodec,
    private readonly clickhouse: ClickHouse,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    settings: { groupPrefix: string; database: string; tenantPattern: RegExp },
  ) {
    this.tenantPattern = settings.tenantPattern;
    this.consumer = kafka.consumer({
      groupId: `${settings.groupPrefix}-health-evidence`,
      allowAutoTopicCreation: false,
    });
    this.deadLetters = new SharedDeadLetters(kafka, codec, logger, 'projector health evidence sink');
    this.reader = new FollowedReader(this.consumer, {
      name: 'health evidence sink',
      logger,
      follow: () => this.follow(),
    });
    this.table = `${identifier(settings.database)}.health_evidence`;
  }

  async start(): Promise<void> {
    await this.reader.start();
  }

  async stop(): Promise<void> {
    await this.reader.stop();
    await this.deadLetters.stop();
  }

  /** Resumes where the sink committed, after a start or a crash. */
  private async follow(): Promise<void> {
    await subscribeWhenReady(this.consumer, { topics: [SHARED_TOPICS.health], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        if (batch.messages.length === 0) return;
        const insertedMs = Date.now();
        const rows = [];
        for (const message of batch.messages) {
          const tenant = message.key?.toString() ?? '';
          if (!this.tenantPattern.test(tenant)) continue;
          const evidence = await this.deadLetters.decodeOr<HealthEvidence>(
            batch.topic,
            batch.partition,
            message,
            TOPIC_SCHEMAS.health,
          );
          if (evidence) rows.push(...evidenceRows(evidence, insertedMs));
        }
        try {
          await this.clickhouse.insert(this.table, rows);
        } catch (error) {
          this.metrics.storageFailures.inc({ operation: 'health_insert' });
          this.metrics.healthRecords.inc({ outcome: 'store_failed' });
          throw error;
        }
        this.metrics.healthRecords.inc({ outcome: 'stored' }, rows.length);
        const last = batch.lastOffset();
        await this.consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
        ]);
        resolveOffset(last);
        await heartbeat();
        this.logger.debug({ rows: rows.length }, 'health evidence stored');
      },
    });
  }
}
