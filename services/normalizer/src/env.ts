/** The normalizer's configuration, parsed once at start-up. */
import { loadConfig } from '@aispm/config';
import { WORKER_CONFIG_KEYS } from '@aispm/service';

export const loadEnv = () =>
  loadConfig(
    [
      ...WORKER_CONFIG_KEYS,
      'AISPM_TOPIC_PARTITIONS',
      'AISPM_TOPIC_REPLICATION',
      'AISPM_RAW_RETENTION_MS',
      'NORMALIZER_COLLECTOR_VERSIONS',
      'NORMALIZER_TRANSACTIONS',
    ],
    process.env,
    { AISPM_OPS_PORT: '9102', AISPM_INSTANCE_ID: 'normalizer-0' },
  );
export type NormalizerConfig = ReturnType<typeof loadEnv>;
