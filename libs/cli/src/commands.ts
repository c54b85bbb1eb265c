/**
 * Owns the `aispm` commands. Each command is a function of parsed arguments and configuration
 * that returns a result object; `main` prints it as text or, with `--json`, as JSON.
 */
import { ClickHouse, migrate } from '@aispm/clickhouse';
import { SCHEMA_NAMES, assertTenantSlug } from '@aispm/contracts';
import { createKafka, ensureTopics, sharedTopicConfigs, StageCodec, tenantTopicConfigs } from '@aispm/kafka';
import { createLogger } from '@aispm/observability';
import type { CliConfig } from './env';

/** Parsed command-line options: repeated flags collect into arrays. */
export type Options = Record<string, string | boolean | string[] | undefined>;

/** One CLI command. */
export interface Command {
  readonly usage: string;
  readonly summary: string;
  run(positionals: readonly string[], options: Options, config: CliConfig): Promise<Record<string, unknown>>;
}

/** A mistake in how the command was called; printed with the usage, exit code 2. */
export class UsageError extends Error {}

export const COMMANDS: Readonly<Record<string, Command>> = {
  migrate: {
    usage: 'aispm migrate [--database NAME]',
    summary: 'Apply pending ClickHouse migrations (default database: CLICKHOUSE_DATABASE).',
    async run(_positionals, options, config) {
      const database = typeof options.database === 'string' ? options.database : config.CLICKHOUSE_DATABASE;
      const clickhouse = new ClickHouse({
        url: config.CLICKHOUSE_URL,
        username: config.CLICKHOUSE_USER,
        password: config.CLICKHOUSE_PASSWORD,
      });
      try {
        return { database, applied: await migrate(clickhouse, database) };
      } finally {
        await clickhouse.close();
      }
    },
  },
  'topics ensure': {
    usage: 'aispm topics ensure [--tenant SLUG]',
    summary: 'Create the shared topics and, with --tenant, that tenant’s topics, if missing.',
    async run(_positionals, options, config) {
      const tenant = typeof options.tenant === 'string' ? assertTenantSlug(options.tenant) : undefined;
      const policy = {
        partitions: config.AISPM_TOPIC_PARTITIONS,
        replicationFactor: config.AISPM_TOPIC_REPLICATION,
        rawRetentionMs: config.AISPM_RAW_RETENTION_MS,
      };
      const kafka = createKafka(
        {
          brokers: config.KAFKA_BROKERS,
          clientId: 'aispm-cli',
          requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
        },
        createLogger('cli', 'cli', config.AISPM_LOG_LEVEL),
      );
      const admin = kafka.admin();
      await admin.connect();
      try {
        const wanted = [...sharedTopicConfigs(policy), ...(tenant ? tenantTopicConfigs(tenant, policy) : [])];
        return { created: await ensureTopics(admin, wanted), checked: wanted.map((t) => t.topic) };
      } finally {
        await admin.disconnect();
      }
    },
  },
  'schemas register': {
    usage: 'aispm schemas register',
    summary: 'Register every schema in schemas/ with the schema registry (idempotent).',
    async run(_positionals, _options, config) {
      const codec = new StageCodec(config.SCHEMA_REGISTRY_URL);
      await codec.register(SCHEMA_NAMES);
      return { schemas: Object.fromEntries(SCHEMA_NAMES.map((name) => [name, codec.schemaId(name)])) };
    },
  },
};
