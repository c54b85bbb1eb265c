/**
 * Owns the reader endpoints of DESIGN §4: the posture document (`GET /enterprise/aispm/dashboard`),
 * one event (`GET /enterprise/aispm/events/{event_id}`), a session's trace replay
 * (`GET /enterprise/aispm/replay/{session_id}`) and the verification of the tenant's event hash
 * chain as stored (`GET /enterprise/aispm/verify`). Each read is scoped to the tenant of the reader's
 * credential, never to one named in the request, so another tenant's event or session does not
 * exist for the caller: 404, the same answer as an id nobody used, which leaks nothing.
 *
 * Roles (§5): viewer reads the dashboard and events; auditor also replays sessions and sees raw
 * payload references and replay positions, and each such access is written to the audit trail.
 * ClickHouse reads use FINAL, so every idempotency key counts once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ClickHouse } from '@aispm/clickhouse';
import { CAVRA_CONTRACTS_DIR } from '@aispm/contracts';
import type { AuditTrail, Principal } from '@aispm/control';
import { AppError } from '@aispm/errors';
import { pipelineOffsets, type KafkaAdmin } from '@aispm/kafka';
import { verifyEventChains } from '@aispm/normalization';
import {
  fromEventRow,
  postureDocument,
  traceReplay,
  type DecisionGroup,
  type DecisionRecord,
  type FreshnessTracker,
} from '@aispm/projection';
import { requireRole } from '@aispm/http';
import { readEventLog } from '../event-log';
import {
  chainQuery,
  DASHBOARD_LIMITS,
  dashboardQueries,
  eventLookupQuery,
  eventQuery,
  replayQuery,
  VERIFY_MAX_ROWS,
  type Filters,
} from '../read-queries';

export interface ReadDeps {
  readonly clickhouse: ClickHouse;
  readonly database: string;
  readonly kafkaAdmin: KafkaAdmin;
  readonly groupPrefix: string;
  readonly audit: AuditTrail;
  /** The instance's one freshness memory, shared with the health document. */
  readonly freshness: FreshnessTracker;
}

type Schema = { [key: string]: unknown };

/** `schema` with every object left open: its undeclared fields are sent, not dropped. */
function opened(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(opened);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, opened(value)]));
  return (copy as Schema).type === 'object' ? { additionalProperties: true, ...copy } : copy;
}

/**
 * The posture document's public contract as the dashboard's response schema. TRICKY: the
 * serializer drops what a schema does not declare, and the contract leaves objects open
 * (`control_plane` declares nothing), so every object is opened.
 */
function dashboardResponse(): Schema {
  const contract = JSON.parse(
    readFileSync(path.join(CAVRA_CONTRACTS_DIR, 'aispm-dashboard.schema.json'), 'utf8'),
  ) as Schema;
  const { $schema: _dialect, ...document } = opened(contract) as Schema;
  return { ...document, description: 'The cavra.aispm.dashboard.v1 posture document' };
}

const idParams = (name: string) => ({
  type: 'object',
  required: [name],
  properties: { [name]: { type: 'string', minLength: 1, maxLength: 256 } },
});

/** One event: its stored metadata, open, so every column is sent. */
const eventResponse = {
  description: 'The event',
  type: 'object',
  additionalProperties: true,
  properties: {
    event_id: { type: 'string' },
    occurred_ms: { type: 'integer' },
    received_ms: { type: 'integer' },
    ingested_ms: { type: 'integer' },
    redaction_counts: { type: 'object', additionalProperties: true, description: 'Findings by kind' },
    signature_verified: { type: 'boolean' },
    payload_ref: { type: ['string', 'null'], description: 'Auditors only' },
    source: {
      type: 'object',
      additionalProperties: true,
      description: 'Auditors only: topic, partition and offset of the redacted record',
    },
  },
} as const;

/** A session's decisions, oldest first (libs/projection `traceReplay`). */
const replayResponse = {
  description: 'The timeline',
  type: 'object',
  properties: {
    session_id: { type: 'string' },
    steps: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          step: { type: 'integer' },
          event_id: { type: 'string' },
          agent_id: { type: 'string' },
          decision: { type: 'string' },
          severity: { type: 'string' },
          risk_classification: { type: 'string' },
          control_surface: { type: 'string' },
          target_summary: { type: 'string' },
          evidence_refs: { type: 'array', items: { type: 'string' } },
          timestamp: { type: 'string', format: 'date-time' },
        },
      },
    },
    summary: {
      type: 'object',
      properties: {
        steps: { type: 'integer' },
        blocks: { type: 'integer' },
        approvals: { type: 'integer' },
        warnings: { type: 'integer' },
        critical_or_high: { type: 'integer' },
      },
    },
  },
} as const;

const verifyResponse = {
  description: 'A verdict per partition',
  type: 'object',
  properties: {
    tenant: { type: 'string' },
    checked_ms: { type: 'integer' },
    complete: { type: 'boolean', description: 'False: checked from the start up to a bound' },
    verdicts: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          partition: { type: 'integer' },
          ok: { type: 'boolean' },
          records: { type: 'integer' },
          unchained: { type: 'integer', description: 'Records from before the chain existed' },
          from: { type: ['string', 'null'] },
          to: { type: ['string', 'null'] },
          first_broken_offset: { type: 'string' },
          reason: { type: 'string' },
        },
      },
    },
  },
} as const;

function readerTenant(principal: Principal, role: 'viewer' | 'auditor'): string {
  if (principal.kind !== 'reader' || !principal.tenant) {
    throw new AppError('GW_FORBIDDEN', 'Reads need a reader credential of a tenant');
  }
  requireRole(principal, role, principal.tenant.slug);
  return principal.tenant.slug;
}

function toRecord(row: Record<string, unknown>): DecisionRecord {
  return { ...(row as unknown as DecisionRecord), occurred_ms: Number(row.occurred_ms) };
}

export function readRoutes(deps: ReadDeps): FastifyPluginAsync {
  const { clickhouse, freshness } = deps;

  /** Every stage's offsets for the tenant, in flow order (empty when its topics are gone). */
  async function stageOffsets(tenant: string) {
    return (await pipelineOffsets(deps.kafkaAdmin, deps.groupPrefix, [tenant])).get(tenant) ?? [];
  }

  async function dashboard(tenant: string, filters: Filters) {
    if (filters.since !== undefined && Number.isNaN(Date.parse(filters.since)))
      throw new AppError('GW_BAD_REQUEST', 'since must be an RFC 3339 date-time', {
        fields: [{ pointer: '/since', detail: 'not a date-time' }],
      });
    const q = dashboardQueries(deps.database, tenant, filters);
    // Freshness first: the watermark then bounds what the counts below already include.
    const observedMs = Date.now();
    const fresh = freshness.observe(tenant, await readEventLog(() => stageOffsets(tenant)), observedMs);
    const [groups, agents, sessions, risky, recent, refs] = await Promise.all([
      clickhouse.query<Record<string, unknown>>(q.groups),
      clickhouse.query<{ agent_id: string; session_count: number; last_seen_ms: string }>(q.agents),
      clickhouse.query<{ sessions: number }>(q.sessions),
      clickhouse.query<Record<string, unknown>>(q.risky),
      clickhouse.query<Record<string, unknown>>(q.recent),
      clickhouse.query<{ control_surface: string; refs: string[] }>(q.refs),
    ]);
    return postureDocument({
      groups: groups.map((g) => ({
        ...(g as unknown as DecisionGroup),
        count: Number(g.count),
        with_refs: Number(g.with_refs),
        signed: Number(g.signed),
      })),
      agents: agents.map((a) => ({
        ...a,
        session_count: Number(a.session_count),
        last_seen_ms: Number(a.last_seen_ms),
      })),
      totalSessions: Number(sessions[0]?.sessions ?? 0),
      recentRisky: risky.map(toRecord),
      recentDecisions: recent.map(toRecord),
      surfaceRefs: Object.fromEntries(refs.map((r) => [r.control_surface, [...r.refs].sort()])),
      controlPlane: {
        tenant,
        filters,
        freshness: fresh,
        limits: DASHBOARD_LIMITS,
        generated_at: new Date(observedMs).toISOString(),
      },
    });
  }

  function auditAccess(
    request: FastifyRequest,
    principal: Principal,
    tenant: string,
    action: string,
    detail: object,
  ) {
    return deps.audit.append(action, principal, tenant, { ...detail, request_id: request.id });
  }

  return async (app) => {
    const filterSchema = {
      type: 'object',
      additionalProperties: false,
      properties: {
        repository: { type: 'string', minLength: 1, maxLength: 512 },
        agent_id: { type: 'string', minLength: 1, maxLength: 512 },
        policy_pack: { type: 'string', minLength: 1, maxLength: 512 },
        since: { type: 'string', minLength: 1, maxLength: 64 },
      },
    };

    app.get<{ Querystring: Filters }>(
      '/dashboard',
      {
        schema: {
          summary:
            "The reader tenant's posture document, cavra.aispm.dashboard.v1 (viewer), with its freshness watermark.",
          querystring: filterSchema,
          response: { 200: dashboardResponse() },
        },
      },
      async (request) => {
        const tenant = readerTenant(request.principal, 'viewer');
        return dashboard(tenant, request.query);
      },
    );

    app.get<{ Params: { event_id: string } }>(
      '/events/:event_id',
      {
        schema: {
          summary:
            "One normalized, redacted event of the reader's tenant (viewer; payload_ref and source for auditors). Another tenant's id is 404.",
          params: idParams('event_id'),
          response: { 200: eventResponse },
        },
      },
      async (request) => {
        const principal = request.principal;
        const tenant = readerTenant(principal, 'viewer');
        const auditor = principal.kind === 'reader' && principal.reader.role !== 'viewer';
        const keys = await clickhouse.query<{
          session_id: string;
          occurred_ms: string;
          idempotency_key: string;
        }>(eventLookupQuery(deps.database, tenant, request.params.event_id));
        const key = keys[0];
        const rows = key
          ? await clickhouse.query<Record<string, unknown>>(
              eventQuery(deps.database, tenant, { ...key, occurred_ms: Number(key.occurred_ms) }),
            )
          : [];
        const row = rows[0];
        if (!row) throw new AppError('GW_NOT_FOUND', `No event ${request.params.event_id}`);
        const {
          payload_ref,
          source_topic,
          source_partition,
          source_offset,
          projected_ms: _p,
          ...metadata
        } = row;
        const event: Record<string, unknown> = {
          ...metadata,
          occurred_ms: Number(row.occurred_ms),
          received_ms: Number(row.received_ms),
          ingested_ms: Number(row.ingested_ms),
          redaction_counts: JSON.parse(String(row.redaction_counts)) as unknown,
          signature_verified: Number(row.signature_verified) === 1,
        };
        if (auditor) {
          event.payload_ref = payload_ref;
          event.source = { topic: source_topic, partition: source_partition, offset: String(source_offset) };
          if (payload_ref) {
            await auditAccess(request, principal, tenant, 'payload_ref.read', {
              event_id: request.params.event_id,
            });
          }
        }
        return event;
      },
    );

    app.get<{ Params: { session_id: string } }>(
      '/replay/:session_id',
      {
        schema: {
          summary: "A session's trace replay: its decisions oldest first (auditor).",
          params: idParams('session_id'),
          response: { 200: replayResponse },
        },
      },
      async (request) => {
        const principal = request.principal;
        const tenant = readerTenant(principal, 'auditor');
        const rows = await clickhouse.query<Record<string, unknown>>(
          replayQuery(deps.database, tenant, request.params.session_id),
        );
        if (rows.length === 0)
          throw new AppError('GW_NOT_FOUND', `No decisions in session ${request.params.session_id}`);
        await auditAccess(request, principal, tenant, 'session.replay', {
          session_id: request.params.session_id,
        });
        return traceReplay(request.params.session_id, rows.map(toRecord));
      },
    );

    app.get(
      '/verify',
      {
        schema: {
          summary:
            "Verify the tenant's event hash chain as stored in ClickHouse, partition by partition (auditor; audited).",
          response: { 200: verifyResponse },
        },
      },
      async (request) => {
        const principal = request.principal;
        const tenant = readerTenant(principal, 'auditor');
        const rows = await clickhouse.query<Parameters<typeof fromEventRow>[0]>(
          chainQuery(deps.database, tenant),
        );
        const complete = rows.length <= VERIFY_MAX_ROWS;
        const records = rows.slice(0, VERIFY_MAX_ROWS).map((row) => {
          const { event, position } = fromEventRow(row);
          return { ...position, event };
        });
        await auditAccess(request, principal, tenant, 'chain.verify', { rows: records.length });
        return {
          tenant,
          checked_ms: Date.now(),
          // Past VERIFY_MAX_ROWS the chain is checked from its start up to there.
          complete,
          verdicts: verifyEventChains(records).map((verdict) =>
            verdict.ok
              ? {
                  partition: verdict.partition,
                  ok: true,
                  records: verdict.links + verdict.unchained,
                  unchained: verdict.unchained,
                  from: verdict.from ?? null,
                  to: verdict.to ?? null,
                }
              : {
                  partition: verdict.partition,
                  ok: false,
                  first_broken_offset: verdict.offset,
                  reason: verdict.reason,
                },
          ),
        };
      },
    );
  };
}
