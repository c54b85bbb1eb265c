import { clickHouseFromConfig, inList, name, sql } from '@aispm/clickhouse';
import { ConsoleSessions } from '@aispm/console';
import { SCHEMA_NAMES } from '@aispm/contracts';
import { AuditTrail, ControlPlane, TenantDeletions } from '@aispm/control';
import { OidcIssuers, ReplayCache } from '@aispm/auth';
import { HealthFollower } from '@aispm/health';
import { createKafka, HealthReporter, partitionCache, PARTITIONER, runMain, StageCodec } from '@aispm/kafka';
import { TenantQuotas } from '@aispm/quotas';
import { LocalKms } from '@aispm/kms';
import { buildOpsServer, createLogger, Metrics, onShutdownSignal } from '@aispm/observability';
import { FreshnessTracker } from '@aispm/projection';
import { readFileSync } from 'node:fs';
import { buildGateway, type GatewayDeps } from './app';
import { loadEnv } from './env';
import { IdempotencyIndex, keyId } from './idempotency';
import { KafkaProbe } from './kafka-probe';
import { crashAfterStep, deletionEffects } from './tenant-deletion';

runMain(async () => {
  const config = loadEnv();
  const logger = createLogger('ingest-gateway', config.AISPM_INSTANCE_ID, config.AISPM_LOG_LEVEL);
  const metrics = new Metrics('ingest-gateway');
  const kms = LocalKms.fromFile(config.AISPM_KMS_MASTER_KEY_FILE, { create: true });
  const kafka = createKafka(
    {
      brokers: config.KAFKA_BROKERS,
      clientId: `gateway-${config.AISPM_INSTANCE_ID}`,
      requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
      retries: 3,
    },
    logger,
  );
  const codec = new StageCodec(config.SCHEMA_REGISTRY_URL);
  await codec.register(SCHEMA_NAMES);
  const topics = {
    partitions: config.AISPM_TOPIC_PARTITIONS,
    replicationFactor: config.AISPM_TOPIC_REPLICATION,
  };
  const control = new ControlPlane(kafka, codec, logger, {
    groupPrefix: config.AISPM_GROUP_PREFIX,
    service: 'ingest-gateway',
    instanceId: config.AISPM_INSTANCE_ID,
    topicPolicy: { ...topics, rawRetentionMs: config.AISPM_RAW_RETENTION_MS },
  });
  await control.start();
  const clickhouse = clickHouseFromConfig(config);
  const eventsTable = sql`${name(config.CLICKHOUSE_DATABASE)}.events`;
  const kafkaAdmin = kafka.admin();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: PARTITIONER,
    retry: { retries: 3 },
  });
  await Promise.all([kafkaAdmin.connect(), producer.connect()]);
  const health = new HealthFollower(
    kafka,
    codec,
    logger,
    config.AISPM_GROUP_PREFIX,
    config.AISPM_HEALTH_WINDOW_MS,
  );
  await health.start();
  const reporter = new HealthReporter(kafka, codec, metrics, logger, {
    service: 'ingest-gateway',
    instanceId: config.AISPM_INSTANCE_ID,
    intervalMs: config.AISPM_HEALTH_INTERVAL_MS,
  });
  await reporter.start();
  const kafkaProbe = new KafkaProbe(kafka, logger);
  kafkaProbe.start();
  let stopping = false;
  const probes = {
    healthy: () => true,
    ready: () => !stopping && control.caughtUp() && kafkaProbe.answers(),
  };
  // Metrics carry tenant labels, so they are served on the ops port only, not the public one.
  const ops = buildOpsServer(metrics, probes);
  await ops.listen({ host: config.AISPM_OPS_HOST, port: config.AISPM_OPS_PORT });
  const audit = new AuditTrail(producer, codec);
  const deletions = new TenantDeletions(
    control,
    audit,
    deletionEffects(kafkaAdmin, kms, clickhouse, config.CLICKHOUSE_DATABASE),
    logger,
    {
      instance: config.AISPM_INSTANCE_ID,
      intervalMs: config.AISPM_TENANT_DELETION_RETRY_MS,
      afterStep: crashAfterStep(config.AISPM_CRASH_AFTER_DELETION_STEP),
    },
  );
  deletions.start();
  const gatewayDeps: GatewayDeps = {
    logger,
    metrics,
    control,
    audit,
    deletions,
    kafkaAdmin,
    health,
    groupPrefix: config.AISPM_GROUP_PREFIX,
    healthIntervalMs: config.AISPM_HEALTH_INTERVAL_MS,
    // One per instance, so the posture document and the health document of both listeners agree.
    freshness: new FreshnessTracker(),
    // Signed with a key every gateway derives alike, so any instance accepts any instance's session.
    consoleSessions: new ConsoleSessions(
      await kms.deriveKey('console-session'),
      config.GATEWAY_CONSOLE_SESSION_TTL_MS,
    ),
    kafka,
    clickhouse,
    database: config.CLICKHOUSE_DATABASE,
    kms,
    topics,
    producer,
    codec,
    quotas: new TenantQuotas({
      eventsPerSecond: config.GATEWAY_QUOTA_EVENTS_PER_SECOND,
      eventBurst: config.GATEWAY_QUOTA_EVENT_BURST,
      bytesPerSecond: config.GATEWAY_QUOTA_BYTES_PER_SECOND,
      byteBurst: config.GATEWAY_QUOTA_BYTE_BURST,
      maxKeys: 100_000,
    }),
    replayCache: new ReplayCache({ maxEntries: 1_000_000 }),
    admission: { maxFutureSkewMs: config.GATEWAY_MAX_FUTURE_SKEW_MS },
    idempotency: new IdempotencyIndex(async (keys) => {
      // Any stored row of a key will do: every row of one key carries the hash it was first
      // accepted with, so no FINAL; the tenants and session ids narrow the read to the primary
      // key, and the pairs keep one tenant's key from answering for another's.
      const rows = await clickhouse.query<{ tenant: string; idempotency_key: string; content_hash: string }>(
        sql`SELECT tenant, idempotency_key, any(content_hash) AS content_hash FROM ${eventsTable}
          WHERE tenant IN ${inList([...new Set(keys.map((k) => k.tenant))])}
          AND session_id IN ${inList([...new Set(keys.map((k) => k.sessionId))])}
          AND (tenant, idempotency_key) IN arrayZip(${keys.map((k) => k.tenant)}, ${keys.map((k) => k.key)})
          GROUP BY tenant, idempotency_key`,
      );
      return new Map(rows.map((row) => [keyId(row.tenant, row.idempotency_key), row.content_hash]));
    }, 1_000_000),
    maxDecompressedBytes: config.AISPM_MAX_DECOMPRESSED_BYTES,
    oidc:
      config.oidc.issuers.length > 0
        ? new OidcIssuers(config.oidc.issuers, config.oidc.defaultIssuer)
        : undefined,
    batchMaxItems: config.AISPM_BATCH_MAX_ITEMS,
    partitionsOf: partitionCache(kafkaAdmin),
    probes,
    bodyLimit: config.AISPM_MAX_BODY_BYTES,
    maxInflightRequests: config.GATEWAY_MAX_INFLIGHT_REQUESTS,
    produceTimeoutMs: config.GATEWAY_PRODUCE_TIMEOUT_MS,
    stream: {
      groupPrefix: config.AISPM_GROUP_PREFIX,
      instanceId: config.AISPM_INSTANCE_ID,
      heartbeatMs: config.GATEWAY_STREAM_HEARTBEAT_MS,
    },
  };
  const app = buildGateway(gatewayDeps);
  await app.listen({ host: config.GATEWAY_HOST, port: config.GATEWAY_PORT });
  const mtls =
    config.GATEWAY_MTLS_PORT > 0
      ? buildGateway(gatewayDeps, {
          key: readFileSync(config.GATEWAY_TLS_KEY_FILE),
          cert: readFileSync(config.GATEWAY_TLS_CERT_FILE),
          ca: readFileSync(config.GATEWAY_TLS_CLIENT_CA_FILE),
        })
      : undefined;
  await mtls?.listen({ host: config.GATEWAY_HOST, port: config.GATEWAY_MTLS_PORT });
  onShutdownSignal(logger, config.AISPM_SHUTDOWN_TIMEOUT_MS, async () => {
    stopping = true;
    kafkaProbe.stop();
    // Stop intake first (in-flight requests finish and get their answer), then flush the producer.
    await Promise.all([app.close(), mtls?.close()]);
    await deletions.stop();
    await producer.disconnect();
    await reporter.stop();
    await Promise.all([kafkaAdmin.disconnect(), control.stop(), health.stop(), clickhouse.close()]);
    await ops.close();
  });
});
