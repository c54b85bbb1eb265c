/**
 * Builds the projector stage: canonical events in, rows in ClickHouse out. Offsets are committed
 * only after the insert returns; a redelivered batch inserts the same keys again, which the
 * ReplacingMergeTree and FINAL reads collapse, so each idempotency key counts once.
 */
import {
  clickHouseFromConfig,
  DashboardUsersDir,
  identifier,
  migrate,
  type ClickHouse,
} from '@aispm/clickhouse';
import { ControlPlane, controlPlaneSettings } from '@aispm/control';
import type { NormalizedEvent, NormalizedEventV1 } from '@aispm/contracts';
import { HealthEvidenceSink } from '@aispm/health';
import { SinkStage, workerStageSettings } from '@aispm/kafka';
import type { WorkerContext } from '@aispm/service';
import { upcastNormalized } from '@aispm/normalization';
import { toEventRow, toLookupRow, type EventRow } from '@aispm/projection';
import type { ProjectorConfig } from './env';
import { AuditChainWriter } from './audit';
import { PosturePublisher } from './posture';
import { DashboardAccess } from './dashboards';
import { RetentionJob } from './retention';

/** Inserts rows into `database`'s events and event_lookup, one insert per table. */
async function insertRows(clickhouse: ClickHouse, database: string, rows: EventRow[]): Promise<void> {
  // The lookup goes second, so an event id that resolves always finds its events row.
  await clickhouse.insert(`${database}.events`, rows);
  await clickhouse.insert(`${database}.event_lookup`, rows.map(toLookupRow));
}

export async function buildProjector(
  config: ProjectorConfig,
  { kafka, codec, logger, metrics }: WorkerContext,
) {
  const clickhouse = clickHouseFromConfig(config);
  const applied = await migrate(clickhouse, config.CLICKHOUSE_DATABASE);
  if (applied.length > 0) logger.info({ applied }, 'ClickHouse migrations applied');
  const posture = new PosturePublisher(kafka, codec, config.AISPM_GROUP_PREFIX, logger);
  await posture.start(config.PROJECTOR_WATERMARK_INTERVAL_MS);
  const database = identifier(config.CLICKHOUSE_DATABASE);
  const control = new ControlPlane(kafka, codec, logger, controlPlaneSettings('projector', config));
  await control.start();
  const stage = new SinkStage<NormalizedEvent | NormalizedEventV1>(
    kafka,
    {
      ...workerStageSettings('projector', 'normalized', control.tenantSource(), config),
      flushRows: config.AISPM_SINK_BATCH_ROWS,
      flushMs: config.AISPM_SINK_FLUSH_MS,
      sink: async (inputs) => {
        const started = Date.now();
        const events = inputs.map((input) => upcastNormalized(input.value));
        const rows = inputs.map((input, i) =>
          toEventRow(events[i]!, { partition: input.partition, offset: input.offset }, started),
        );
        try {
          await insertRows(clickhouse, database, rows);
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
        // A write spans tenants; each tenant's posture moves with its own events.
        const byTenant = new Map<string, typeof events>();
        inputs.forEach((input, i) => {
          const mine = byTenant.get(input.tenant);
          if (mine) mine.push(events[i]!);
          else byTenant.set(input.tenant, [events[i]!]);
        });
        await posture.publish(byTenant);
      },
    },
    codec,
    logger,
    metrics,
  );
  let dashboards: DashboardAccess | undefined;
  if (config.CLICKHOUSE_USERS_DIR) {
    const tenantPattern = new RegExp(config.AISPM_TENANT_PATTERN);
    dashboards = new DashboardAccess(
      config.CLICKHOUSE_DATABASE,
      new DashboardUsersDir(config.CLICKHOUSE_USERS_DIR),
      control,
      (tenant) => tenantPattern.test(tenant),
      logger,
    );
    await dashboards.start();
  }
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
      await dashboards?.stop();
      await control.stop();
      await clickhouse.close();
    },
  };
}
