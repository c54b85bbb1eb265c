/** The API's configuration, parsed once at start-up. */
import { oidcSettings } from '@aispm/auth';
import { loadConfig } from '@aispm/config';
import { HTTP_SERVICE_CONFIG_KEYS } from '@aispm/service';

export const API_CONFIG_KEYS = [
  ...HTTP_SERVICE_CONFIG_KEYS,
  'AISPM_HEALTH_WINDOW_MS',
  'AISPM_TENANT_DELETION_RETRY_MS',
  'AISPM_CRASH_AFTER_DELETION_STEP',
  'AISPM_TENANT_PATTERN',
  'AISPM_MAX_BODY_BYTES',
  'API_HOST',
  'API_PORT',
  'API_CONSOLE_SESSION_TTL_MS',
  'API_STREAM_HEARTBEAT_MS',
  'GATEWAY_OIDC_ISSUER',
  'GATEWAY_OIDC_AUDIENCE',
  'GATEWAY_OIDC_JWKS_URL',
  'GATEWAY_OIDC_ISSUERS',
  'CLICKHOUSE_URL',
  'CLICKHOUSE_USER',
  'CLICKHOUSE_PASSWORD',
  'CLICKHOUSE_DATABASE',
] as const;

export const loadEnv = () => {
  const config = loadConfig(API_CONFIG_KEYS, process.env, {
    AISPM_INSTANCE_ID: 'api-0',
    AISPM_OPS_PORT: '9104',
  });
  // The gateways' issuers: a new workload-identity collector is bound to one of them.
  return { ...config, oidc: oidcSettings(config) };
};
export type ApiConfig = ReturnType<typeof loadEnv>;
