/**
 * Owns every configuration key the platform reads: its name, type, default and meaning. A
 * service asks for the keys it needs; a bad or missing value fails start-up with a message that
 * names the variable. Nothing else in the code base reads `process.env` (services pass it in).
 */
import { AppError } from '@aispm/errors';

type Parser<T> = (raw: string) => T;

/** One configuration key: how to parse it, its default (absent means required), and its meaning. */
export interface KeySpec<T> {
  readonly parse: Parser<T>;
  readonly fallback?: string;
  readonly doc: string;
}

function key<T>(parse: Parser<T>, fallback: string | undefined, doc: string): KeySpec<T> {
  return fallback === undefined ? { parse, doc } : { parse, fallback, doc };
}

const text: Parser<string> = (raw) => raw;

function integer(min: number, max: number): Parser<number> {
  return (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`expected an integer, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) throw new Error(`expected ${min}..${max}, got ${value}`);
    return value;
  };
}

const port = integer(1, 65535);

const url: Parser<string> = (raw) => {
  const parsed = new URL(raw);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new Error(`expected http(s), got ${raw}`);
  return raw.replace(/\/+$/, '');
};

const brokerList: Parser<string[]> = (raw) => {
  const brokers = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  if (brokers.length === 0) throw new Error('expected at least one host:port');
  for (const broker of brokers) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(broker)) throw new Error(`expected host:port, got "${broker}"`);
  }
  return brokers;
};

const patternList: Parser<string[]> = (raw) => {
  const patterns = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  if (patterns.length === 0) throw new Error('expected at least one version pattern');
  return patterns;
};

/** One trusted issuer of workload-identity tokens, as `GATEWAY_OIDC_ISSUERS` lists it. */
export interface OidcIssuerEntry {
  readonly issuer: string;
  readonly audience: string;
  readonly jwks_url: string;
}

const ISSUER_FIELDS = ['issuer', 'audience', 'jwks_url'] as const;

/**
 * A JSON list of `{issuer, audience, jwks_url}`; empty text is no issuer. The entry and field of
 * each problem are named, so a typo (`jwksUrl`) stops start-up instead of leaving an issuer out.
 */
const oidcIssuerList: Parser<OidcIssuerEntry[]> = (raw) => {
  if (raw.trim() === '') return [];
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch (error) {
    throw new Error(`expected a JSON list: ${(error as Error).message}`);
  }
  if (!Array.isArray(list)) throw new Error('expected a JSON list of {issuer, audience, jwks_url}');
  return list.map((entry: unknown, index) => {
    const at = `entry ${index}`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry))
      throw new Error(`${at} is not an object of issuer, audience and jwks_url`);
    const unknown = Object.keys(entry).filter((name) => !(ISSUER_FIELDS as readonly string[]).includes(name));
    if (unknown.length > 0)
      throw new Error(`${at} has unknown fields ${unknown.join(', ')} (expected issuer, audience, jwks_url)`);
    for (const name of ISSUER_FIELDS) {
      const value = (entry as Record<string, unknown>)[name];
      if (typeof value !== 'string' || value.trim() === '')
        throw new Error(`${at} needs a non-empty ${name}`);
    }
    return entry as OidcIssuerEntry;
  });
};

function oneOf<const T extends string>(...values: T[]): Parser<T> {
  return (raw) => {
    if (!(values as string[]).includes(raw))
      throw new Error(`expected one of ${values.join(', ')}, got "${raw}"`);
    return raw as T;
  };
}

/** The whole configuration surface. docs/configuration.md lists the same keys (a test checks). */
export const CONFIG_KEYS = {
  AISPM_LOG_LEVEL: key(
    oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'),
    'info',
    'pino log level.',
  ),
  AISPM_INSTANCE_ID: key(
    (raw) => {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(raw)) throw new Error('expected 1-64 of [A-Za-z0-9_.-]');
      return raw;
    },
    undefined,
    'Id of this instance among its service, e.g. a StatefulSet ordinal: in its logs, metrics and Kafka client id. Defaults to `<service>-0`.',
  ),
  AISPM_GROUP_PREFIX: key(
    (raw) => {
      if (!/^[a-z0-9][a-z0-9.-]{0,40}$/.test(raw)) throw new Error('expected 1-41 of [a-z0-9.-]');
      return raw;
    },
    'aispm',
    'Prefix of consumer-group and transactional ids, so two pipelines can share one cluster.',
  ),
  AISPM_TENANT_PATTERN: key(
    (raw) => {
      try {
        return new RegExp(raw);
      } catch (error) {
        throw new Error(`expected a regular expression: ${(error as Error).message}`);
      }
    },
    '.*',
    'Regular expression of tenant slugs this worker serves, and whose pending deletions an API instance retries; run dedicated workers for some tenants (cells), or isolate test pipelines.',
  ),
  AISPM_OPS_PORT: key(
    integer(0, 65535),
    undefined,
    'Port of `/metrics`, `/healthz` and `/readyz` on every service (the gateway: 9100, redactor: 9101, normalizer: 9102, projector: 9103, API: 9104); 0 lets the system pick a free one.',
  ),
  AISPM_OPS_HOST: key(text, '127.0.0.1', 'Address the ops endpoints bind to.'),
  AISPM_SHUTDOWN_TIMEOUT_MS: key(
    integer(100, 600_000),
    '15000',
    'How long graceful shutdown may take before the process exits anyway.',
  ),
  AISPM_KMS_MASTER_KEY_FILE: key(
    text,
    '.data/kms/master.key',
    'Master key file of the local KMS (32 random bytes, base64, mode 0600); created on first start if absent. Tenant key-encryption keys live beside it in `<file>.tenants/` (destroyed by tenant delete). Every gateway and redactor needs the same file and key store.',
  ),
  AISPM_OPERATOR_KEY_FILE: key(
    text,
    '.data/operator.key',
    'Where `aispm bootstrap` stores the local operator key (mode 0600), and where the CLI looks for it.',
  ),
  AISPM_URL: key(
    url,
    'http://127.0.0.1:8080',
    'Ingest gateway base URL: where collectors, `aispm send`, `aispm collect` and `aispm demo` send events (`--url` on the commands that take it).',
  ),
  AISPM_API_URL: key(
    url,
    'http://127.0.0.1:8090',
    'API service base URL the CLI administers and reads through: the tenant, collector, reader, legal-hold and redaction commands (`--api-url` overrides it), and `aispm demo`.',
  ),
  AISPM_ADMIN_KEY: key(
    text,
    '',
    'Admin or operator API key for the CLI; when empty the CLI reads AISPM_OPERATOR_KEY_FILE.',
  ),
  AISPM_COLLECTOR_KEY: key(text, '', 'API key a collector sends events with (`aispm collector create`).'),
  AISPM_SIGNING_SECRET: key(
    text,
    '',
    "A collector's signing secret; when set, every request is signed with the v1 scheme.",
  ),
  AISPM_TENANT_REF: key(text, undefined, 'The tenant_ref a collector writes into every envelope.'),
  AISPM_ENVIRONMENT: key(
    oneOf('dev', 'test', 'staging', 'production', 'sandbox'),
    'dev',
    'The environment a collector writes into every envelope.',
  ),
  AISPM_CONNECTOR_ID: key(
    text,
    '',
    "A collector's connector id; defaults to `<connector type>@<host name>`.",
  ),
  AISPM_SPOOL_DIR: key(
    text,
    '',
    "Directory of a collector's on-disk spool; defaults to `~/.cache/aispm/spool`.",
  ),
  AISPM_SPOOL_MAX_EVENTS: key(
    integer(1, 10_000_000),
    '10000',
    'Most events a collector keeps spooled; past it the oldest are dropped (and logged).',
  ),
  AISPM_COLLECTOR_TIMEOUT_MS: key(
    integer(100, 600_000),
    '3000',
    'How long a collector command may spend sending before it leaves the rest spooled for the next run.',
  ),
  AISPM_TOPIC_PARTITIONS: key(
    integer(1, 1000),
    '1',
    "Partitions of each topic of a tenant created without `partitions` of its own (README: partitions, and raising a tenant's).",
  ),
  AISPM_TOPIC_REPLICATION: key(integer(1, 16), '1', 'Replication factor of topics created by the platform.'),
  AISPM_TOPIC_REFRESH_MS: key(
    integer(200, 3_600_000),
    '3000',
    'How long a stage gathers tenant creations and deletions from the control topic before it re-subscribes, so a burst of them costs one rebalance.',
  ),
  AISPM_STAGE_SHARDS: key(
    integer(1, 256),
    '6',
    "Shards of each stage's input partitions: each is owned by one instance at a time and has a transactional id of its own, so it bounds the instances of a stage that do work. Every instance of a stage must use the same value (a member with another cannot join its group).",
  ),
  AISPM_STAGE_FETCH_MIN_BYTES: key(
    integer(1, 64 * 1024 * 1024),
    String(128 * 1024),
    "A stage's fetch returns once this many bytes are waiting across its partitions…",
  ),
  AISPM_STAGE_FETCH_MAX_WAIT_MS: key(
    integer(0, 10_000),
    '100',
    '…or once it has waited this long. A fetch is one round (one transaction per shard), so under load this sets how much each transaction carries; idle, it is the most a record waits at each stage.',
  ),
  AISPM_SINK_BATCH_ROWS: key(
    integer(1, 1_000_000),
    '5000',
    'The projector writes to ClickHouse once it holds this many events, across partitions and tenants…',
  ),
  AISPM_SINK_FLUSH_MS: key(
    integer(10, 60_000),
    '250',
    '…or once the oldest event it holds has waited this long.',
  ),
  AISPM_RAW_RETENTION_MS: key(
    integer(-1, Number.MAX_SAFE_INTEGER),
    String(24 * 3600 * 1000),
    'Default retention of raw topics (unredacted data).',
  ),
  AISPM_STALL_MS: key(
    integer(1000, 3_600_000),
    '60000',
    'A stage whose oldest batch has not gone through for this long (failing and retried, or a produce that never ends) is stalled: unready, and reported as stalled for its tenants.',
  ),
  AISPM_TENANT_DELETION_RETRY_MS: key(
    integer(100, 3_600_000),
    '10000',
    'How often a gateway retries the steps of tenant deletions that have not finished (a crash, Kafka or ClickHouse away).',
  ),
  AISPM_CRASH_AFTER_DELETION_STEP: key(
    oneOf('', 'revoke_credentials', 'destroy_data_key', 'delete_topics', 'drop_rows'),
    '',
    'Fault tests only: the gateway kills itself (SIGKILL) right after this step of a tenant deletion. Empty in production.',
  ),
  AISPM_MAX_BODY_BYTES: key(
    integer(1024, 512 * 1024 * 1024),
    String(5 * 1024 * 1024),
    'Largest request body the gateway (and the API) reads, as sent (compressed or not).',
  ),
  AISPM_MAX_DECOMPRESSED_BYTES: key(
    integer(1024, 1024 * 1024 * 1024),
    String(16 * 1024 * 1024),
    'Largest body after gzip or zstd decompression; a bigger one is refused (413) before it is fully inflated.',
  ),
  AISPM_BATCH_MAX_ITEMS: key(integer(1, 100_000), '500', 'Most envelopes in one batch request.'),
  GATEWAY_MAX_FUTURE_SKEW_MS: key(
    integer(0, 24 * 3600 * 1000),
    '300000',
    'How far in the future an event’s occurred_at may be (collector clock skew).',
  ),
  GATEWAY_QUOTA_EVENTS_PER_SECOND: key(
    integer(1, 10_000_000),
    '2000',
    'Sustained events per second per tenant.',
  ),
  API_CONSOLE_SESSION_TTL_MS: key(
    integer(60_000, 86_400_000),
    '3600000',
    'How long a console session lasts from sign-in; then the reader signs in again with its key.',
  ),
  GATEWAY_MAX_INFLIGHT_REQUESTS: key(
    integer(1, 100_000),
    '64',
    'Ingest requests one gateway holds at once; more are answered 503 with Retry-After, which bounds memory.',
  ),
  GATEWAY_QUOTA_EVENT_BURST: key(
    integer(1, 100_000_000),
    '10000',
    'Events a tenant may send at once above its rate.',
  ),
  GATEWAY_QUOTA_BYTES_PER_SECOND: key(
    integer(1024, 10 * 1024 * 1024 * 1024),
    String(16 * 1024 * 1024),
    'Sustained decompressed bytes per second per tenant.',
  ),
  GATEWAY_QUOTA_BYTE_BURST: key(
    integer(1024, 100 * 1024 * 1024 * 1024),
    String(64 * 1024 * 1024),
    'Decompressed bytes a tenant may send at once above its rate.',
  ),
  GATEWAY_OIDC_ISSUER: key(
    text,
    '',
    'Issuer of workload-identity tokens (e.g. a CI provider), with the two keys below; it is the default issuer of collectors that name none. Empty, with GATEWAY_OIDC_ISSUERS empty too, turns OIDC off.',
  ),
  GATEWAY_OIDC_AUDIENCE: key(text, '', 'Audience a workload-identity token must carry.'),
  GATEWAY_OIDC_JWKS_URL: key(text, '', 'JWKS URL of the issuer (https, or http on loopback).'),
  GATEWAY_OIDC_ISSUERS: key(
    oidcIssuerList,
    '',
    'Several issuers of workload-identity tokens at once (GitHub Actions, GitLab, Azure Pipelines…): a JSON list of `{"issuer", "audience", "jwks_url"}`, each verified on its own; the three keys above, when set, add one more entry. A collector is bound to one issuer (`--oidc-issuer`).',
  ),
  GATEWAY_MTLS_PORT: key(
    integer(0, 65535),
    '0',
    'Port of the optional mTLS listener for collectors with client certificates; 0 turns it off.',
  ),
  GATEWAY_TLS_CERT_FILE: key(text, '', 'PEM server certificate of the mTLS listener.'),
  GATEWAY_TLS_KEY_FILE: key(text, '', 'PEM private key of the mTLS listener.'),
  GATEWAY_TLS_CLIENT_CA_FILE: key(text, '', 'PEM CA bundle that client certificates must chain to.'),
  GATEWAY_HOST: key(text, '127.0.0.1', 'Address the gateway binds to.'),
  API_HOST: key(text, '127.0.0.1', 'Address the API (readers, administration, console) binds to.'),
  API_PORT: key(port, '8090', 'Port of the API.'),
  GATEWAY_PORT: key(port, '8080', 'Port of the gateway.'),
  GATEWAY_PRODUCE_TIMEOUT_MS: key(
    integer(100, 120_000),
    '5000',
    'Longest the gateway waits for Kafka to acknowledge before answering 503; a late acknowledgement is harmless, retries collapse by idempotency key.',
  ),
  KAFKA_BROKERS: key(brokerList, '127.0.0.1:9092', 'Comma-separated Kafka bootstrap servers.'),
  KAFKA_REQUEST_TIMEOUT_MS: key(integer(100, 300_000), '10000', 'Kafka request timeout.'),
  SCHEMA_REGISTRY_URL: key(
    url,
    'http://127.0.0.1:8081/apis/ccompat/v7',
    'Confluent-compatible schema registry base URL.',
  ),
  CLICKHOUSE_URL: key(url, 'http://127.0.0.1:8123', 'ClickHouse HTTP endpoint.'),
  CLICKHOUSE_USER: key(text, 'default', 'ClickHouse user of the services.'),
  CLICKHOUSE_PASSWORD: key(text, '', 'Password of CLICKHOUSE_USER.'),
  CLICKHOUSE_DATABASE: key(text, 'aispm', 'Database of the live projections.'),
  AISPM_HEALTH_INTERVAL_MS: key(
    integer(200, 3_600_000),
    '15000',
    'How often every service measures lag and publishes health evidence to `aispm.health`.',
  ),
  AISPM_HEALTH_WINDOW_MS: key(
    integer(1000, 7 * 24 * 3600 * 1000),
    String(15 * 60 * 1000),
    'Window of the counts in `GET /enterprise/aispm/ingestion/health` (rejections, retries, dead letters); the gateway reads this much of `aispm.health` back when it starts.',
  ),
  CLICKHOUSE_USERS_DIR: key(
    text,
    '',
    "ClickHouse's users.d folder, where the projector writes tenant dashboard users; empty turns direct dashboard access off.",
  ),
  AISPM_RETENTION_INTERVAL_MS: key(
    integer(500, 7 * 24 * 3600 * 1000),
    String(3600 * 1000),
    'How often the projector applies tenant retention and deletion to ClickHouse.',
  ),
  API_STREAM_HEARTBEAT_MS: key(
    integer(100, 300_000),
    '15000',
    'How often the live stream sends a heartbeat comment, so proxies keep an idle connection open.',
  ),
  PROJECTOR_WATERMARK_INTERVAL_MS: key(
    integer(100, 3_600_000),
    '1000',
    'How often the projector recomputes the freshness watermark of tenants it has projected into and publishes it when it moved.',
  ),
  NORMALIZER_COLLECTOR_VERSIONS: key(
    patternList,
    'public-contract,0.*,1.*,aispm-collector/0.*,aispm-gateway',
    'Values of `source.collector_version` the normalizer understands (`*` matches any text); others are dead-lettered.',
  ),
  NORMALIZER_TRANSACTIONS: key(
    oneOf('on', 'off'),
    'on',
    'off only to measure what transactions cost (npm run bench:normalizer): at least once, a crash can duplicate records and fork the chain.',
  ),
} as const satisfies Record<string, KeySpec<unknown>>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
type ValueOf<K extends ConfigKey> = ReturnType<(typeof CONFIG_KEYS)[K]['parse']>;

/** The typed values of the requested keys. */
export type Config<K extends ConfigKey> = { readonly [P in K]: ValueOf<P> };

/**
 * Parses the requested keys from `env`, all at once, so one start-up names every bad variable.
 * `defaults` supplies service-specific defaults for keys that have none of their own.
 */
export function loadConfig<K extends ConfigKey>(
  keys: readonly K[],
  env: Readonly<Record<string, string | undefined>>,
  defaults: Partial<Record<K, string>> = {},
): Config<K> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of keys) {
    const spec: KeySpec<unknown> = CONFIG_KEYS[name];
    const raw = env[name] ?? defaults[name] ?? spec.fallback;
    if (raw === undefined) {
      problems.push(`${name} is required (${spec.doc})`);
      continue;
    }
    try {
      values[name] = spec.parse(raw);
    } catch (error) {
      problems.push(`${name} is invalid: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new AppError('CONFIG_INVALID', `Invalid configuration: ${problems.join('; ')}`);
  }
  return values as Config<K>;
}
