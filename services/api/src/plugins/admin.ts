/**
 * Owns the admin API under `/enterprise/aispm/admin`, which `npx aispm` drives: tenants,
 * collectors, readers and legal holds. Every change is a record on the control topic, the source
 * of truth every service follows; Kafka-side effects (topics, retention) happen here first, so a
 * tenant is usable the moment its record is visible. Keys and signing secrets are returned once
 * and stored only as hashes or sealed under the KMS. Every change is also appended to the audit
 * trail before it is answered. Creating and deleting a tenant are `TenantWorkflows` of
 * @aispm/control; the routes check the caller and shape the answer.
 */
import type { FastifyPluginAsync } from 'fastify';
import { generateSecret, hashSecret, type OidcIssuers } from '@aispm/auth';
import { TENANT_SLUG, type ControlCollector, type ControlReader, type ControlTenant } from '@aispm/contracts';
import {
  newId,
  OPERATOR_TENANT,
  TenantWorkflows,
  type AuditTrail,
  type ControlPlane,
  type Principal,
  type TenantDeletions,
} from '@aispm/control';
import { AppError } from '@aispm/errors';
import {
  ensureTopics,
  setTopicRetention,
  tenantTopicConfigs,
  tenantTopicRetention,
  type TopicPolicy,
  type KafkaAdmin,
} from '@aispm/kafka';
import type { Kms } from '@aispm/kms';
import { isOperator, requireOperator, requireRole } from '@aispm/http';

export interface AdminDeps {
  readonly control: ControlPlane;
  readonly audit: AuditTrail;
  readonly deletions: TenantDeletions;
  readonly kafkaAdmin: KafkaAdmin;
  readonly kms: Kms;
  readonly topics: Pick<TopicPolicy, 'partitions' | 'replicationFactor'>;
  /** The live ClickHouse database, which a tenant's dashboard users read under their row policy. */
  readonly database: string;
  /** The workload-identity issuers this gateway trusts; absent when OIDC is off. */
  readonly oidc: Pick<OidcIssuers, 'issuers' | 'defaultIssuer'> | undefined;
}

const HOUR_MS = 3600 * 1000;
const SLUG = TENANT_SLUG.source;
const stringList = {
  type: 'array',
  items: { type: 'string', minLength: 1, maxLength: 256 },
  maxItems: 100,
  default: [],
};

const slugParams = {
  type: 'object',
  required: ['slug'],
  properties: { slug: { type: 'string' } },
} as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } as const;

/** A tenant as the admin API shows it (`describeTenant`). */
const tenantSchema = {
  type: 'object',
  properties: {
    slug: { type: 'string' },
    tenant_ref: { type: 'string' },
    retention_days: { type: 'integer' },
    raw_retention_hours: { type: 'integer' },
    max_event_age_days: { type: ['integer', 'null'] },
    partitions: {
      type: ['integer', 'null'],
      description: "Null: the platform's AISPM_TOPIC_PARTITIONS when the tenant was created",
    },
    legal_hold: { type: ['object', 'null'], properties: { reason: { type: 'string' } } },
    collectors: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          collector_id: { type: 'string' },
          revoked: { type: 'boolean' },
          require_signature: { type: 'boolean' },
          expected_interval_s: { type: ['integer', 'null'] },
        },
      },
    },
    readers: {
      type: 'array',
      items: {
        type: 'object',
        properties: { reader_id: { type: 'string' }, role: { type: 'string' }, revoked: { type: 'boolean' } },
      },
    },
  },
} as const;

/** A collector's new credentials, shown once. */
const issuedCollectorSchema = {
  type: 'object',
  properties: {
    collector_id: { type: 'string' },
    tenant: { type: 'string' },
    api_key: { type: 'string' },
    signing_secret: { type: 'string' },
    oidc_issuer: { type: 'string' },
  },
} as const;

const deletionSchema = {
  type: 'object',
  properties: {
    slug: { type: 'string' },
    deleted: { type: 'boolean' },
    raw_key_destroyed: { type: 'boolean' },
    pending: { type: 'string', description: 'What is left to do; the deletion is retried until done' },
  },
} as const;

const revokedSchema = (id: string) =>
  ({
    type: 'object',
    properties: { [id]: { type: 'string' }, revoked: { type: 'boolean' } },
  }) as const;

/** The topic retention a tenant's settings and legal hold call for. */
export function tenantPolicy(
  tenant: ControlTenant,
  onHold: boolean,
  topics: AdminDeps['topics'],
): TopicPolicy {
  return {
    ...topics,
    partitions: tenant.partitions ?? topics.partitions,
    rawRetentionMs: onHold ? -1 : tenant.raw_retention_hours * HOUR_MS,
    retentionMs: onHold ? -1 : tenant.retention_days * 24 * HOUR_MS,
  };
}

/** A new ClickHouse user for a tenant reader's dashboards, named after the reader. */
function dashboardCredentials(reader: ControlReader, database: string) {
  return {
    user: reader.reader_id.replace(/^rdr_/, 'aispm_dash_'),
    password: generateSecret('aispm_ch'),
    database,
  };
}

/**
 * The issuer a new workload-identity collector is bound to: the one asked for, else the
 * gateways' default (their only issuer, or GATEWAY_OIDC_ISSUER; the API reads the same keys).
 * Without OIDC configured it cannot check or choose, so it stores what it was given (nothing: the
 * default of whichever gateway verifies the token); with OIDC it refuses an issuer the gateways
 * do not trust, which is a typo more often than not, and a missing one when they trust several.
 */
export function collectorIssuer(
  requested: string | undefined,
  hasClaims: boolean,
  oidc: AdminDeps['oidc'],
): string | undefined {
  if (!hasClaims) {
    if (requested !== undefined)
      throw new AppError('GW_BAD_REQUEST', 'oidc_issuer binds oidc_claims; give the claims too');
    return undefined;
  }
  if (!oidc) return requested;
  if (requested !== undefined && !oidc.issuers.includes(requested))
    throw new AppError(
      'GW_BAD_REQUEST',
      `The gateways do not trust the issuer ${requested}; they trust ${oidc.issuers.join(', ')}`,
    );
  const issuer = requested ?? oidc.defaultIssuer;
  if (issuer === undefined)
    throw new AppError(
      'GW_BAD_REQUEST',
      `The gateways trust several issuers (${oidc.issuers.join(', ')}); name the collector's with oidc_issuer`,
    );
  return issuer;
}

/** The incarnation a tenant's entities are bound to, for their records. */
function incarnationOf(tenant: ControlTenant): { incarnation?: string } {
  return tenant.incarnation ? { incarnation: tenant.incarnation } : {};
}

export function adminRoutes(deps: AdminDeps): FastifyPluginAsync {
  const { control } = deps;
  const state = control.state;
  const tenants = new TenantWorkflows({
    ...deps,
    createTopics: (tenant) =>
      ensureTopics(
        deps.kafkaAdmin,
        tenantTopicConfigs(tenant.slug, tenantPolicy(tenant, false, deps.topics)),
      ).then(() => undefined),
  });

  function liveTenant(slug: string): ControlTenant {
    const tenant = state.tenant(slug);
    if (!tenant) throw new AppError('GW_NOT_FOUND', `No tenant ${slug}`);
    return tenant;
  }

  function describeTenant(tenant: ControlTenant) {
    const hold = state.legalHolds.get(tenant.slug);
    return {
      slug: tenant.slug,
      tenant_ref: tenant.tenant_ref,
      retention_days: tenant.retention_days,
      raw_retention_hours: tenant.raw_retention_hours,
      max_event_age_days: tenant.max_event_age_days ?? null,
      // Absent: the platform's AISPM_TOPIC_PARTITIONS when the tenant was created.
      partitions: tenant.partitions ?? null,
      legal_hold: hold?.active ? { reason: hold.reason } : null,
      collectors: state.collectorsOf(tenant).map((c) => ({
        collector_id: c.collector_id,
        revoked: c.revoked,
        require_signature: c.require_signature,
        expected_interval_s: c.expected_interval_s ?? null,
      })),
      readers: state
        .readersOf(tenant)
        .map((r) => ({ reader_id: r.reader_id, role: r.role, revoked: r.revoked })),
    };
  }

  async function issueCollectorSecrets(
    collector: Omit<ControlCollector, 'key_sha256' | 'sealed_signing_secret'>,
  ) {
    const apiKey = generateSecret('aispm_ck');
    const signingSecret = collector.require_signature ? generateSecret('aispm_ss') : undefined;
    const record: ControlCollector = { ...collector, key_sha256: hashSecret(apiKey) };
    if (signingSecret) {
      record.sealed_signing_secret = await deps.kms.seal(
        Buffer.from(signingSecret),
        `collector:${collector.collector_id}:signing`,
      );
    }
    await control.publish(record);
    return {
      collector_id: collector.collector_id,
      tenant: collector.tenant,
      api_key: apiKey,
      ...(signingSecret ? { signing_secret: signingSecret } : {}),
      ...(collector.oidc_issuer ? { oidc_issuer: collector.oidc_issuer } : {}),
    };
  }

  function existingCollector(principal: Principal, id: string): ControlCollector {
    const found = state.collectors.get(id);
    // A collector of a deleted tenant, or of an earlier incarnation of its slug, is gone.
    const collector = found && state.tenantOf(found) ? found : undefined;
    if (!collector) {
      if (!isOperator(principal)) throw new AppError('GW_FORBIDDEN', `No access to collector ${id}`);
      throw new AppError('GW_NOT_FOUND', `No collector ${id}`);
    }
    requireRole(principal, 'admin', collector.tenant);
    return collector;
  }

  return async (app) => {
    app.addHook('onRequest', async () => {
      if (!control.caughtUp())
        throw new AppError('GW_CONTROL_PLANE_NOT_READY', 'The control plane is still loading');
    });

    app.post<{
      Body: {
        slug: string;
        tenant_ref: string;
        retention_days: number;
        raw_retention_hours: number;
        max_event_age_days?: number;
        partitions?: number;
      };
    }>(
      '/tenants',
      {
        schema: {
          summary: 'Create a tenant and its topics (operators).',
          response: { 201: { description: 'Created', ...tenantSchema } },
          body: {
            type: 'object',
            required: ['slug', 'tenant_ref'],
            additionalProperties: false,
            properties: {
              slug: { type: 'string', pattern: SLUG },
              tenant_ref: { type: 'string', minLength: 1, maxLength: 256 },
              retention_days: { type: 'integer', minimum: 1, maximum: 36500, default: 365 },
              raw_retention_hours: { type: 'integer', minimum: 1, maximum: 8760, default: 24 },
              max_event_age_days: { type: 'integer', minimum: 1, maximum: 36500 },
              partitions: { type: 'integer', minimum: 1, maximum: 1000 },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal;
        requireOperator(principal);
        const tenant = await tenants.create(principal, request.body);
        request.log.info({ tenant: tenant.slug }, 'tenant created');
        return reply.code(201).send(describeTenant(tenant));
      },
    );

    app.get(
      '/tenants',
      {
        schema: {
          summary: 'List the tenants this credential administers.',
          response: {
            200: {
              description: 'The tenants',
              type: 'object',
              properties: { tenants: { type: 'array', items: tenantSchema } },
            },
          },
        },
      },
      async (request) => {
        const principal = request.principal;
        const visible = state.liveTenants().filter((tenant) => {
          if (isOperator(principal)) return true;
          return (
            principal.kind === 'reader' &&
            principal.reader.role === 'admin' &&
            principal.tenant?.slug === tenant.slug
          );
        });
        return { tenants: visible.map(describeTenant) };
      },
    );

    app.get<{ Params: { slug: string } }>(
      '/tenants/:slug',
      {
        schema: {
          summary: 'Show a tenant.',
          params: slugParams,
          response: { 200: { description: 'The tenant', ...tenantSchema } },
        },
      },
      async (request) => {
        requireRole(request.principal, 'admin', request.params.slug);
        return describeTenant(liveTenant(request.params.slug));
      },
    );

    app.delete<{ Params: { slug: string } }>(
      '/tenants/:slug',
      {
        schema: {
          summary: 'Delete a tenant and its data (operators).',
          params: slugParams,
          response: {
            200: { description: 'Deleted, its data key destroyed', ...deletionSchema },
            202: { description: 'Deletion requested; the rest is retried until done', ...deletionSchema },
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal;
        requireOperator(principal);
        const slug = request.params.slug;
        const outcome = await tenants.delete(principal, slug);
        if (!outcome.done) {
          request.log.error(
            { tenant: slug, pending: outcome.pending },
            'tenant deletion not finished; it is retried',
          );
          return reply.code(202).send({
            slug,
            deleted: true,
            raw_key_destroyed: false,
            pending: `${outcome.pending}; every API instance retries until it is done`,
          });
        }
        request.log.warn({ tenant: slug }, 'tenant deleted');
        return { slug, deleted: true, raw_key_destroyed: true };
      },
    );

    app.post<{
      Body: {
        tenant: string;
        connector_types: string[];
        connector_ids: string[];
        repositories: string[];
        environments: string[];
        event_types: string[];
        require_signature: boolean;
        oidc_claims?: Record<string, string>;
        oidc_issuer?: string;
        cert_sha256?: string;
        expected_interval_s?: number;
      };
    }>(
      '/collectors',
      {
        schema: {
          summary: 'Create a collector; its key is returned once.',
          response: { 201: { description: 'Created', ...issuedCollectorSchema } },
          body: {
            type: 'object',
            required: ['tenant'],
            additionalProperties: false,
            properties: {
              tenant: { type: 'string', pattern: SLUG },
              connector_types: stringList,
              connector_ids: stringList,
              repositories: stringList,
              environments: stringList,
              event_types: stringList,
              require_signature: { type: 'boolean', default: false },
              cert_sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
              expected_interval_s: { type: 'integer', minimum: 1, maximum: 31_536_000 },
              oidc_claims: {
                type: 'object',
                // No claims would be every workload of the issuer (for GitHub, every repository).
                minProperties: 1,
                maxProperties: 20,
                additionalProperties: { type: 'string', minLength: 1, maxLength: 256 },
              },
              oidc_issuer: { type: 'string', minLength: 1, maxLength: 256 },
            },
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const principal = request.principal;
        requireRole(principal, 'admin', body.tenant);
        const oidcIssuer = collectorIssuer(body.oidc_issuer, body.oidc_claims !== undefined, deps.oidc);
        const issued = await issueCollectorSecrets({
          type: 'collector',
          collector_id: newId('col'),
          tenant: body.tenant,
          ...incarnationOf(liveTenant(body.tenant)),
          require_signature: body.require_signature,
          scopes: {
            connector_types: body.connector_types,
            connector_ids: body.connector_ids,
            repositories: body.repositories,
            environments: body.environments,
            event_types: body.event_types,
          },
          ...(body.oidc_claims ? { oidc_claims: body.oidc_claims } : {}),
          ...(oidcIssuer ? { oidc_issuer: oidcIssuer } : {}),
          ...(body.cert_sha256 ? { cert_sha256: body.cert_sha256 } : {}),
          ...(body.expected_interval_s ? { expected_interval_s: body.expected_interval_s } : {}),
          created_ms: Date.now(),
          revoked: false,
        });
        await deps.audit.append('collector.create', principal, body.tenant, {
          collector_id: issued.collector_id,
          require_signature: body.require_signature,
          ...(oidcIssuer ? { oidc_issuer: oidcIssuer } : {}),
        });
        request.log.info({ tenant: body.tenant, collector_id: issued.collector_id }, 'collector created');
        return reply.code(201).send(issued);
      },
    );

    app.post<{ Params: { id: string } }>(
      '/collectors/:id/rotate',
      {
        schema: {
          summary: 'Rotate a collector key.',
          params: idParams,
          response: { 200: { description: 'The new credentials', ...issuedCollectorSchema } },
        },
      },
      async (request) => {
        const principal = request.principal;
        const collector = existingCollector(principal, request.params.id);
        if (collector.revoked)
          throw new AppError('GW_CONFLICT', `Collector ${collector.collector_id} is revoked`);
        const { key_sha256: _old, sealed_signing_secret: _oldSecret, ...rest } = collector;
        const issued = await issueCollectorSecrets(rest);
        await deps.audit.append('collector.rotate', principal, collector.tenant, {
          collector_id: collector.collector_id,
        });
        return issued;
      },
    );

    app.post<{ Params: { id: string } }>(
      '/collectors/:id/revoke',
      {
        schema: {
          summary: 'Revoke a collector.',
          params: idParams,
          response: { 200: { description: 'Revoked', ...revokedSchema('collector_id') } },
        },
      },
      async (request) => {
        const principal = request.principal;
        const collector = existingCollector(principal, request.params.id);
        await control.publish({ ...collector, revoked: true });
        await deps.audit.append('collector.revoke', principal, collector.tenant, {
          collector_id: collector.collector_id,
        });
        request.log.warn(
          { tenant: collector.tenant, collector_id: collector.collector_id },
          'collector revoked',
        );
        return { collector_id: collector.collector_id, revoked: true };
      },
    );

    app.post<{ Body: { tenant: string; role: ControlReader['role'] } }>(
      '/readers',
      {
        schema: {
          summary: 'Create a reader; its key is returned once.',
          response: {
            201: {
              description: "Created; a tenant's reader also gets its dashboards' ClickHouse user",
              type: 'object',
              properties: {
                reader_id: { type: 'string' },
                tenant: { type: 'string' },
                role: { type: 'string' },
                api_key: { type: 'string' },
                clickhouse: {
                  type: 'object',
                  properties: {
                    user: { type: 'string' },
                    password: { type: 'string' },
                    database: { type: 'string' },
                  },
                },
              },
            },
          },
          body: {
            type: 'object',
            required: ['tenant', 'role'],
            additionalProperties: false,
            properties: {
              tenant: { type: 'string', anyOf: [{ pattern: SLUG }, { const: OPERATOR_TENANT }] },
              role: { enum: ['viewer', 'auditor', 'admin'] },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal;
        const { tenant, role } = request.body;
        if (tenant === OPERATOR_TENANT) requireOperator(principal);
        else requireRole(principal, 'admin', tenant);
        const apiKey = generateSecret('aispm_rk');
        const reader: ControlReader = {
          type: 'reader',
          reader_id: newId('rdr'),
          tenant,
          ...(tenant === OPERATOR_TENANT ? {} : incarnationOf(liveTenant(tenant))),
          role,
          key_sha256: hashSecret(apiKey),
          revoked: false,
        };
        // A tenant's reader also gets a ClickHouse user for dashboards, provisioned by the
        // projector from this record; the control topic keeps only the password's hash.
        const dashboard =
          tenant === OPERATOR_TENANT ? undefined : dashboardCredentials(reader, deps.database);
        if (dashboard) {
          reader.clickhouse_user = dashboard.user;
          reader.clickhouse_password_sha256 = hashSecret(dashboard.password);
        }
        await control.publish(reader);
        await deps.audit.append('reader.create', principal, tenant === OPERATOR_TENANT ? '' : tenant, {
          reader_id: reader.reader_id,
          role,
        });
        request.log.info({ tenant, reader_id: reader.reader_id, role }, 'reader created');
        return reply.code(201).send({
          reader_id: reader.reader_id,
          tenant,
          role,
          api_key: apiKey,
          ...(dashboard ? { clickhouse: dashboard } : {}),
        });
      },
    );

    app.post<{ Params: { id: string } }>(
      '/readers/:id/revoke',
      {
        schema: {
          summary: 'Revoke a reader.',
          params: idParams,
          response: { 200: { description: 'Revoked', ...revokedSchema('reader_id') } },
        },
      },
      async (request) => {
        const principal = request.principal;
        const found = state.readers.get(request.params.id);
        const reader =
          found && (found.tenant === OPERATOR_TENANT || state.tenantOf(found)) ? found : undefined;
        if (!reader)
          throw new AppError(
            isOperator(principal) ? 'GW_NOT_FOUND' : 'GW_FORBIDDEN',
            `No reader ${request.params.id}`,
          );
        if (reader.tenant === OPERATOR_TENANT) requireOperator(principal);
        else requireRole(principal, 'admin', reader.tenant);
        await control.publish({ ...reader, revoked: true });
        await deps.audit.append(
          'reader.revoke',
          principal,
          reader.tenant === OPERATOR_TENANT ? '' : reader.tenant,
          {
            reader_id: reader.reader_id,
          },
        );
        return { reader_id: reader.reader_id, revoked: true };
      },
    );

    const holdSchema = (summary: string) => ({
      schema: {
        summary,
        params: slugParams,
        body: {
          type: 'object',
          required: ['reason'],
          additionalProperties: false,
          properties: { reason: { type: 'string', minLength: 1, maxLength: 1000 } },
        },
        response: { 200: { description: 'The tenant', ...tenantSchema } },
      },
    });

    app.put<{ Params: { slug: string }; Body: { reason: string } }>(
      '/tenants/:slug/legal-hold',
      holdSchema('Set a legal hold.'),
      async (request) => {
        const principal = request.principal;
        requireRole(principal, 'admin', request.params.slug);
        const tenant = liveTenant(request.params.slug);
        // Stop topic retention before the hold is visible, so nothing expires in between.
        await setTopicRetention(
          deps.kafkaAdmin,
          tenantTopicRetention(tenant.slug, tenantPolicy(tenant, true, deps.topics)),
        );
        await control.publish({
          type: 'legal_hold',
          tenant: tenant.slug,
          active: true,
          reason: request.body.reason,
        });
        await deps.audit.append('legal_hold.set', principal, tenant.slug, { reason: request.body.reason });
        request.log.warn({ tenant: tenant.slug }, 'legal hold set');
        return describeTenant(tenant);
      },
    );

    app.delete<{ Params: { slug: string }; Body: { reason: string } }>(
      '/tenants/:slug/legal-hold',
      holdSchema('Clear a legal hold.'),
      async (request) => {
        const principal = request.principal;
        requireRole(principal, 'admin', request.params.slug);
        const tenant = liveTenant(request.params.slug);
        await control.publish({
          type: 'legal_hold',
          tenant: tenant.slug,
          active: false,
          reason: request.body.reason,
        });
        await setTopicRetention(
          deps.kafkaAdmin,
          tenantTopicRetention(tenant.slug, tenantPolicy(tenant, false, deps.topics)),
        );
        await deps.audit.append('legal_hold.clear', principal, tenant.slug, { reason: request.body.reason });
        request.log.warn({ tenant: tenant.slug }, 'legal hold cleared');
        return describeTenant(tenant);
      },
    );
  };
}
