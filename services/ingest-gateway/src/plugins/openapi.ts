/**
 * Owns the gateway's OpenAPI 3.1 document, served at `GET /openapi.json`. It is built from the
 * same sources the gateway runs on: the envelope schema from `schemas/` and the error codes from
 * `libs/errors`, so the document cannot drift from them. A test checks every route is in it.
 */
import type { FastifyPluginAsync } from 'fastify';
import { loadSchema } from '@aispm/contracts';
import { ERROR_CODES } from '@aispm/errors';

const problem = {
  type: 'object',
  description: 'RFC 9457 problem details; `code` is stable (docs/errors.md).',
  required: ['type', 'title', 'status', 'code', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { enum: Object.keys(ERROR_CODES) },
    detail: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { pointer: { type: 'string' }, detail: { type: 'string' } } },
    },
  },
};

const problemResponses = Object.fromEntries(
  [...new Set(Object.values(ERROR_CODES).map((spec) => spec.status))].sort().map((status) => [
    String(status),
    {
      description: Object.entries(ERROR_CODES)
        .filter(([, spec]) => spec.status === status)
        .map(([code]) => code)
        .join(', '),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    },
  ]),
);

const bearer = [{ apiKey: [] }];
const receipt = { $ref: '#/components/schemas/Receipt' };
const json = (schema: object) => ({ content: { 'application/json': { schema } } });

/** The OpenAPI document. */
export function openApiDocument(): Record<string, unknown> {
  const { $schema: _dialect, ...envelope } = loadSchema('envelope.v1');
  const adminOp = (summary: string, status = '200') => ({
    summary,
    security: bearer,
    responses: { [status]: { description: 'Done' }, ...problemResponses },
  });
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'aispm-ingest gateway',
      version: '0.1.0',
      description:
        'A 2xx on an ingest route means every accepted item is in Kafka, acknowledged with acks=all.',
    },
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Envelope: envelope,
        Problem: problem,
        Receipt: {
          type: 'object',
          required: ['index', 'outcome'],
          properties: {
            index: { type: 'integer' },
            outcome: { enum: ['accepted', 'duplicate', 'rejected'] },
            event_id: { type: ['string', 'null'] },
            idempotency_key: { type: ['string', 'null'] },
            topic: { type: 'string' },
            partition: { type: 'integer' },
            offset: { type: 'string' },
            code: { type: 'string' },
            reason: { type: 'string' },
          },
        },
      },
    },
    paths: {
      '/enterprise/aispm/events': {
        post: {
          summary:
            'Ingest one envelope (gzip or zstd allowed; signed with X-Aispm-Timestamp and X-Aispm-Signature when required).',
          security: bearer,
          requestBody: { required: true, ...json({ $ref: '#/components/schemas/Envelope' }) },
          responses: {
            '202': { description: 'Accepted: in Kafka', ...json(receipt) },
            '200': { description: 'Duplicate of an accepted event', ...json(receipt) },
            ...problemResponses,
          },
        },
      },
      '/enterprise/aispm/events/batch': {
        post: {
          summary: 'Ingest a JSON array or NDJSON of envelopes, with a receipt per item.',
          security: bearer,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { type: 'array', items: { $ref: '#/components/schemas/Envelope' } },
              },
              'application/x-ndjson': { schema: { type: 'string' } },
            },
          },
          responses: {
            '202': { description: 'No item refused', ...json({ type: 'object' }) },
            '207': { description: 'Some items refused; see each receipt', ...json({ type: 'object' }) },
            ...problemResponses,
          },
        },
      },
      '/v1/logs': {
        post: {
          summary:
            'OTLP/HTTP logs (JSON or protobuf): Claude Code, Gemini CLI and Codex telemetry events become envelopes of the collector.',
          security: bearer,
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { type: 'object' } },
              'application/x-protobuf': { schema: { type: 'string', format: 'binary' } },
            },
          },
          responses: {
            '200': { description: 'ExportLogsServiceResponse; partialSuccess counts refused records' },
            ...problemResponses,
          },
        },
      },
      '/enterprise/aispm/webhooks/github/{collector_id}': {
        post: {
          summary:
            "GitHub workflow_job webhook, signed with X-Hub-Signature-256 under the collector's signing secret.",
          requestBody: { required: true, ...json({ type: 'object' }) },
          responses: {
            '202': { description: 'In Kafka, or an ignored event', ...json({ type: 'object' }) },
            ...problemResponses,
          },
        },
      },
      '/enterprise/aispm/hooks/claude-code': {
        post: {
          summary:
            "A Claude Code `http` hook: the hook's JSON, mapped as `aispm collect claude-code` maps it, with the collector key in Authorization (no signature).",
          security: bearer,
          parameters: [
            {
              name: 'repository',
              in: 'query',
              required: false,
              description: "owner/name of the agent's checkout",
              schema: { type: 'string' },
            },
            {
              name: 'environment',
              in: 'query',
              required: false,
              description: "Else the collector's only environment scope, else dev",
              schema: { enum: ['dev', 'test', 'staging', 'production', 'sandbox'] },
            },
          ],
          requestBody: { required: true, ...json({ type: 'object' }) },
          responses: {
            '204': {
              description:
                'In Kafka (or nothing to store for this hook); the empty 2xx lets Claude Code go on. Any other status is a non-blocking error to Claude Code.',
            },
            ...problemResponses,
          },
        },
      },
      '/enterprise/aispm/stream': {
        get: {
          summary:
            "The tenant's posture deltas as Server-Sent Events (reader credentials, viewer and up). Each event's id is a cursor; send it back as Last-Event-ID to resume with nothing skipped or repeated. Heartbeat comments keep the connection open.",
          security: bearer,
          parameters: [{ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'An event stream; each data line is a posture-delta.v1 document',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            ...problemResponses,
          },
        },
      },
      '/enterprise/aispm/dashboard': {
        get: {
          summary:
            "The reader tenant's posture document, cavra.aispm.dashboard.v1 (viewer), with its freshness watermark.",
          security: bearer,
          parameters: ['repository', 'agent_id', 'policy_pack', 'since'].map((name) => ({
            name,
            in: 'query',
            required: false,
            schema: { type: 'string' },
          })),
          responses: {
            '200': { description: 'The document', ...json({ type: 'object' }) },
            ...problemResponses,
          },
        },
      },
      '/enterprise/aispm/events/{event_id}': {
        get: {
          summary:
            "One normalized, redacted event of the reader's tenant (viewer; payload_ref and source for auditors). Another tenant's id is 404.",
          security: bearer,
          responses: {
            '200': { description: 'The event', ...json({ type: 'object' }) },
            ...problemResponses,
          },
        },
      },
      '/enterprise/aispm/replay/{session_id}': {
        get: {
          summary: "A session's trace replay: its decisions oldest first (auditor).",
          security: bearer,
          responses: {
            '200': { description: 'The timeline', ...json({ type: 'object' }) },
            ...problemResponses,
          },
        },
      },
      '/enterprise/aispm/verify': {
        get: {
          summary:
            "Verify the tenant's event hash chain as stored in ClickHouse, partition by partition (auditor; audited).",
          security: bearer,
          responses: {
            '200': { description: 'A verdict per partition', ...json({ type: 'object' }) },
            ...problemResponses,
          },
        },
      },
      '/enterprise/aispm/admin/tenants': {
        get: adminOp('List the tenants this credential administers.'),
        post: adminOp('Create a tenant and its topics (operators).', '201'),
      },
      '/enterprise/aispm/admin/tenants/{slug}': {
        get: adminOp('Show a tenant.'),
        delete: adminOp('Delete a tenant and its data (operators).'),
      },
      '/enterprise/aispm/admin/tenants/{slug}/legal-hold': {
        put: adminOp('Set a legal hold.'),
        delete: adminOp('Clear a legal hold.'),
      },
      '/enterprise/aispm/admin/tenants/{slug}/redaction': {
        get: adminOp("Show the tenant's redaction profile (never its token key)."),
        put: adminOp("Replace the tenant's redaction profile: actions, custom patterns, denied fields."),
      },
      '/enterprise/aispm/admin/tenants/{slug}/redaction/dry-run': {
        post: adminOp('Show what the saved profile, or a draft, does to a sample envelope; stores nothing.'),
      },
      '/enterprise/aispm/admin/collectors': {
        post: adminOp('Create a collector; its key is returned once.', '201'),
      },
      '/enterprise/aispm/admin/collectors/{id}/rotate': { post: adminOp('Rotate a collector key.') },
      '/enterprise/aispm/admin/collectors/{id}/revoke': { post: adminOp('Revoke a collector.') },
      '/enterprise/aispm/admin/readers': {
        post: adminOp('Create a reader; its key is returned once.', '201'),
      },
      '/enterprise/aispm/admin/readers/{id}/revoke': { post: adminOp('Revoke a reader.') },
      '/enterprise/aispm/ingestion/health': {
        get: adminOp(
          "The tenant's ingestion health: lag per stage, rejections, retries, DLQ depth, storage status, freshness watermark, stale collectors (readers of the tenant; operators add ?tenant=).",
        ),
      },
      '/enterprise/aispm/replay-log': {
        get: {
          summary:
            "Replay a stage of the caller's tenant from the topic log as NDJSON (auditors; the raw stage needs the tenant's auditor key). Query: stage, partition (comma list), from_offset or from_time, to_offset (inclusive) or to_time, rate (records/s), dry_run. Audited.",
          security: bearer,
          responses: {
            '200': {
              description:
                'One JSON line per record, in offset order per partition; with dry_run, the offset counts',
              content: {
                'application/x-ndjson': { schema: { type: 'string' } },
                'application/json': { schema: { type: 'object' } },
              },
            },
            ...problemResponses,
          },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document.', responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
      '/healthz': {
        get: {
          summary: 'Liveness.',
          responses: { '200': { description: 'Alive' }, '503': { description: 'Not alive' } },
        },
      },
      '/readyz': {
        get: {
          summary: 'Readiness.',
          responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready' } },
        },
      },
    },
  };
}

export function openApiRoute(): FastifyPluginAsync {
  const document = openApiDocument();
  return async (app) => {
    app.get('/openapi.json', async () => document);
  };
}
