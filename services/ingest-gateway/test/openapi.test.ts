import { readFileSync } from 'node:fs';
import { Module } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { hashSecret, ReplayCache } from '@aispm/auth';
import type { ControlCollector, ControlRecord, ControlTenant } from '@aispm/contracts';
import { ControlState } from '@aispm/control';
import { ERROR_CODES } from '@aispm/errors';
import { Metrics } from '@aispm/observability';
import { TenantQuotas } from '@aispm/quotas';
import { buildGateway, type GatewayDeps } from '../src/app';
import { claudeHookEnvelopes } from '../src/plugins/collectors';

// TRICKY: Fastify's inject() parses cookies with `cookie`, which is ESM only; Jest's loader cannot
// require ESM before Node 24.9, Node's own can (see libs/auth/test/oidc.test.ts for jose).
type NodeLoader = { _load(request: string, parent: null): unknown };
jest.mock('cookie', () => (Module as unknown as NodeLoader)._load(require.resolve('cookie'), null));

// Raw-topic encryption is not what this file tests: values go out as they are.
jest.mock('@aispm/kms', () => ({
  ...jest.requireActual<object>('@aispm/kms'),
  RawEncryptor: class {
    encrypt = async (_tenant: string, bytes: Buffer) => bytes;
    forget = () => undefined;
  },
}));

interface Operation {
  security?: unknown;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, unknown>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties?: { code?: { enum: string[] } } }> };
}

const KEY = 'aispm_ck_a-collector-of-acme-for-openapi';
const tenant: ControlTenant = {
  type: 'tenant',
  slug: 'acme',
  tenant_ref: 'tenant:acme',
  retention_days: 30,
  raw_retention_hours: 24,
  deleted: false,
};
const collector: ControlCollector = {
  type: 'collector',
  collector_id: 'col_openapi',
  tenant: 'acme',
  key_sha256: hashSecret(KEY),
  require_signature: false,
  scopes: { connector_types: [], connector_ids: [], repositories: [], environments: [], event_types: [] },
  revoked: false,
};

function gatewayDeps(): GatewayDeps {
  const state = new ControlState();
  for (const data of [tenant, collector])
    state.apply({ schema_version: 'aispm.control_record.v1', updated_ms: 1, data } satisfies ControlRecord);
  let offset = 40;
  return {
    logger: pino({ level: 'silent' }),
    probes: { healthy: () => true, ready: () => true },
    control: { state, onChange: () => undefined, findFresh: async <T>(find: () => T | undefined) => find() },
    codec: { encodeValidated: (_schema: string, value: unknown) => Buffer.from(JSON.stringify(value)) },
    producer: {
      send: async (_topic: string, messages: unknown[]) => messages.map(() => BigInt(offset++)),
    },
    metrics: new Metrics('test'),
    quotas: new TenantQuotas({
      eventsPerSecond: 1000,
      eventBurst: 1000,
      bytesPerSecond: 1 << 20,
      byteBurst: 1 << 20,
      maxKeys: 10,
    }),
    replayCache: new ReplayCache({ maxEntries: 100 }),
    admission: { maxFutureSkewMs: 300_000 },
    idempotency: { previous: async () => new Map(), remember: () => undefined },
    oidc: undefined,
    produceTimeoutMs: 1_000,
    maxDecompressedBytes: 1 << 20,
    batchMaxItems: 100,
    partitionsOf: async () => [{ partitionId: 0, leader: 0, replicas: [0], isr: [0] }],
    bodyLimit: 1 << 20,
    maxInflightRequests: 10,
  } as unknown as GatewayDeps;
}

/** An envelope this collector may send, built as the Claude Code hook route builds one. */
function envelope() {
  const hook = JSON.parse(
    readFileSync(
      path.join(__dirname, '../../../test/fixtures/collectors/claude-code-pre-tool-use-bash.json'),
      'utf8',
    ),
  ) as unknown;
  const [built] = claudeHookEnvelopes(
    hook,
    { kind: 'collector', collector, tenant },
    { repository: 'acme/app' },
    new Date().toISOString(),
  );
  return built!;
}

describe('the ingest gateway', () => {
  let app: FastifyInstance;
  const routes: string[] = [];
  const hidden: string[] = [];
  /** What the last handler returned, before its response schema serialized it. */
  let returned: unknown;
  let document: Document;

  beforeAll(async () => {
    ({ app } = buildGateway(gatewayDeps()));
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
    const answer = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(answer.statusCode).toBe(200);
    document = answer.json();
  });

  afterAll(() => app.close());

  const documented = () =>
    Object.entries(document.paths).flatMap(([route, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${route}`),
    );

  it('documents exactly the ingestion routes (and its probes), none of the API', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(documented().sort()).toEqual([
      'GET /healthz',
      'GET /readyz',
      'POST /enterprise/aispm/events',
      'POST /enterprise/aispm/events/batch',
      'POST /enterprise/aispm/hooks/claude-code',
      'POST /enterprise/aispm/webhooks/github/{collector_id}',
      'POST /v1/logs',
    ]);
  });

  it('documents every route it serves, except the document itself', () => {
    expect(documented().sort()).toEqual(routes.sort());
    expect(hidden).toEqual(['GET /openapi.json']);
  });

  it("shows the envelope as the events' body, though Fastify never parses it", () => {
    const { paths, components } = document;
    const events = paths['/enterprise/aispm/events']!.post!;
    expect(events.requestBody!.content['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/Envelope',
    });
    expect(Object.keys(paths['/enterprise/aispm/events/batch']!.post!.requestBody!.content).sort()).toEqual([
      'application/json',
      'application/x-ndjson',
    ]);
    expect(components.schemas.Envelope).toMatchObject({ properties: { event: expect.any(Object) } });
    expect(events.security).toEqual([{ apiKey: [] }]);
    // A webhook proves its sender by GitHub's signature, not by a key.
    expect(paths['/enterprise/aispm/webhooks/github/{collector_id}']!.post!.security).toBeUndefined();
    expect(Object.keys(events.responses)).toEqual(
      expect.arrayContaining(['200', '202', '400', '401', '409', '429', '503']),
    );
  });

  it('lists every error code in the Problem schema', () => {
    const { Problem } = document.components.schemas;
    expect(Problem!.properties!.code!.enum.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  const post = (url: string, payload: unknown) =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      payload: JSON.stringify(payload),
    });

  // The serializer drops whatever a response schema does not declare: each answer must be the
  // handler's object whole.
  it('sends every field of each receipt of a mixed batch', async () => {
    const answer = await post('/enterprise/aispm/events/batch', [
      envelope(),
      { event: { event_id: 'evt_x' } },
    ]);
    expect(answer.statusCode).toBe(207);
    expect(answer.json()).toEqual(JSON.parse(JSON.stringify(returned)));
    expect(answer.json()).toMatchObject({
      items: [
        { outcome: 'accepted', topic: 'aispm.acme.raw', partition: 0, offset: expect.any(String) },
        {
          outcome: 'rejected',
          code: 'GW_SCHEMA_INVALID',
          errors: expect.arrayContaining([expect.any(Object)]),
        },
      ],
    });
  });

  it('sends every field of the receipts of a batch refused whole', async () => {
    const answer = await post('/enterprise/aispm/events/batch', [{ event: {} }]);
    expect([answer.statusCode, answer.headers['content-type']]).toEqual([
      400,
      'application/json; charset=utf-8',
    ]);
    expect(answer.json()).toEqual(JSON.parse(JSON.stringify(returned)));
  });

  it('sends a problem whole, errors included', async () => {
    const answer = await app.inject({
      method: 'POST',
      url: '/enterprise/aispm/events/batch',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      payload: '[{',
    });
    expect([answer.statusCode, answer.headers['content-type']]).toEqual([
      400,
      'application/problem+json; charset=utf-8',
    ]);
    expect(answer.json()).toEqual(JSON.parse(JSON.stringify(returned)));
    expect(answer.json()).toMatchObject({ code: 'GW_BAD_JSON', status: 400, type: expect.any(String) });
  });
});
