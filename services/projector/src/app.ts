/**
 * Builds the projector stage: canonical events in, rows in ClickHouse out. Offsets are committed
 * only after the insert returns; a redelivered batch inserts the same keys again, which the
 * ReplacingMergeTree and FINAL reads collapse, so each idempotency key counts once.
 */
import { clickHouseFromConfig, identifier, migrate } from '@aispm/clickhouse';
import { ControlPlane } from '@aispm/control';
import type { NormalizedEvent, NormalizedEventV1 } from '@aispm/contracts';
import { HealthEvidenceSink } from '@aispm/health';
import { SinkStage, type WorkerContext } from '@aispm/kafka';
import { upcastNormalized } from '@aispm/normalization';
import { toEventRow } from '@aispm/projection';
import type { ProjectorConfig } from './env';
import { AuditChainWriter } from './audit';
import { PosturePublisher } from './posture';
import { RetentionJob } from './retention';

export async function buildProjector(
  config: ProjectorConfig,
  { kafka, codec, logger, metrics }: WorkerContext,
) {
  const clickhouse = clickHouseFromConfig(config);
  const applied = await migrate(clickhouse, config.CLICKHOUSE_DATABASE);
  if (applied.length > 0) logger.info({ applied }, 'ClickHouse migrations applied');
  const eventsTable = `${identifier(config.CLICKHOUSE_DATABASE)}.events`;
  const posture = new PosturePublisher(
    kafka,
    codec,
    clickhouse,
    config.CLICKHOUSE_DATABASE,
    config.AISPM_GROUP_PREFIX,
    logger,
  );
  await posture.start(config.PROJECTOR_WATERMARK_INTERVAL_MS);
  const stage = new SinkStage<NormalizedEvent | NormalizedEventV1>(
    kafka,
    {
      service: 'projector',
      instanceId: config.AISPM_INSTANCE_ID,
      groupPrefix: config.AISPM_GROUP_PREFIX,
      inputStage: 'normalized',
      topicRefreshMs: config.AISPM_TOPIC_REFRESH_MS,
      tenantPattern: config.AISPM_TENANT_PATTERN,
      sink: async (inputs) => {
        const started = Date.now();
        const events = inputs.map((input) => upcastNormalized(input.value));
        try {
          await clickhouse.insert(
            eventsTable,
            inputs.map((input, i) =>
              toEventRow(events[i]!, { partition: input.partition, offset: input.offset }, started),
            ),
          );
        } catch (error) {
          metrics.storageFailures.inc({ operation: 'insert' });
          metrics.storageUp.set({ store: 'clickhouse' }, 0);
          throw error;
        }
        metrics.storageUp.set({ store: 'clickhouse' }, 1);
        const done = Date.now();
        metrics.chInsertDuration.observe({ table: 'events' }, done - started);
        metrics.chInsertRows.inc({ table: 'events' }, inputs.length);
        for (const input of inputs) {
          metrics.endToEndLatency.observe({ tenant: input.tenant }, done - input.value.received_ms);
        }
        // A batch is one topic's partition, so one tenant.
        await posture.publish(inputs[0]!.tenant, events);
      },
    },
    codec,
    logger,
    metrics,
  );
  const control = new ControlPlane(kafka, codec, logger, {
    groupPrefix: config.AISPM_GROUP_PREFIX,
    service: 'projector',
    instanceId: config.AISPM_INSTANCE_ID,
    topicPolicy: {
      partitions: config.AISPM_TOPIC_PARTITIONS,
      replicationFactor: config.AISPM_TOPIC_REPLICATION,
      rawRetentionMs: config.AISPM_RAW_RETENTION_MS,
    },
  });
  await control.start();
  const retention = new RetentionJob(clickhouse, config.CLICKHOUSE_DATABASE, control, logger, metrics);
  retention.start(config.AISPM_RETENTION_INTERVAL_MS);
  const audit = new AuditChainWriter(
    kafka,
    config.AISPM_GROUP_PREFIX,
    codec,
    clickhouse,
    config.CLICKHOUSE_DATABASE,
    logger,
  );
  await audit.start();
  const healthSink = new HealthEvidenceSink(kafka, codec, clickhouse, metrics, logger, {
    groupPrefix: config.AISPM_GROUP_PREFIX,
    database: config.CLICKHOUSE_DATABASE,
    tenantPattern: config.AISPM_TENANT_PATTERN,
  });
  await healthSink.start();
  return {
    stage,
    // Storage status in the health evidence: a ping each interval, so an outage shows even idle.
    probe: async () => {
      const up = await clickhouse.ping().catch(() => false);
      if (!up) metrics.storageFailures.inc({ operation: 'ping' });
      metrics.storageUp.set({ store: 'clickhouse' }, up ? 1 : 0);
    },
    close: async () => {
      await healthSink.stop();
      await audit.stop();
      await retention.stop();
      await posture.stop();
      await control.stop();
      await clickhouse.close();
    },
  };
}
