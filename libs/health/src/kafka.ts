/**
 * Owns the two readers of `aispm.health`: the follower that folds recent evidence into a
 * HealthState for the gateway's health endpoint, and the sink that writes evidence into
 * ClickHouse's `health_evidence` table so it has a history auditors can query.
 */
import { randomBytes } from 'node:crypto';
import { identifier, type ClickHouse } from '@aispm/clickhouse';
import { SHARED_TOPICS, TOPIC_SCHEMAS, type HealthEvidence } from '@aispm/contracts';
import { TopicFollower, type FollowedBatch, type KafkaClient, type StageCodec } from '@aispm/kafka';
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
  private readonly reader: TopicFollower;

  constructor(kafka: KafkaClient, codec: StageCodec, logger: Logger, groupPrefix: string, windowMs: number) {
    this.state = new HealthState(windowMs);
    this.reader = new TopicFollower(
      kafka,
      codec,
      logger,
      {
        name: 'health follower',
        topic: SHARED_TOPICS.health,
        groupId: `${groupPrefix}-health-follower-${randomBytes(4).toString('hex')}`,
        from: { kind: 'time', timeMs: this.startedMs - windowMs },
        // The projector's evidence sink dead-letters what does not decode; every follower only
        // steps over it.
        poison: 'skip',
        maxWaitTimeInMs: 250,
      },
      (batch) => this.apply(batch),
    );
  }

  async start(): Promise<void> {
    await this.reader.start();
  }

  async stop(): Promise<void> {
    await this.reader.stop();
  }

  private async apply(batch: FollowedBatch): Promise<void> {
    for (const message of batch.messages) {
      const evidence = await batch.decode<HealthEvidence>(message, TOPIC_SCHEMAS.health);
      if (evidence) this.state.apply(evidence, Date.now());
    }
  }
}

/**
 * Writes the evidence of the tenants a projector serves into `<database>.health_evidence`,
 * committing offsets only after the insert; a redelivered record rewrites the same rows, which
 * the ReplacingMergeTree collapses. Records of other tenants are skipped by key, undecoded; a
 * record that does not decode goes to `aispm.dlq`.
 */
export class HealthEvidenceSink {
  private readonly reader: TopicFollower;
  private readonly table: string;
  private readonly tenantPattern: RegExp;

  constructor(
    kafka: KafkaClient,
    codec: StageCodec,
    private readonly clickhouse: ClickHouse,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    settings: { groupPrefix: string; database: string; tenantPattern: RegExp },
  ) {
    this.tenantPattern = settings.tenantPattern;
    this.reader = new TopicFollower(
      kafka,
      codec,
      logger,
      {
        name: 'projector health evidence sink',
        topic: SHARED_TOPICS.health,
        groupId: `${settings.groupPrefix}-health-evidence`,
        from: { kind: 'committed' },
        poison: 'dead-letter',
      },
      (batch) => this.store(batch),
    );
    this.table = `${identifier(settings.database)}.health_evidence`;
  }

  async start(): Promise<void> {
    await this.reader.start();
  }

  async stop(): Promise<void> {
    await this.reader.stop();
  }

  private async store(batch: FollowedBatch): Promise<void> {
    const insertedMs = Date.now();
    const rows = [];
    for (const message of batch.messages) {
      const tenant = message.key?.toString() ?? '';
      if (!this.tenantPattern.test(tenant)) continue;
      const evidence = await batch.decode<HealthEvidence>(message, TOPIC_SCHEMAS.health);
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
    this.logger.debug({ rows: rows.length }, 'health evidence stored');
  }
}
