/** The gateway's configuration, parsed once at start-up. */
import { oidcSettings } from '@aispm/auth';
import { loadConfig, type Config } from '@aispm/config';
import { AppError } from '@aispm/errors';
import { HTTP_SERVICE_CONFIG_KEYS } from '@aispm/service';

export const GATEWAY_CONFIG_KEYS = [
  ...HTTP_SERVICE_CONFIG_KEYS,
  'AISPM_MAX_BODY_BYTES',
  'AISPM_MAX_DECOMPRESSED_BYTES',
  'AISPM_BATCH_MAX_ITEMS',
  'GATEWAY_MAX_FUTURE_SKEW_MS',
  'GATEWAY_QUOTA_EVENTS_PER_SECOND',
  'GATEWAY_MAX_INFLIGHT_REQUESTS',
  'GATEWAY_QUOTA_EVENT_BURST',
  'GATEWAY_QUOTA_BYTES_PER_SECOND',
  'GATEWAY_QUOTA_BYTE_BURST',
  'GATEWAY_HOST',
  'GATEWAY_PORT',
  'GATEWAY_PRODUCE_TIMEOUT_MS',
  'GATEWAY_MTLS_PORT',
  'GATEWAY_TLS_CERT_FILE',
  'GATEWAY_TLS_KEY_FILE',
  'GATEWAY_TLS_CLIENT_CA_FILE',
  'GATEWAY_OIDC_ISSUER',
  'GATEWAY_OIDC_AUDIENCE',
  'GATEWAY_OIDC_JWKS_URL',
  'GATEWAY_OIDC_ISSUERS',
  'CLICKHOUSE_URL',
  'CLICKHOUSE_USER',
  'CLICKHOUSE_PASSWORD',
  'CLICKHOUSE_DATABASE',
] as const;

type MtlsKeys =
  'GATEWAY_MTLS_PORT' | 'GATEWAY_TLS_CERT_FILE' | 'GATEWAY_TLS_KEY_FILE' | 'GATEWAY_TLS_CLIENT_CA_FILE';

/** The mTLS listener needs all three PEM files; each one missing is named. */
export function checkMtlsFiles(config: Config<MtlsKeys>): void {
  if (config.GATEWAY_MTLS_PORT === 0) return;
  const missing = (
    ['GATEWAY_TLS_CERT_FILE', 'GATEWAY_TLS_KEY_FILE', 'GATEWAY_TLS_CLIENT_CA_FILE'] as const
  ).filter((name) => config[name] === '');
  if (missing.length > 0)
    throw new AppError(
      'CONFIG_INVALID',
      `Invalid configuration: ${missing.map((name) => `${name} is required when GATEWAY_MTLS_PORT is set`).join('; ')}`,
    );
}

export const loadEnv = () => {
  const config = loadConfig(GATEWAY_CONFIG_KEYS, process.env, {
    AISPM_INSTANCE_ID: 'gateway-0',
    AISPM_OPS_PORT: '9100',
  });
  checkMtlsFiles(config);
  return { ...config, oidc: oidcSettings(config) };
};
export type GatewayConfig = ReturnType<typeof loadEnv>;
