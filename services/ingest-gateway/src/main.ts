import { SCHEMA_NAMES } from '@aispm/contracts';
import {
  createKafka,
  ensureTopics,
  PARTITIONER,
  runMain,
  sharedTopicConfigs,
  StageCodec,
  tenantTopicConfigs,
} from '@aispm/kafka';
import { createLogger, Metrics, onShutdownSignal } from '@aispm/observability';
import { buildGateway } from './app';
import { CredentialDirectory } from './directory';
import { loadEnv } from './env';

runMain(async () => {
  const config = loadEnv();
  const logger = createLogger('ingest-gateway', config.AISPM_INSTANCE_ID, config.AISPM_LOG_LEVEL);
  const metrics = new Metrics('ingest-gateway');
  const directory = CredentialDirectory.fromFile(config.AISPM_BOOTSTRAP_FILE);
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
  const policy = {
    partitions: config.AISPM_TOPIC_PARTITIONS,
    replicationFactor: config.AISPM_TOPIC_REPLICATION,
    rawRetentionMs: config.AISPM_RAW_RETENTION_MS,
  };
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [
    ...sharedTopicConfigs(policy),
    ...directory.tenants.flatMap((t) => tenantTopicConfigs(t.slug, policy)),
  ]);
  await admin.disconnect();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: PARTITIONER,
    retry: { retries: 3 },
  });
  await producer.connect();
  let stopping = false;
  const app = buildGateway({
    logger,
    metrics,
    directory,
    producer,
    codec,
    probes: { healthy: () => true, ready: () => !stopping },
    bodyLimit: config.AISPM_MAX_BODY_BYTES,
    produceTimeoutMs: config.GATEWAY_PRODUCE_TIMEOUT_MS,
  });
  await app.listen({ host: config.GATEWAY_HOST, port: config.GATEWAY_PORT });
  onShutdownSignal(logger, config.AISPM_SHUTDOWN_TIMEOUT_MS, async () => {
    stopping = true;
    // Stop intake first (in-flight requests finish and get their answer), then flush the producer.
    await app.close();
    await producer.disconnect();
  });
});
