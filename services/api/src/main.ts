import { clickHouseFromConfig } from '@aispm/clickhouse';
import { ConsoleSessions } from '@aispm/console';
import { SCHEMA_NAMES } from '@aispm/contracts';
import { AuditTrail, ControlPlane, TenantDeletions, workerControlSettings } from '@aispm/control';
import { HealthFollower } from '@aispm/health';
import { createKafka, HealthReporter, KafkaProbe, runMain, StageCodec } from '@aispm/kafka';
import { LocalKms } from '@aispm/kms';
import { buildOpsServer, createLogger, Metrics, onShutdownSignal } from '@aispm/observability';
import { FreshnessTracker } from '@aispm/projection';
import { buildApi } from './app';
import { loadEnv } from './env';
import { crashAfterStep, deletionEffects } from './tenant-deletion';

runMain(async () => {
  const config = loadEnv();
  const logger = createLogger('api', config.AISPM_INSTANCE_ID, config.AISPM_LOG_LEVEL);
  const metrics = new Metrics('api');
  const kms = LocalKms.fromFile(config.AISPM_KMS_MASTER_KEY_FILE, { create: true });
  const kafka = createKafka(
    {
      brokers: config.KAFKA_BROKERS,
      clientId: `api-${config.AISPM_INSTANCE_ID}`,
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
  const control = new ControlPlane(kafka, codec, logger, workerControlSettings('api', config));
  await control.start();
  const clickhouse = clickHouseFromConfig(config);
  const kafkaAdmin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 3 } });
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
    service: 'api',
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
  const app = buildApi({
    logger,
    metrics,
    probes,
    control,
    audit,
    deletions,
    kafka,
    kafkaAdmin,
    codec,
    kms,
    clickhouse,
    database: config.CLICKHOUSE_DATABASE,
    topics,
    oidc:
      config.oidc.issuers.length > 0
        ? {
            issuers: config.oidc.issuers.map((issuer) => issuer.issuer),
            defaultIssuer: config.oidc.defaultIssuer,
          }
        : undefined,
    health,
    groupPrefix: config.AISPM_GROUP_PREFIX,
    instanceId: config.AISPM_INSTANCE_ID,
    healthIntervalMs: config.AISPM_HEALTH_INTERVAL_MS,
    heartbeatMs: config.API_STREAM_HEARTBEAT_MS,
    freshness: new FreshnessTracker(),
    bodyLimit: config.AISPM_MAX_BODY_BYTES,
    // Signed with a key every instance derives alike, so any instance accepts any instance's session.
    consoleSessions: new ConsoleSessions(
      await kms.deriveKey('console-session'),
      config.API_CONSOLE_SESSION_TTL_MS,
    ),
  });
  await app.listen({ host: config.API_HOST, port: config.API_PORT });
  onShutdownSignal(logger, config.AISPM_SHUTDOWN_TIMEOUT_MS, async () => {
    stopping = true;
    kafkaProbe.stop();
    // Stop answering first (open streams end, requests in flight get their answer), then flush.
    await app.close();
    await deletions.stop();
    await producer.disconnect();
    await reporter.stop();
    await Promise.all([kafkaAdmin.disconnect(), control.stop(), health.stop(), clickhouse.close()]);
    await ops.close();
  });
});
