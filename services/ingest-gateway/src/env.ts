/** The gateway's configuration, parsed once at start-up. */
import { loadConfig } from '@aispm/config';

export const GATEWAY_CONFIG_KEYS = [
  'AISPM_LOG_LEVEL',
  'AISPM_INSTANCE_ID',
  'AISPM_SHUTDOWN_TIMEOUT_MS',
  'AISPM_GROUP_PREFIX',
  'AISPM_KMS_MASTER_KEY_FILE',
  'AISPM_MAX_BODY_BYTES',
  'AISPM_TOPIC_PARTITIONS',
  'AISPM_TOPIC_REPLICATION',
  'AISPM_RAW_RETENTION_MS',
  'GATEWAY_HOST',
  'GATEWAY_PORT',
  'GATEWAY_PRODUCE_TIMEOUT_MS',
  'KAFKA_BROKERS',
  'KAFKA_REQUEST_TIMEOUT_MS',
  'SCHEMA_REGISTRY_URL',
] as const;

export const loadEnv = () => loadConfig(GATEWAY_CONFIG_KEYS, process.env, { AISPM_INSTANCE_ID: 'gateway-0' });
export type GatewayConfig = ReturnType<typeof loadEnv>;
