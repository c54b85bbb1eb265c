import { readFileSync } from 'node:fs';
import { Module } from 'node:module';
import path from 'node:path';
import fastify, { type FastifyInstance } from 'fastify';
import { hashSecret, ReplayCache } from '@aispm/auth';
import { buildEnvelope, CLAUDE_CODE_HOOK_PATH, hookDrafts } from '@aispm/collector';
import {
  TOPIC_SCHEMAS,
  validatorFor,
  type ControlCollector,
  type ControlRecord,
  type ControlTenant,
  type Envelope,
} from '@aispm/contracts';
import { ControlState } from '@aispm/control';
import { Metrics } from '@aispm/observability';
import { TenantQuotas } from '@aispm/quotas';
import type { CollectorPrincipal } from '../src/access';
import { checkHookPayload, claudeHookEnvelopes, collectorRoutes } from '../src/plugins/collectors';
import type { IngestDeps } from '../src/plugins/ingest';
import { installProblemHandlers } from '@aispm/http';

// TRICKY: Fastify's inject() parses cookies with `cookie`, which is ESM only; Jest's loader cannot
// require ESM before Node 24.9, Node's own can (see libs/auth/test/oidc.test.ts for jose).
type NodeLoader = { _load(request: string, parent: null): unknown };
jest.mock('cookie', () => (Module as unknown as NodeLoader)._load(require.resolve('cookie'), null));

const FIXTURES = path.join(__dirname, '../../../test/fixtures/collectors');
const fixture = (name: string) => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as unknown;
const CLAUDE_FIXTURES = [
  'claude-code-user-prompt-submit.json',
  'claude-code-pre-tool-use-bash.json',
  'claude-code-pre-tool-use-mcp.json',
  'claude-code-permission-request.json',
  'claude-code-post-tool-use-write.json',
];

const tenant: ControlTenant = {
  type: 'tenant',
  slug: 'acme',
  tenant_ref: 'tenant:acme',
  retention_days: 30,
  raw_retention_hours: 24,
  deleted: false,
};
const scopes = {
  connector_types: [],
  connector_ids: [],
  repositories: [],
  environments: [],
  event_types: [],
};
const KEY = 'aispm_ck_claude-code-http-hook-test';
const SIGNING_KEY = 'aispm_ck_a-collector-that-signs-its-requests';
const collector = (id: string, key: string, fields: Partial<ControlCollector> = {}): ControlCollector => ({
  type: 'collector',
  collector_id: id,
  tenant: tenant.slug,
  key_sha256: hashSecret(key),
  require_signature: false,
  scopes,
  revoked: false,
  ...fields,
});
const hookCollector = collector('col_hook', KEY);
const principal: CollectorPrincipal = { kind: 'collector', collector: hookCollector, tenant };
const now = '2026-06-11T09:00:00.000Z';
/** How the gateway builds the envelopes of `col_hook`. */
const gatewaySettings = {
  tenantRef: 'tenant:acme',
  environment: 'dev' as const,
  connectorId: 'col_hook',
  hostName: '',
  collectorVersion: 'aispm-gateway',
  signed: false,
};

describe('Claude Code http hook mapping', () => {
  const validate = validatorFor<Envelope>(TOPIC_SCHEMAS.raw);

  it.each(CLAUDE_FIXTURES)("maps %s as the command hook does, into the collector's tenant", (name) => {
    const [envelope, ...rest] = claudeHookEnvelopes(
      fixture(name),
      principal,
      { repository: 'Acme/App' },
      now,
    );
    expect(rest).toEqual([]);
    expect(validate(envelope) ? [] : validate.errors).toEqual([]);
    expect(envelope).toMatchObject({
      source: { connector_type: 'claude_code', connector_id: 'col_hook', collector_version: 'aispm-gateway' },
      tenant: { tenant_ref: 'tenant:acme', environment: 'dev' },
      event: { agent_id: 'claude-code', repository: 'acme/app' },
      redaction: { payload_handling: 'metadata_only', raw_prompt_included: false },
      integrity: { signature_required: false },
    });
    // The same event, by the same id, as `aispm collect claude-code` would send for it.
    const [command] = hookDrafts(fixture(name), { now, repository: 'acme/app' });
    expect(envelope!.event).toEqual(buildEnvelope(command!, gatewaySettings).event);
    expect(JSON.stringify(envelope)).not.toMatch(/sk-secret|hunter2/);
  });

  it("takes the environment from the URL, else the collector's only environment scope, else dev", () => {
    const payload = fixture('claude-code-pre-tool-use-bash.json');
    const scoped: CollectorPrincipal = {
      ...principal,
      collector: { ...hookCollector, scopes: { ...scopes, environments: ['staging'] } },
    };
    expect(
      claudeHookEnvelopes(payload, scoped, { environment: 'production' }, now)[0]!.tenant.environment,
    ).toBe('production');
    expect(claudeHookEnvelopes(payload, scoped, {}, now)[0]!.tenant.environment).toBe('staging');
    expect(claudeHookEnvelopes(payload, principal, {}, now)[0]!.event).not.toHaveProperty('repository');
  });

  it('maps nothing for hooks that say nothing about posture, and for garbage', () => {
    for (const payload of [{ hook_event_name: 'SessionStart', session_id: 's' }, [], 'x', null])
      expect(claudeHookEnvelopes(payload, principal, {}, now)).toEqual([]);
  });
});

describe(`POST ${CLAUDE_CODE_HOOK_PATH}`, () => {
  let app: FastifyInstance;
  let produced: { topic: string; messages: unknown[] }[];
  let kafkaDown: boolean;

  beforeEach(async () => {
    produced = [];
    kafkaDown = false;
    const state = new ControlState();
    for (const data of [
      tenant,
      hookCollector,
      collector('col_signed', SIGNING_KEY, { require_signature: true }),
    ])
      state.apply({ schema_version: 'aispm.control_record.v1', updated_ms: 1, data } satisfies ControlRecord);
    // Everything past admission is a stand-in: the route's answer is what is tested, and the
    // acknowledged produce it waits for.
    const deps = {
      control: state,
      findFresh: async <T>(find: () => T | undefined) => find(),
      rawEncryptor: { encrypt: async (_tenant: string, bytes: Buffer) => bytes },
      codec: { encodeValidated: (_schema: string, value: unknown) => Buffer.from(JSON.stringify(value)) },
      producer: {
        send: async (topic: string, messages: unknown[]) => {
          if (kafkaDown) throw new Error('no leader');
          produced.push({ topic, messages });
          return messages.map(() => BigInt(produced.length - 1));
        },
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
    } as unknown as IngestDeps;
    app = fastify();
    installProblemHandlers(app);
    app.decorateRequest('tenant', '');
    await app.register(collectorRoutes(deps));
    await app.ready();
  });

  afterEach(() => app.close());

  const post = (payload: unknown, { key = KEY, query = '?repository=acme%2Fapp' } = {}) =>
    app.inject({
      method: 'POST',
      url: `${CLAUDE_CODE_HOOK_PATH}${query}`,
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      payload: JSON.stringify(payload),
    });

  it('answers 204 with no body, which Claude Code reads as "go on", once the event is in Kafka', async () => {
    const answer = await post(fixture('claude-code-pre-tool-use-bash.json'));
    expect([answer.statusCode, answer.body]).toEqual([204, '']);
    expect(produced).toHaveLength(1);
    expect(produced[0]!.topic).toBe('aispm.acme.raw');
    const [message] = produced[0]!.messages as { value: Buffer }[];
    expect(JSON.parse(message!.value.toString())).toMatchObject({
      source: { connector_type: 'claude_code' },
      event: { event_type: 'shell_command', repository: 'acme/app', target_summary: 'program:curl' },
    });
  });

  it('answers 204 and stores nothing for a hook that maps to no event', async () => {
    const answer = await post({ hook_event_name: 'SessionStart', session_id: 's', source: 'startup' });
    expect([answer.statusCode, answer.body, produced]).toEqual([204, '', []]);
  });

  it.each<[string, () => Promise<{ statusCode: number; json(): unknown }>, number, string]>([
    [
      'without a key',
      () => post(fixture('claude-code-pre-tool-use-bash.json'), { key: '' }),
      401,
      'GW_UNAUTHENTICATED',
    ],
    [
      'for a collector that requires signatures, which Claude Code cannot make',
      () => post(fixture('claude-code-pre-tool-use-bash.json'), { key: SIGNING_KEY }),
      401,
      'GW_SIGNATURE_INVALID',
    ],
    [
      'with an environment that is not one',
      () => post(fixture('claude-code-pre-tool-use-bash.json'), { query: '?environment=prod' }),
      400,
      'GW_BAD_REQUEST',
    ],
  ])('refuses a request %s with a problem, never a decision', async (_name, send, status, code) => {
    const answer = await send();
    expect([answer.statusCode, (answer.json() as { code: string }).code]).toEqual([status, code]);
    // A problem document is no hook output: Claude Code goes on after any non-2xx.
    expect(answer.json()).not.toHaveProperty('decision');
    expect(produced).toEqual([]);
  });

  it('answers 503, not a 2xx, when Kafka does not acknowledge', async () => {
    kafkaDown = true;
    const answer = await post(fixture('claude-code-pre-tool-use-bash.json'));
    expect([answer.statusCode, (answer.json() as { code: string }).code]).toEqual([
      503,
      'GW_KAFKA_UNAVAILABLE',
    ]);
  });
});

describe('checkHookPayload', () => {
  const valid = {
    hook_event_name: 'PreToolUse',
    session_id: 's',
    tool_name: 'Bash',
    tool_input: { command: 'ls' },
  };

  it('passes a hook payload', () => {
    expect(checkHookPayload(valid)).toBe(valid);
  });

  it.each([
    ['not an object', []],
    ['no hook name', { session_id: 's' }],
    ['a hook name of another type', { ...valid, hook_event_name: 7 }],
    ['tool input that is not an object', { ...valid, tool_input: 'ls' }],
    ['tool input that is a list', { ...valid, tool_input: ['ls'] }],
    ['nesting past the bound', { ...valid, nested: JSON.parse('['.repeat(50_000) + ']'.repeat(50_000)) }],
  ])('refuses %s with GW_BAD_REQUEST', (_what, payload) => {
    expect(() => checkHookPayload(payload)).toThrow(expect.objectContaining({ code: 'GW_BAD_REQUEST' }));
  });
});
