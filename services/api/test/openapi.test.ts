import { Module } from 'node:module';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { hashSecret } from '@aispm/auth';
import { ConsoleSessions } from '@aispm/console';
import type { ControlRecord } from '@aispm/contracts';
import { ControlState, OPERATOR_TENANT } from '@aispm/control';
import { ERROR_CODES } from '@aispm/errors';
import { Metrics } from '@aispm/observability';
import { FreshnessTracker } from '@aispm/projection';
import { buildApi, type ApiDeps } from '../src/app';

// TRICKY: Fastify's inject() parses cookies with `cookie`, which is ESM only; Jest's loader cannot
// require ESM before Node 24.9, Node's own can (see libs/auth/test/oidc.test.ts for jose).
type NodeLoader = { _load(request: string, parent: null): unknown };
jest.mock('cookie', () => (Module as unknown as NodeLoader)._load(require.resolve('cookie'), null));

// The dashboard reads its freshness from the consumer groups; here the pipeline has no stage yet.
jest.mock('@aispm/kafka', () => ({
  ...jest.requireActual<object>('@aispm/kafka'),
  pipelineOffsets: async () => new Map(),
}));

interface Document {
  paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
  components: { schemas: { Problem: { properties: { code: { enum: string[] } } } } };
}

const AUDITOR_KEY = 'aispm_rk_an-auditor-of-acme-for-the-api';
const OPERATOR_KEY = 'aispm_rk_the-platform-operator-for-the-api';
const HOUR = 3_600_000;
const T0 = Date.parse('2026-06-11T09:00:00.000Z');

function controlState(): ControlState {
  const state = new ControlState();
  const data: ControlRecord['data'][] = [
    {
      type: 'tenant',
      slug: 'acme',
      tenant_ref: 'tenant:acme',
      retention_days: 30,
      raw_retention_hours: 24,
      max_event_age_days: 7,
      deleted: false,
    },
    {
      type: 'collector',
      collector_id: 'col_ci',
      tenant: 'acme',
      key_sha256: hashSecret('aispm_ck_a-collector-of-acme-for-the-api'),
      require_signature: true,
      scopes: { connector_types: [], connector_ids: [], repositories: [], environments: [], event_types: [] },
      expected_interval_s: 300,
      revoked: false,
    },
    {
      type: 'reader',
      reader_id: 'rdr_auditor',
      tenant: 'acme',
      role: 'auditor',
      key_sha256: hashSecret(AUDITOR_KEY),
      revoked: false,
    },
    {
      type: 'reader',
      reader_id: 'rdr_operator',
      tenant: OPERATOR_TENANT,
      role: 'admin',
      key_sha256: hashSecret(OPERATOR_KEY),
      revoked: false,
    },
    { type: 'legal_hold', tenant: 'acme', active: true, reason: 'litigation' },
  ];
  for (const record of data)
    state.apply({ schema_version: 'aispm.control_record.v1', updated_ms: 1, data: record });
  return state;
}

const record = (id: string, decision: string, severity: string, surface: string, minutes: number) => ({
  event_id: id,
  session_id: 'ses_1',
  agent_id: 'claude-code',
  repository: 'acme/app',
  control_surface: surface,
  decision,
  severity,
  risk_classification: severity === 'none' ? 'benign' : 'secret_exposure',
  target_summary: `file:.env#${id}`,
  evidence_refs: decision === 'block' ? ['signed://policy/1'] : [],
  occurred_ms: String(T0 + minutes * 60_000),
});

/** ClickHouse's answers, by the statement asked (the reader queries tell them apart). */
function clickhouseRows(statement: string): Record<string, unknown>[] {
  if (statement.includes('AS with_refs'))
    return [
      {
        agent_id: 'claude-code',
        repository: 'acme/app',
        policy_pack: 'baseline',
        control_surface: 'sensitive_data',
        action_type: 'file_read',
        decision: 'block',
        severity: 'critical',
        count: '3',
        with_refs: '3',
        signed: '1',
      },
      {
        agent_id: 'claude-code',
        repository: 'acme/app',
        policy_pack: 'baseline',
        control_surface: 'runtime_commands',
        action_type: 'shell_command',
        decision: 'allow',
        severity: 'none',
        count: '7',
        with_refs: '0',
        signed: '0',
      },
    ];
  if (statement.includes('AS session_count'))
    return [{ agent_id: 'claude-code', session_count: 2, last_seen_ms: String(T0 + HOUR) }];
  if (statement.includes('AS sessions')) return [{ sessions: 2 }];
  if (statement.includes("decision IN ('block'"))
    return [
      record('evt_block', 'block', 'critical', 'sensitive_data', 30),
      record('evt_push', 'require_approval', 'high', 'source_control', 20),
    ];
  if (statement.includes('groupUniqArray'))
    return [{ control_surface: 'sensitive_data', refs: ['signed://policy/1'] }];
  if (statement.includes('event_lookup'))
    return [{ session_id: 'ses_1', occurred_ms: String(T0), idempotency_key: 'evt_block' }];
  if (statement.includes('LIMIT'))
    return [
      record('evt_block', 'block', 'critical', 'sensitive_data', 30),
      record('evt_ls', 'allow', 'none', 'runtime_commands', 10),
    ];
  // One events row: every column, as ClickHouse sends them.
  return [
    {
      ...record('evt_block', 'block', 'critical', 'sensitive_data', 0),
      tenant: 'acme',
      event_type: 'file_read',
      policy_pack: 'baseline',
      action_type: 'file_read',
      idempotency_key: 'evt_block',
      received_ms: String(T0 + 1000),
      ingested_ms: String(T0 + 2000),
      projected_ms: String(T0 + 3000),
      redaction_counts: '{"email":1}',
      signature_verified: 1,
      payload_ref: 'aispm://acme/raw/0/41',
      source_topic: 'aispm.acme.normalized',
      source_partition: 0,
      source_offset: '41',
      record_hash: 'ab'.repeat(32),
      prev_hash: null,
    },
  ];
}

function apiDeps(): ApiDeps {
  return {
    logger: pino({ level: 'silent' }),
    probes: { healthy: () => true, ready: () => true },
    metrics: new Metrics('test'),
    control: {
      state: controlState(),
      caughtUp: () => true,
      findFresh: async <T>(find: () => T | undefined) => find(),
    },
    clickhouse: { query: async (statement: unknown) => clickhouseRows(JSON.stringify(statement)) },
    audit: { append: async () => undefined },
    freshness: new FreshnessTracker(),
    database: 'aispm',
    groupPrefix: 'aispm',
    consoleSessions: new ConsoleSessions(Buffer.alloc(32, 7), HOUR),
    bodyLimit: 1 << 20,
  } as unknown as ApiDeps;
}

describe('the API', () => {
  let app: FastifyInstance;
  /** Every route as Fastify registers it (`METHOD /path`, `{param}`), hidden ones apart. */
  const routes: string[] = [];
  const hidden: string[] = [];
  /** What the last handler returned, before its response schema serialized it. */
  let returned: unknown;
  let document: Document;

  beforeAll(async () => {
    app = buildApi(apiDeps());
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods.filter((m) => m !== 'HEAD')) {
        const name = `${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`;
        (route.schema?.hide ? hidden : routes).push(name);
      }
    });
    app.addHook('preSerialization', async (_request, _reply, payload) => {
      returned = payload;
      return payload;
    });
    await app.ready();
    document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  });

  afterAll(() => app.close());

  const documented = () =>
    Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );

  it('serves an OpenAPI 3.1 document that anyone may read', async () => {
    const answer = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({ openapi: '3.1.0', info: { title: 'aispm-ingest API' } });
  });

  it("documents every route it serves, the readers' and administrators', and no ingestion route", () => {
    expect(documented().sort()).toEqual(routes.sort());
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /enterprise/aispm/dashboard',
        'GET /enterprise/aispm/events/{event_id}',
        'GET /enterprise/aispm/replay/{session_id}',
        'GET /enterprise/aispm/verify',
        'GET /enterprise/aispm/stream',
        'GET /enterprise/aispm/replay-log',
        'GET /enterprise/aispm/ingestion/health',
        'POST /enterprise/aispm/admin/tenants',
        'DELETE /enterprise/aispm/admin/tenants/{slug}',
        'POST /enterprise/aispm/admin/tenants/{slug}/redaction/dry-run',
        'POST /enterprise/aispm/admin/readers/{id}/revoke',
        'POST /console/api/session',
        'GET /healthz',
        'GET /readyz',
      ]),
    );
    expect(documented()).not.toContain('POST /enterprise/aispm/events');
    // Only the document itself and the console page's files are left out.
    expect(hidden.sort()).toEqual([
      'GET /console',
      'GET /console/*',
      'GET /console/assets/{file}',
      'GET /openapi.json',
    ]);
  });

  it('asks for a bearer key on every route but the public ones, and lists the problems of each', () => {
    const { paths } = document;
    expect(paths['/enterprise/aispm/dashboard']!.get!.security).toEqual([{ apiKey: [] }]);
    expect(paths['/console/api/session']!.post!.security).toBeUndefined();
    expect(paths['/healthz']!.get!.security).toBeUndefined();
    expect(Object.keys(paths['/enterprise/aispm/verify']!.get!.responses)).toEqual(
      expect.arrayContaining(['200', '401', '403', '503']),
    );
  });

  it('lists every error code in the Problem schema', () => {
    expect(document.components.schemas.Problem.properties.code.enum.sort()).toEqual(
      Object.keys(ERROR_CODES).sort(),
    );
  });

  // The serializer drops whatever a response schema does not declare: each answer must be the
  // handler's object whole.
  it.each([
    ['the posture document', 'GET', '/enterprise/aispm/dashboard', AUDITOR_KEY],
    ["an event, with the auditor's source", 'GET', '/enterprise/aispm/events/evt_block', AUDITOR_KEY],
    ["a session's trace replay", 'GET', '/enterprise/aispm/replay/ses_1', AUDITOR_KEY],
    [
      'a tenant with its collectors, readers and legal hold',
      'GET',
      '/enterprise/aispm/admin/tenants/acme',
      OPERATOR_KEY,
    ],
  ])('sends %s as the handler built it', async (_what, method, url, key) => {
    returned = undefined;
    const answer = await app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(answer.statusCode).toBe(200);
    expect(returned).toBeDefined();
    expect(answer.json()).toEqual(JSON.parse(JSON.stringify(returned)));
  });

  it('fills every part of the posture document the test above compares', async () => {
    const answer = await app.inject({
      method: 'GET',
      url: '/enterprise/aispm/dashboard',
      headers: { authorization: `Bearer ${AUDITOR_KEY}` },
    });
    const body = answer.json() as Record<string, unknown[]>;
    for (const list of ['agents', 'findings', 'timeline', 'near_misses', 'behavior_fingerprints'])
      expect([list, body[list]!.length > 0]).toEqual([list, true]);
    expect(body.control_plane).toMatchObject({ tenant: 'acme', freshness: expect.any(Object) });
  });
});
