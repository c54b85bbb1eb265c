/**
 * Owns the `aispm` commands. Each command is a function of parsed arguments and configuration
 * that returns a result object; `main` prints it as text or, with `--json`, as JSON.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { generateSecret, hashSecret } from '@aispm/auth';
import { migrate, name, sql } from '@aispm/clickhouse';
import { verifyChain } from '@aispm/integrity';
import { OPERATOR_TENANT } from '@aispm/control';
import { SCHEMA_NAMES, assertTenantSlug } from '@aispm/contracts';
import { ensureTopics, sharedTopicConfigs, StageCodec, tenantTopicConfigs } from '@aispm/kafka';
import { callAdmin } from './admin-client';
import { demoCommand } from './demo';
import { replayCommand } from './replay';
import { COLLECT_COMMANDS } from './collect';
import { UsageError, type Command } from './command';
import { kafkaFor, startControlPlane, withClickHouse } from './connections';
import { list, optionalInteger, requirePositional, requireString } from './options';
import { REDACTION_COMMANDS } from './redaction-commands';
import { SEND_COMMANDS } from './send';
import { VERIFY_COMMANDS } from './verify';

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await prompt.question(`${question} [y/N] `)).trim().toLowerCase() === 'y';
  } finally {
    prompt.close();
  }
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  replay: replayCommand,
  migrate: {
    usage: 'aispm migrate [--database NAME]',
    summary: 'Apply pending ClickHouse migrations (default database: CLICKHOUSE_DATABASE).',
    async run(_positionals, options, config) {
      return withClickHouse(options, config, async (clickhouse, database) => ({
        database,
        applied: await migrate(clickhouse, database),
      }));
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
      const admin = kafkaFor(config).admin();
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
  bootstrap: {
    usage: 'aispm bootstrap',
    summary: 'Create the local operator key (once) in AISPM_OPERATOR_KEY_FILE, mode 0600.',
    async run(_positionals, _options, config) {
      const file = config.AISPM_OPERATOR_KEY_FILE;
      if (existsSync(file)) return { operator_key_file: file, created: false };
      const codec = new StageCodec(config.SCHEMA_REGISTRY_URL);
      await codec.register(SCHEMA_NAMES);
      const control = await startControlPlane(config, codec, 'bootstrap');
      try {
        const key = generateSecret('aispm_op');
        await control.publish({
          type: 'reader',
          reader_id: `operator_${hashSecret(key).slice(0, 12)}`,
          tenant: OPERATOR_TENANT,
          role: 'admin',
          key_sha256: hashSecret(key),
          revoked: false,
        });
        mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
        chmodSync(file, 0o600);
        return { operator_key_file: file, created: true };
      } finally {
        await control.stop();
      }
    },
  },
  'tenant create': {
    usage:
      'aispm tenant create <slug> --ref TENANT_REF [--retention-days N] [--raw-retention-hours N] [--max-event-age-days N] [--partitions N]',
    summary: 'Create a tenant and its topics.',
    async run(positionals, options, config) {
      const body: Record<string, unknown> = {
        slug: positionals[0] ?? '',
        tenant_ref: requireString(options, 'ref'),
      };
      if (!positionals[0]) throw new UsageError('<slug> is required');
      const retentionDays = optionalInteger(options, 'retention-days');
      const rawHours = optionalInteger(options, 'raw-retention-hours');
      if (retentionDays !== undefined) body.retention_days = retentionDays;
      if (rawHours !== undefined) body.raw_retention_hours = rawHours;
      const maxAgeDays = optionalInteger(options, 'max-event-age-days');
      if (maxAgeDays !== undefined) body.max_event_age_days = maxAgeDays;
      const partitions = optionalInteger(options, 'partitions');
      if (partitions !== undefined) body.partitions = partitions;
      return callAdmin(config, options, 'POST', '/tenants', body);
    },
  },
  'tenant list': {
    usage: 'aispm tenant list',
    summary: 'List the tenants this credential administers.',
    run: (_positionals, options, config) => callAdmin(config, options, 'GET', '/tenants'),
  },
  'tenant show': {
    usage: 'aispm tenant show <slug>',
    summary: 'Show a tenant: retention, legal hold, collectors, readers.',
    run: (positionals, options, config) =>
      callAdmin(config, options, 'GET', `/tenants/${requirePositional(positionals, 'slug')}`),
  },
  'tenant delete': {
    usage: 'aispm tenant delete <slug> [--yes]',
    summary:
      'Delete a tenant: its topics, its ClickHouse data and its raw-stage key (crypto-shred). Asks unless --yes.',
    async run(positionals, options, config) {
      const slug = requirePositional(positionals, 'slug');
      if (!options.yes && !(await confirm(`Delete tenant ${slug} and all of its data?`))) {
        throw new UsageError('not confirmed; pass --yes to delete without asking');
      }
      return callAdmin(config, options, 'DELETE', `/tenants/${slug}`);
    },
  },
  'collector create': {
    usage:
      'aispm collector create --tenant SLUG [--connector-type T]... [--connector-id ID]... [--repo GLOB]... [--env E]... [--event-type T]... [--require-signature] [--oidc-issuer URL] [--oidc-claim NAME=GLOB]... [--cert-sha256 HEX] [--expected-interval SECONDS]',
    summary: 'Create a collector; prints its API key (and signing secret) once.',
    run: (_positionals, options, config) =>
      callAdmin(config, options, 'POST', '/collectors', {
        tenant: requireString(options, 'tenant'),
        connector_types: list(options, 'connector-type'),
        connector_ids: list(options, 'connector-id'),
        repositories: list(options, 'repo'),
        environments: list(options, 'env'),
        event_types: list(options, 'event-type'),
        require_signature: options['require-signature'] === true,
        ...(typeof options['cert-sha256'] === 'string'
          ? { cert_sha256: options['cert-sha256'].toLowerCase() }
          : {}),
        ...(typeof options['expected-interval'] === 'string'
          ? { expected_interval_s: Number(options['expected-interval']) }
          : {}),
        ...(typeof options['oidc-issuer'] === 'string' ? { oidc_issuer: options['oidc-issuer'] } : {}),
        ...(list(options, 'oidc-claim').length > 0
          ? {
              oidc_claims: Object.fromEntries(
                list(options, 'oidc-claim').map((pair) => {
                  const eq = pair.indexOf('=');
                  if (eq < 1) throw new UsageError(`--oidc-claim wants name=glob, got ${pair}`);
                  return [pair.slice(0, eq), pair.slice(eq + 1)];
                }),
              ),
            }
          : {}),
      }),
  },
  'collector rotate': {
    usage: 'aispm collector rotate <collector_id>',
    summary: 'Issue a new key (and signing secret); the old ones stop working.',
    run: (positionals, options, config) =>
      callAdmin(
        config,
        options,
        'POST',
        `/collectors/${requirePositional(positionals, 'collector_id')}/rotate`,
      ),
  },
  'collector revoke': {
    usage: 'aispm collector revoke <collector_id>',
    summary: 'Revoke a collector; every gateway refuses its key within seconds.',
    run: (positionals, options, config) =>
      callAdmin(
        config,
        options,
        'POST',
        `/collectors/${requirePositional(positionals, 'collector_id')}/revoke`,
      ),
  },
  'reader create': {
    usage: 'aispm reader create --tenant SLUG --role viewer|auditor|admin',
    summary:
      'Create a reader; prints its API key, and for a tenant reader its dashboard ClickHouse user and password, once.',
    run: (_positionals, options, config) =>
      callAdmin(config, options, 'POST', '/readers', {
        tenant: requireString(options, 'tenant'),
        role: requireString(options, 'role'),
      }),
  },
  'reader revoke': {
    usage: 'aispm reader revoke <reader_id>',
    summary: 'Revoke a reader.',
    run: (positionals, options, config) =>
      callAdmin(config, options, 'POST', `/readers/${requirePositional(positionals, 'reader_id')}/revoke`),
  },
  'legal-hold set': {
    usage: 'aispm legal-hold set --tenant SLUG --reason "..."',
    summary: 'Stop topic retention and data expiry for a tenant.',
    run: (_positionals, options, config) =>
      callAdmin(
        config,
        options,
        'PUT',
        `/tenants/${encodeURIComponent(requireString(options, 'tenant'))}/legal-hold`,
        {
          reason: requireString(options, 'reason'),
        },
      ),
  },
  'legal-hold clear': {
    usage: 'aispm legal-hold clear --tenant SLUG --reason "..."',
    summary: "Restore the tenant's retention.",
    run: (_positionals, options, config) =>
      callAdmin(
        config,
        options,
        'DELETE',
        `/tenants/${encodeURIComponent(requireString(options, 'tenant'))}/legal-hold`,
        {
          reason: requireString(options, 'reason'),
        },
      ),
  },
  'audit verify': {
    usage: 'aispm audit verify [--database NAME]',
    summary: 'Walk the audit chain in ClickHouse; name the first broken link, or say where it holds.',
    async run(_positionals, options, config) {
      return withClickHouse(options, config, async (clickhouse, database) => {
        const rows = await clickhouse.query<{
          position: string;
          prev_hash: string;
          record_hash: string;
          record: string;
        }>(
          sql`SELECT position, prev_hash, record_hash, record FROM ${name(database)}.audit_log FINAL ORDER BY position`,
        );
        const verdict = verifyChain(
          rows.map((row) => ({
            position: String(row.position),
            prevHash: row.prev_hash,
            recordHash: row.record_hash,
            record: JSON.parse(row.record) as unknown,
          })),
        );
        if (!verdict.ok)
          throw new Error(`audit chain broken at position ${verdict.position}: ${verdict.reason}`);
        return {
          database,
          holds: true,
          from: verdict.from ?? null,
          to: verdict.to ?? null,
          links: verdict.links,
        };
      });
    },
  },
  ...COLLECT_COMMANDS,
  ...SEND_COMMANDS,
  ...VERIFY_COMMANDS,
  ...REDACTION_COMMANDS,
  demo: demoCommand,
};
