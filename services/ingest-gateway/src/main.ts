import { clickHouseFromConfig } from '@aispm/clickhouse';
import { SCHEMA_NAMES } from '@aispm/contracts';
import { ControlPlane, workerControlSettings } from '@aispm/control';
import { OidcIssuers, ReplayCache } from '@aispm/auth';
import {
  createKafka,
  HealthReporter,
  KafkaProbe,
  partitionCache,
  PARTITIONER,
  runMain,
  StageCodec,
} from '@aispm/kafka';
import { TenantQuotas } from '@aispm/quotas';
import { LocalKms } from '@aispm/kms';
import { buildOpsServer, createLogger, Metrics, onShutdownSignal } from '@aispm/observability';
import { readFileSync } from 'node:fs';
import { buildGateway } from './app';
import { loadEnv } from './env';
import { IdempotencyIndex, storedKeys } from './idempotency';

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
  const control = new ControlPlane(kafka, codec, logger, workerControlSettings('ingest-gateway', config));
  await control.start();
  const clickhouse = clickHouseFromConfig(config);
  const kafkaAdmin = kafka.admin();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: PARTITIONER,
    retry: { retries: 3 },
  });
  await Promise.all([kafkaAdmin.connect(), producer.connect()]);
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
  const mtlsFiles =
    config.GATEWAY_MTLS_PORT > 0
      ? {
          key: readFileSync(config.GATEWAY_TLS_KEY_FILE),
          cert: readFileSync(config.GATEWAY_TLS_CERT_FILE),
          ca: readFileSync(config.GATEWAY_TLS_CLIENT_CA_FILE),
        }
      : undefined;
  const { app, mtls } = buildGateway(
    {
      logger,
      metrics,
      control,
      kms,
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
      idempotency: new IdempotencyIndex(storedKeys(clickhouse, config.CLICKHOUSE_DATABASE), 1_000_000),
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
    },
    mtlsFiles,
  );
  await app.listen({ host: config.GATEWAY_HOST, port: config.GATEWAY_PORT });
  if (mtls)
    await new Promise<void>((resolve, reject) =>
      mtls.once('error', reject).listen(config.GATEWAY_MTLS_PORT, config.GATEWAY_HOST, resolve),
    );
  onShutdownSignal(logger, config.AISPM_SHUTDOWN_TIMEOUT_MS, async () => {
    stopping = true;
    kafkaProbe.stop();
    // Stop intake first (in-flight requests finish and get their answer), then flush the producer.
    await app.close();
    await producer.disconnect();
    await reporter.stop();
    await Promise.all([kafkaAdmin.disconnect(), control.stop(), clickhouse.close()]);
    await ops.close();
  });
});
