import { readFileSync } from 'node:fs';
import { OidcIssuers, ReplayCache } from '@aispm/auth';
import { clickHouseFromConfig } from '@aispm/clickhouse';
import { tenantTopic } from '@aispm/contracts';
import { announceTopics, partitionCache, PARTITIONER, SharedProducer } from '@aispm/kafka';
import { TenantQuotas } from '@aispm/quotas';
import { runHttpService, runMain } from '@aispm/service';
import { buildGateway } from './app';
import { loadEnv } from './env';
import { IdempotencyIndex, storedKeys } from './idempotency';

runMain(async () => {
  const config = loadEnv();
  await runHttpService('ingest-gateway', config, async (context) => {
    const { kafka, logger, metrics, control, kms, codec, probes } = context;
    const clickhouse = clickHouseFromConfig(config);
    const kafkaAdmin = kafka.admin();
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: PARTITIONER,
      retry: { retries: 3 },
    });
    await Promise.all([kafkaAdmin.connect(), producer.connect()]);
    // Only saves metadata refreshes: the producer still learns a topic on its first send.
    await announceTopics(
      producer,
      control
        .tenantSource()
        .live()
        .map((tenant) => tenantTopic(tenant, 'raw')),
    ).catch((error: unknown) =>
      logger.warn(
        { err: error },
        'tenant topics not named to the producer at start; it learns each on first send',
      ),
    );
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
        producer: new SharedProducer(producer),
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
        idempotency: new IdempotencyIndex(
          storedKeys(clickhouse, config.CLICKHOUSE_DATABASE),
          1_000_000,
          (ms) => metrics.idempotencyWait.observe(ms),
        ),
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
    return {
      close: async () => {
        // Stop intake first (in-flight requests finish and get their answer), then flush the producer.
        await app.close();
        await producer.disconnect();
        await Promise.all([kafkaAdmin.disconnect(), clickhouse.close()]);
      },
    };
  });
});
