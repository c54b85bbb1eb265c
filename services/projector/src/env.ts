/** The projector's configuration, parsed once at start-up. */
import { loadConfig } from '@aispm/config';
import { WORKER_CONFIG_KEYS } from '@aispm/service';

export const loadEnv = () =>
  loadConfig(
    [
      ...WORKER_CONFIG_KEYS,
      'CLICKHOUSE_URL',
      'CLICKHOUSE_USER',
      'CLICKHOUSE_PASSWORD',
      'CLICKHOUSE_DATABASE',
      'CLICKHOUSE_USERS_DIR',
      'AISPM_RETENTION_INTERVAL_MS',
      'AISPM_TOPIC_PARTITIONS',
      'AISPM_TOPIC_REPLICATION',
      'AISPM_RAW_RETENTION_MS',
      'PROJECTOR_WATERMARK_INTERVAL_MS',
      'AISPM_SINK_BATCH_ROWS',
      'AISPM_SINK_FLUSH_MS',
    ],
    process.env,
    { AISPM_OPS_PORT: '9103', AISPM_INSTANCE_ID: 'projector-0' },
  );
export type ProjectorConfig = ReturnType<typeof loadEnv>;
