/** The redactor's configuration, parsed once at start-up. */
import { loadConfig } from '@aispm/config';
import { WORKER_CONFIG_KEYS } from '@aispm/kafka';

export const loadEnv = () =>
  loadConfig(WORKER_CONFIG_KEYS, process.env, { AISPM_OPS_PORT: '9101', AISPM_INSTANCE_ID: 'redactor-0' });
