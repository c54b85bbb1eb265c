/** The CLI's configuration: the same keys, defaults and checks as the services. */
import { loadConfig } from '@aispm/config';

export const loadEnv = () =>
  loadConfig(
    [
      'AISPM_LOG_LEVEL',
      'AISPM_GROUP_PREFIX',
      'AISPM_TOPIC_PARTITIONS',
      'AISPM_TOPIC_REPLICATION',
      'AISPM_RAW_RETENTION_MS',
      'KAFKA_BROKERS',
      'KAFKA_REQUEST_TIMEOUT_MS',
      'SCHEMA_REGISTRY_URL',
      'CLICKHOUSE_URL',
      'CLICKHOUSE_USER',
      'CLICKHOUSE_PASSWORD',
      'CLICKHOUSE_DATABASE',
      'AISPM_URL',
      'AISPM_API_URL',
      'AISPM_ADMIN_KEY',
      'AISPM_OPERATOR_KEY_FILE',
      'AISPM_KMS_MASTER_KEY_FILE',
    ],
    process.env,
    { AISPM_LOG_LEVEL: 'warn' },
  );
export type CliConfig = ReturnType<typeof loadEnv>;
