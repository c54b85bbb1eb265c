/** The gateway's configuration, parsed once at start-up. */
import { oidcIssuerProblem, type OidcVerifierOptions } from '@aispm/auth';
import { loadConfig, type Config } from '@aispm/config';
import { AppError } from '@aispm/errors';

export const GATEWAY_CONFIG_KEYS = [
  'AISPM_LOG_LEVEL',
  'AISPM_INSTANCE_ID',
  'AISPM_SHUTDOWN_TIMEOUT_MS',
  'AISPM_GROUP_PREFIX',
  'AISPM_HEALTH_INTERVAL_MS',
  'AISPM_HEALTH_WINDOW_MS',
  'AISPM_KMS_MASTER_KEY_FILE',
  'AISPM_TENANT_DELETION_RETRY_MS',
  'AISPM_CRASH_AFTER_DELETION_STEP',
  'AISPM_MAX_BODY_BYTES',
  'AISPM_MAX_DECOMPRESSED_BYTES',
  'AISPM_BATCH_MAX_ITEMS',
  'GATEWAY_MAX_FUTURE_SKEW_MS',
  'GATEWAY_QUOTA_EVENTS_PER_SECOND',
  'GATEWAY_MAX_INFLIGHT_REQUESTS',
  'GATEWAY_CONSOLE_SESSION_TTL_MS',
  'GATEWAY_QUOTA_EVENT_BURST',
  'GATEWAY_QUOTA_BYTES_PER_SECOND',
  'GATEWAY_QUOTA_BYTE_BURST',
  'AISPM_TOPIC_PARTITIONS',
  'AISPM_TOPIC_REPLICATION',
  'AISPM_RAW_RETENTION_MS',
  'GATEWAY_HOST',
  'GATEWAY_PORT',
  'AISPM_OPS_HOST',
  'AISPM_OPS_PORT',
  'GATEWAY_PRODUCE_TIMEOUT_MS',
  'GATEWAY_STREAM_HEARTBEAT_MS',
  'GATEWAY_MTLS_PORT',
  'GATEWAY_TLS_CERT_FILE',
  'GATEWAY_TLS_KEY_FILE',
  'GATEWAY_TLS_CLIENT_CA_FILE',
  'GATEWAY_OIDC_ISSUER',
  'GATEWAY_OIDC_AUDIENCE',
  'GATEWAY_OIDC_JWKS_URL',
  'GATEWAY_OIDC_ISSUERS',
  'KAFKA_BROKERS',
  'KAFKA_REQUEST_TIMEOUT_MS',
  'SCHEMA_REGISTRY_URL',
  'CLICKHOUSE_URL',
  'CLICKHOUSE_USER',
  'CLICKHOUSE_PASSWORD',
  'CLICKHOUSE_DATABASE',
] as const;

type OidcKeys =
  'GATEWAY_OIDC_ISSUER' | 'GATEWAY_OIDC_AUDIENCE' | 'GATEWAY_OIDC_JWKS_URL' | 'GATEWAY_OIDC_ISSUERS';

/** The issuers of workload-identity tokens the gateway trusts; none turns OIDC off. */
export interface OidcSettings {
  readonly issuers: readonly OidcVerifierOptions[];
  /** The issuer of collectors that name none: GATEWAY_OIDC_ISSUER, else the only issuer. */
  readonly defaultIssuer: string | undefined;
}

/**
 * The cross-field rule of the OIDC keys: GATEWAY_OIDC_ISSUERS, plus the single-issuer keys as one
 * more entry (they stay what they were), each entry complete and valid, and no issuer twice.
 * Every problem names its variable (and entry), and all of them are reported at once.
 */
export function oidcSettings(config: Config<OidcKeys>): OidcSettings {
  const problems: string[] = [];
  const entries: { options: OidcVerifierOptions; name: string }[] = config.GATEWAY_OIDC_ISSUERS.map(
    (entry, index) => ({
      options: { issuer: entry.issuer, audience: entry.audience, jwksUrl: entry.jwks_url },
      name: `GATEWAY_OIDC_ISSUERS entry ${index}`,
    }),
  );
  const single = {
    issuer: config.GATEWAY_OIDC_ISSUER,
    audience: config.GATEWAY_OIDC_AUDIENCE,
    jwksUrl: config.GATEWAY_OIDC_JWKS_URL,
  };
  if (single.issuer !== '') {
    const missing = (
      [
        [single.audience, 'GATEWAY_OIDC_AUDIENCE'],
        [single.jwksUrl, 'GATEWAY_OIDC_JWKS_URL'],
      ] as const
    ).flatMap(([value, name]) => (value === '' ? [name] : []));
    for (const name of missing) problems.push(`${name} is required when GATEWAY_OIDC_ISSUER is set`);
    // An incomplete entry is reported above only, not once more as invalid.
    if (missing.length === 0) entries.unshift({ options: single, name: 'GATEWAY_OIDC_ISSUER' });
  }
  const seen = new Map<string, string>();
  for (const { options, name } of entries) {
    const problem = oidcIssuerProblem(options);
    if (problem) problems.push(`${name} is invalid: ${problem}`);
    const earlier = seen.get(options.issuer);
    if (earlier) problems.push(`${name} names the issuer ${options.issuer} of ${earlier} again`);
    seen.set(options.issuer, name);
  }
  if (problems.length > 0)
    throw new AppError('CONFIG_INVALID', `Invalid configuration: ${problems.join('; ')}`);
  const issuers = entries.map((entry) => entry.options);
  return {
    issuers,
    defaultIssuer:
      single.issuer !== '' ? single.issuer : issuers.length === 1 ? issuers[0]!.issuer : undefined,
  };
}

export const loadEnv = () => {
  const config = loadConfig(GATEWAY_CONFIG_KEYS, process.env, {
    AISPM_INSTANCE_ID: 'gateway-0',
    AISPM_OPS_PORT: '9100',
  });
  return { ...config, oidc: oidcSettings(config) };
};
export type GatewayConfig = ReturnType<typeof loadEnv>;
