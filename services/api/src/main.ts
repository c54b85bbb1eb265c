import { clickHouseFromConfig } from '@aispm/clickhouse';
import { ConsoleSessions } from '@aispm/console';
import { AuditTrail, TenantDeletions } from '@aispm/control';
import { HealthFollower } from '@aispm/health';
import { FreshnessTracker } from '@aispm/projection';
import { runHttpService, runMain } from '@aispm/service';
import { buildApi } from './app';
import { loadEnv } from './env';
import { crashAfterStep, deletionEffects } from './tenant-deletion';

runMain(async () => {
  const config = loadEnv();
  await runHttpService('api', config, async (context) => {
    const { logger, kafka, codec, kms, control } = context;
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
        tenantPattern: config.AISPM_TENANT_PATTERN,
      },
    );
    deletions.start();
    const app = buildApi({
      ...context,
      audit,
      deletions,
      kafkaAdmin,
      clickhouse,
      database: config.CLICKHOUSE_DATABASE,
      topics: {
        partitions: config.AISPM_TOPIC_PARTITIONS,
        replicationFactor: config.AISPM_TOPIC_REPLICATION,
      },
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
    return {
      close: async () => {
        // Stop answering first (open streams end, requests in flight get their answer), then flush.
        await app.close();
        await deletions.stop();
        await producer.disconnect();
        await Promise.all([kafkaAdmin.disconnect(), health.stop(), clickhouse.close()]);
      },
    };
  });
});
