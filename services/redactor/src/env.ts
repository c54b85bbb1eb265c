/** The redactor's configuration, parsed once at start-up. */
import { loadConfig } from '@aispm/config';
import { WORKER_CONFIG_KEYS } from '@aispm/service';

export const REDACTOR_CONFIG_KEYS = [
  ...WORKER_CONFIG_KEYS,
  'AISPM_KMS_MASTER_KEY_FILE',
  'AISPM_TOPIC_PARTITIONS',
  'AISPM_TOPIC_REPLICATION',
  'AISPM_RAW_RETENTION_MS',
] as const;

export const loadEnv = () =>
  loadConfig(REDACTOR_CONFIG_KEYS, process.env, { AISPM_OPS_PORT: '9101', AISPM_INSTANCE_ID: 'redactor-0' });
export type RedactorConfig = ReturnType<typeof loadEnv>;
