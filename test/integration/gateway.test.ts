/**
 * The gateway's edge against the real servers: batches with per-item receipts, compressed
 * bodies and bombs, request signatures, collector scopes, semantic rules, quotas, workload
 * identity of one issuer and of several, Claude Code's http hooks, and the status codes of
 * DESIGN §4.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { createServer, request, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { name, sql } from '@aispm/clickhouse';
import {
  awaitReady,
  clickhouse,
  eventually,
  exampleEnvelope,
  freePort,
  postToGateway,
  spawnService,
  startPipeline,
  stopProcess,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(180_000);

const EVENTS = '/enterprise/aispm/events';
const BATCH = '/enterprise/aispm/events/batch';

let pipeline: Pipeline;
let unsignedKey: string;

beforeAll(async () => {
  pipeline = await startPipeline();
  const { body } = await pipeline.admin('POST', '/collectors', {
    tenant: pipeline.tenant,
    connector_types: ['codex', 'claude_code'],
    repositories: ['example/*'],
    environments: ['production'],
    event_types: ['tool_call', 'shell_command'],
  });
  unsignedKey = String(body.api_key);
});

afterAll(async () => {
  await pipeline?.stop();
});

/** An unsigned-by-contract envelope of the suite's tenant. */
function envelope(over: (e: ReturnType<typeof exampleEnvelope>) => void = () => {}) {
  const e = exampleEnvelope();
  e.tenant.tenant_ref = pipeline.tenantRef;
  e.integrity.signature_required = false;
  e.event.event_id = `evt_${randomBytes(6).toString('hex')}`;
  e.transport.idempotency_key = e.event.event_id;
  over(e);
  return e;
}

/** A zstd frame of raw and RLE blocks, written by hand (Node 20's zlib has no zstd). */
function zstdFrame(blocks: ({ raw: Buffer } | { rle: number; size: number })[]): Buffer {
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from([0x00, 0x58])];
  blocks.forEach((block, index) => {
    const last = index === blocks.length - 1 ? 1 : 0;
    const size = 'raw' in block ? block.raw.length : block.size;
    const type = 'raw' in block ? 0 : 1;
    const header = (size << 3) | (type << 1) | last;
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff]));
    parts.push('raw' in block ? block.raw : Buffer.from([block.rle]));
  });
  return Buffer.concat(parts);
}

describe('batch', () => {
  it('answers 202 with a receipt per item for a JSON array', async () => {
    const items = [envelope(), envelope()];
    const { status, body } = await postToGateway(pipeline.gatewayUrl, BATCH, unsignedKey, items);
    expect([status, body.detail]).toEqual([202, undefined]);
    expect(body).toMatchObject({ accepted: 2, rejected: 0 });
    const receipts = body.items as { outcome: string; event_id: string; offset: string }[];
    expect(receipts.map((r) => r.event_id)).toEqual(items.map((e) => e.event.event_id));
    expect(receipts.every((r) => r.outcome === 'accepted' && /^\d+$/.test(r.offset))).toBe(true);
  });

  it('decides per item in NDJSON: 207 with each refusal named', async () => {
    const good = envelope();
    const otherTenant = envelope((e) => (e.tenant.tenant_ref = 'tenant:someone-else'));
    const outOfScope = envelope((e) => (e.tenant.environment = 'dev'));
    const invalid = { ...envelope(), product: 'OTHER' };
    const ndjson = [good, otherTenant, outOfScope, invalid].map((e) => JSON.stringify(e)).join('\n');
    const { status, body } = await postToGateway(
      pipeline.gatewayUrl,
      BATCH,
      unsignedKey,
      Buffer.from(ndjson),
      {
        contentType: 'application/x-ndjson',
      },
    );
    expect(status).toBe(207);
    const receipts = body.items as { outcome: string; code?: string; errors?: { pointer: string }[] }[];
    expect(receipts.map((r) => r.code ?? r.outcome)).toEqual([
      'accepted',
      'GW_TENANT_MISMATCH',
      'GW_SCOPE_DENIED',
      'GW_SCHEMA_INVALID',
    ]);
    expect(receipts[2]!.errors![0]!.pointer).toBe('/tenant/environment');
  });

  it('refuses a batch over the item limit with 413', async () => {
    const items = Array.from({ length: 501 }, () => ({}));
    expect((await postToGateway(pipeline.gatewayUrl, BATCH, unsignedKey, items)).status).toBe(413);
  });
});

describe('compressed bodies', () => {
  it('accepts gzip and zstd', async () => {
    const gz = gzipSync(JSON.stringify(envelope()));
    expect(
      (await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, gz, { contentEncoding: 'gzip' })).status,
    ).toBe(202);
    const zst = zstdFrame([{ raw: Buffer.from(JSON.stringify(envelope())) }]);
    expect(
      (await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, zst, { contentEncoding: 'zstd' }))
        .status,
    ).toBe(202);
  });

  it('stops gzip and zstd bombs at the decompressed limit with 413', async () => {
    const gzBomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(gzBomb.length).toBeLessThan(1024 * 1024);
    const gz = await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, gzBomb, {
      contentEncoding: 'gzip',
    });
    expect([gz.status, gz.body.code]).toEqual([413, 'GW_BODY_TOO_LARGE']);
    const zstBomb = zstdFrame(Array.from({ length: 200 }, () => ({ rle: 0x20, size: 128 * 1024 })));
    const zst = await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, zstBomb, {
      contentEncoding: 'zstd',
    });
    expect([zst.status, zst.body.code]).toEqual([413, 'GW_BODY_TOO_LARGE']);
    const health = await fetch(`${pipeline.gatewayUrl}/healthz`);
    expect(health.status).toBe(200);
  });

  it('refuses an unknown encoding with 415', async () => {
    const { status } = await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, envelope(), {
      contentEncoding: 'br',
    });
    expect(status).toBe(415);
  });
});

describe('signatures', () => {
  const signedEnvelope = () => envelope((e) => (e.integrity.signature_required = true));

  it('accepts a valid signature', async () => {
    const { status } = await postToGateway(pipeline.gatewayUrl, EVENTS, pipeline.apiKey, signedEnvelope(), {
      secret: pipeline.signingSecret,
    });
    expect(status).toBe(202);
  });

  it.each([
    ['missing', {}],
    ['signed with a wrong secret', { secret: 'aispm_ss_wrong' }],
    ['too old', { secretFromPipeline: true, timestamp: Math.floor(Date.now() / 1000) - 600 }],
  ])('refuses a request %s with 401', async (_name, how) => {
    const options = {
      ...('secret' in how ? { secret: how.secret } : {}),
      ...('secretFromPipeline' in how ? { secret: pipeline.signingSecret, timestamp: how.timestamp } : {}),
    };
    const { status, body } = await postToGateway(
      pipeline.gatewayUrl,
      EVENTS,
      pipeline.apiKey,
      signedEnvelope(),
      options,
    );
    expect([status, body.code]).toEqual([401, 'GW_SIGNATURE_INVALID']);
  });

  it('refuses a replayed signature', async () => {
    const body = Buffer.from(JSON.stringify(signedEnvelope()));
    const timestamp = Math.floor(Date.now() / 1000);
    const first = await postToGateway(pipeline.gatewayUrl, EVENTS, pipeline.apiKey, body, {
      secret: pipeline.signingSecret,
      timestamp,
    });
    expect(first.status).toBe(202);
    const again = await postToGateway(pipeline.gatewayUrl, EVENTS, pipeline.apiKey, body, {
      secret: pipeline.signingSecret,
      timestamp,
    });
    expect([again.status, again.body.code]).toEqual([401, 'GW_SIGNATURE_INVALID']);
  });

  it('requires a signature when an envelope asks for one, even from a collector that does not', async () => {
    const { status, body } = await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, signedEnvelope());
    expect([status, body.code]).toEqual([401, 'GW_SIGNATURE_INVALID']);
  });
});

describe('refusals', () => {
  it.each([
    [
      'connector type',
      (e: ReturnType<typeof exampleEnvelope>) => (e.source.connector_type = 'cursor'),
      '/source/connector_type',
    ],
    [
      'repository',
      (e: ReturnType<typeof exampleEnvelope>) => (e.event.repository = 'other/repo'),
      '/event/repository',
    ],
    [
      'environment',
      (e: ReturnType<typeof exampleEnvelope>) => (e.tenant.environment = 'staging'),
      '/tenant/environment',
    ],
    [
      'event type',
      (e: ReturnType<typeof exampleEnvelope>) => (e.event.event_type = 'prompt'),
      '/event/event_type',
    ],
    [
      'repository (missing)',
      (e: ReturnType<typeof exampleEnvelope>) => delete e.event.repository,
      '/event/repository',
    ],
  ])('names the failing %s scope with 403', async (_scope, change, pointer) => {
    const { status, body } = await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, envelope(change));
    expect([status, body.code]).toEqual([403, 'GW_SCOPE_DENIED']);
    expect((body.errors as { pointer: string }[])[0]!.pointer).toBe(pointer);
  });

  it('names the failing connector id scope with 403', async () => {
    const { body } = await pipeline.admin('POST', '/collectors', {
      tenant: pipeline.tenant,
      connector_ids: ['connector-public-contract-sample'],
    });
    const ok = await postToGateway(pipeline.gatewayUrl, EVENTS, String(body.api_key), envelope());
    expect(ok.status).toBe(202);
    const other = envelope((e) => (e.source.connector_id = 'connector-elsewhere'));
    const refused = await postToGateway(pipeline.gatewayUrl, EVENTS, String(body.api_key), other);
    expect([refused.status, refused.body.code]).toEqual([403, 'GW_SCOPE_DENIED']);
    expect((refused.body.errors as { pointer: string }[])[0]!.pointer).toBe('/source/connector_id');
  });

  it.each([
    [
      'an occurred_at far in the future',
      (e: ReturnType<typeof exampleEnvelope>) => (e.event.occurred_at = '2099-01-01T00:00:00Z'),
      '/event/occurred_at',
    ],
    [
      'a policy_decision without decision',
      (e: ReturnType<typeof exampleEnvelope>) => {
        e.event.event_type = 'policy_decision';
        delete e.event.decision;
      },
      '/event/decision',
    ],
    [
      'a private_payload_ref without payload_ref',
      (e: ReturnType<typeof exampleEnvelope>) => delete e.event.payload_ref,
      '/event/payload_ref',
    ],
    [
      'a huge string',
      (e: ReturnType<typeof exampleEnvelope>) => (e.event.target_summary = 'x'.repeat(5000)),
      '/event/target_summary',
    ],
  ])('refuses %s with 400', async (_name, change, pointer) => {
    const { status, body } = await postToGateway(
      pipeline.gatewayUrl,
      EVENTS,
      pipeline.apiKey,
      envelope(change),
      {
        secret: pipeline.signingSecret,
      },
    );
    expect([status, body.code]).toEqual([400, 'GW_SEMANTIC_INVALID']);
    expect((body.errors as { pointer: string }[]).map((f) => f.pointer)).toContain(pointer);
  });

  it.each([
    ['malformed JSON', Buffer.from('{"schema_version":'), 'application/json', 400, 'GW_BAD_JSON'],
    [
      'a __proto__ key',
      Buffer.from('{"__proto__":{"polluted":true}}'),
      'application/json',
      400,
      'GW_BAD_JSON',
    ],
    ['a text body', Buffer.from('hello'), 'text/plain', 415, 'GW_UNSUPPORTED_MEDIA_TYPE'],
  ])('answers %s with a problem document', async (_name, bytes, contentType, status, code) => {
    const answer = await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, bytes, { contentType });
    expect([answer.status, answer.body.code]).toEqual([status, code]);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
  });

  describe('with tight limits', () => {
    let limited: { child: import('node:child_process').ChildProcess; opsUrl: string };

    beforeAll(async () => {
      const port = await freePort();
      limited = spawnService(
        'ingest-gateway',
        {
          ...pipeline.env,
          GATEWAY_PORT: String(port),
          AISPM_INSTANCE_ID: 'gateway-limited',
          GATEWAY_QUOTA_EVENTS_PER_SECOND: '1',
          GATEWAY_QUOTA_EVENT_BURST: '3',
          AISPM_MAX_BODY_BYTES: '65536',
          GATEWAY_MAX_INFLIGHT_REQUESTS: '1',
        },
        port,
      );
      await awaitReady('limited gateway', limited.child, limited.opsUrl);
    });

    afterAll(async () => {
      await stopProcess(limited.child);
    });

    it('answers a body over the limit with 413', async () => {
      const answer = await postToGateway(limited.opsUrl, EVENTS, unsignedKey, Buffer.alloc(200 * 1024, 0x20));
      expect([answer.status, answer.body.code]).toEqual([413, 'GW_BODY_TOO_LARGE']);
    });

    it('lets a client still sending a body far over the limit read its 413', async () => {
      // node:http writes the whole body before it reads; a close without lingering reset the
      // connection under it (EPIPE) before it saw the answer.
      const body = Buffer.alloc(20 * 1024 * 1024, 0x20);
      const { port } = new URL(limited.opsUrl);
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const outcome = await new Promise<{ status: number; error?: string }>((resolve) => {
          let status = 0;
          let error: string | undefined;
          const sending = request(
            {
              host: '127.0.0.1',
              port: Number(port),
              path: EVENTS,
              method: 'POST',
              headers: {
                authorization: `Bearer ${unsignedKey}`,
                'content-type': 'application/json',
                'content-length': body.length,
              },
            },
            (response) => {
              status = response.statusCode ?? 0;
              response.resume();
            },
          );
          sending.on('error', (failure: NodeJS.ErrnoException) => (error = failure.code ?? failure.message));
          sending.on('close', () => resolve({ status, ...(error === undefined ? {} : { error }) }));
          sending.end(body);
        });
        expect(outcome).toEqual({ status: 413 });
      }
    });

    it('answers 429 with Retry-After when a tenant is over its quota', async () => {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      // The bucket refills at 1 event/s while requests go out; on a loaded machine a request can
      // take long enough for the refill to keep up for a while, so this sends until one is refused.
      while (retryAfter === null && statuses.length < 20) {
        const answer = await postToGateway(limited.opsUrl, EVENTS, unsignedKey, envelope());
        statuses.push(answer.status);
        if (answer.status === 429) retryAfter = answer.headers.get('retry-after');
      }
      expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
      expect(statuses).toContain(429);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    });

    it('answers 503 with Retry-After past its in-flight limit, and admits again once a slot frees', async () => {
      const body = Buffer.from(JSON.stringify(envelope()));
      const { port } = new URL(limited.opsUrl);
      const held = request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: EVENTS,
        headers: {
          authorization: `Bearer ${unsignedKey}`,
          'content-type': 'application/json',
          'content-length': body.length,
        },
      });
      const heldAnswer = new Promise<number>((resolve, reject) => {
        held.on('response', (response) => {
          response.resume();
          resolve(response.statusCode!);
        });
        held.on('error', reject);
      });
      // Half a body: the gateway has admitted the request and waits for the rest.
      held.write(body.subarray(0, 10));
      const refused = await eventually('the held request to occupy the only slot', async () => {
        const answer = await postToGateway(limited.opsUrl, EVENTS, unsignedKey, envelope());
        return answer.status === 503 ? answer : undefined;
      });
      expect(refused.body.code).toBe('GW_OVERLOADED');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      held.end(body.subarray(10));
      expect(await heldAnswer).not.toBe(503);
      const after = await postToGateway(limited.opsUrl, EVENTS, unsignedKey, envelope());
      expect(after.body.code).not.toBe('GW_OVERLOADED');
    });
  });
});

describe('idempotency', () => {
  it('counts an event sent five times, across a gateway restart, once; other content under its key is 409', async () => {
    const event = envelope();
    const first = await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, event);
    expect([first.status, first.body.outcome]).toEqual([202, 'accepted']);
    const retry = { ...event, transport: { ...event.transport, retry_count: 1 } };
    const second = await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, retry);
    expect([second.status, second.body.outcome]).toEqual([200, 'duplicate']);

    const ch = clickhouse();
    const rows = async () =>
      ch.query<{ n: string }>(
        sql`SELECT count() AS n FROM ${name(pipeline.database)}.events FINAL WHERE tenant = ${pipeline.tenant} AND idempotency_key = ${event.transport.idempotency_key!}`,
      );
    const port = await freePort();
    const restarted = spawnService(
      'ingest-gateway',
      { ...pipeline.env, GATEWAY_PORT: String(port), AISPM_INSTANCE_ID: 'gateway-restarted' },
      port,
    );
    try {
      await eventually('the first copy projected', async () =>
        Number((await rows())[0]!.n) === 1 ? true : undefined,
      );
      // A new process has an empty memory: it finds the key in ClickHouse.
      await awaitReady('restarted gateway', restarted.child, restarted.opsUrl);
      for (let i = 2; i < 5; i += 1) {
        const again = await postToGateway(restarted.opsUrl, EVENTS, unsignedKey, {
          ...event,
          transport: { ...event.transport, retry_count: i },
        });
        expect([again.status, again.body.outcome]).toEqual([200, 'duplicate']);
      }
      const changed = { ...event, event: { ...event.event, decision: 'allow' as const } };
      const conflict = await postToGateway(restarted.opsUrl, EVENTS, unsignedKey, changed);
      expect([conflict.status, conflict.body.code]).toEqual([409, 'GW_IDEMPOTENCY_CONFLICT']);
      expect(Number((await rows())[0]!.n)).toBe(1);
    } finally {
      await stopProcess(restarted.child);
      await ch.close();
    }
  });

  it('marks repeats inside one batch', async () => {
    const event = envelope();
    const { status, body } = await postToGateway(pipeline.gatewayUrl, BATCH, unsignedKey, [event, event]);
    expect(status).toBe(202);
    expect((body.items as { outcome: string }[]).map((r) => r.outcome)).toEqual(['accepted', 'duplicate']);
  });
});

describe('workload identity (OIDC)', () => {
  const issuer = 'https://ci.example.test';
  const audience = 'aispm-ingest';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'test-key-1';
  let jwks: Server;
  let gateway: { child: import('node:child_process').ChildProcess; opsUrl: string };

  function token(claims: Record<string, unknown>, key = privateKey): string {
    const now = Math.floor(Date.now() / 1000);
    const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
    const body = `${encode({ alg: 'RS256', kid, typ: 'JWT' })}.${encode({ iss: issuer, aud: audience, iat: now, exp: now + 300, ...claims })}`;
    return `${body}.${sign('RSA-SHA256', Buffer.from(body), key).toString('base64url')}`;
  }

  beforeAll(async () => {
    jwks = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] }),
      );
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    const created = await pipeline.admin('POST', '/collectors', {
      tenant: pipeline.tenant,
      connector_types: ['github_actions', 'codex'],
      // `sub` is unique to this suite: claims of other tenants' collectors must not match too.
      oidc_claims: { sub: `repo:${pipeline.tenant}/*`, repository: 'example/*' },
    });
    expect(created.status).toBe(201);
    const port = await freePort();
    gateway = spawnService(
      'ingest-gateway',
      {
        ...pipeline.env,
        GATEWAY_PORT: String(port),
        AISPM_INSTANCE_ID: 'gateway-oidc',
        GATEWAY_OIDC_ISSUER: issuer,
        GATEWAY_OIDC_AUDIENCE: audience,
        GATEWAY_OIDC_JWKS_URL: jwksUrl,
      },
      port,
    );
    await awaitReady('OIDC gateway', gateway.child, gateway.opsUrl);
  });

  afterAll(async () => {
    await stopProcess(gateway.child);
    await new Promise((resolve) => jwks.close(resolve));
  });

  const claims = {
    get sub() {
      return `repo:${pipeline.tenant}/repository`;
    },
    repository: 'example/repository',
    environment: 'production',
  };

  it('accepts an event authenticated by a verified token', async () => {
    const answer = await postToGateway(gateway.opsUrl, EVENTS, token(claims), envelope());
    expect([answer.status, answer.body.outcome]).toEqual([202, 'accepted']);
  });

  it.each([
    ['expired', () => token({ ...claims, exp: Math.floor(Date.now() / 1000) - 600 })],
    ['for another audience', () => token({ ...claims, aud: 'someone-else' })],
    ['from another issuer', () => token({ ...claims, iss: 'https://evil.example.test' })],
    [
      'signed with another key',
      () => token(claims, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
    ],
    [
      'matching no collector',
      () => token({ ...claims, repository_owner: 'other', repository: 'other/repo' }),
    ],
  ])('refuses a token %s with 401', async (_name, make) => {
    const answer = await postToGateway(gateway.opsUrl, EVENTS, make(), envelope());
    expect([answer.status, answer.body.code]).toEqual([401, 'GW_UNAUTHENTICATED']);
  });

  it("binds the event's repository to the token's repository claim", async () => {
    const answer = await postToGateway(
      gateway.opsUrl,
      EVENTS,
      token(claims),
      envelope((e) => (e.event.repository = 'example/other')),
    );
    expect([answer.status, answer.body.code]).toEqual([403, 'GW_SCOPE_DENIED']);
  });
});

describe('workload identity of several issuers', () => {
  // Issuers of this suite alone (the control topic is shared), each with a key of its own.
  const issuers = {
    gitlab: {
      path: '/gitlab.json',
      audience: 'aispm-ingest',
      key: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    },
    azure: {
      path: '/azure.json',
      audience: 'api://AzureADTokenExchange',
      key: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    },
  };
  const issuerOf = (which: keyof typeof issuers) => `https://${which}.${pipeline.tenant}.example.test`;
  let jwks: Server;
  let gateway: { child: import('node:child_process').ChildProcess; opsUrl: string };

  /** A token of issuer `which`, signed with `signer`'s key (its own unless told). */
  function token(which: keyof typeof issuers, claims: Record<string, unknown>, signer = which): string {
    const now = Math.floor(Date.now() / 1000);
    const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
    const header = { alg: 'RS256', kid: signer, typ: 'JWT' };
    const payload = {
      iss: issuerOf(which),
      aud: issuers[which].audience,
      iat: now,
      exp: now + 300,
      ...claims,
    };
    const body = `${encode(header)}.${encode(payload)}`;
    return `${body}.${sign('RSA-SHA256', Buffer.from(body), issuers[signer].key.privateKey).toString('base64url')}`;
  }

  beforeAll(async () => {
    jwks = createServer((request, response) => {
      const [which, issuer] = Object.entries(issuers).find(([, i]) => i.path === request.url) ?? [];
      response.setHeader('content-type', 'application/json');
      if (!issuer) return void response.writeHead(404).end('{}');
      const jwk = { ...issuer.key.publicKey.export({ format: 'jwk' }), kid: which, alg: 'RS256', use: 'sig' };
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(jwks.address() as { port: number }).port}`;
    for (const body of [
      {
        connector_types: ['codex'],
        repositories: ['example/*'],
        environments: ['production'],
        oidc_issuer: issuerOf('gitlab'),
        oidc_claims: { project_path: '**' },
      },
      { connector_types: ['codex'], oidc_issuer: issuerOf('azure'), oidc_claims: { sub: 'sc://acme/**' } },
    ]) {
      const created = await pipeline.admin('POST', '/collectors', { tenant: pipeline.tenant, ...body });
      expect(created.status).toBe(201);
    }
    const port = await freePort();
    gateway = spawnService(
      'ingest-gateway',
      {
        ...pipeline.env,
        GATEWAY_PORT: String(port),
        AISPM_INSTANCE_ID: 'gateway-oidc-several',
        GATEWAY_OIDC_ISSUERS: JSON.stringify(
          (['gitlab', 'azure'] as const).map((which) => ({
            issuer: issuerOf(which),
            audience: issuers[which].audience,
            jwks_url: `${base}${issuers[which].path}`,
          })),
        ),
      },
      port,
    );
    await awaitReady('OIDC gateway of several issuers', gateway.child, gateway.opsUrl);
  });

  afterAll(async () => {
    await stopProcess(gateway.child);
    await new Promise((resolve) => jwks.close(resolve));
  });

  const gitlabClaims = { project_path: 'example/repository', environment: 'production', ref: 'main' };
  // The envelope's repository is example/repository: Azure's project `example` owns it.
  const azureClaims = { sub: 'sc://acme/example/deploy-connection' };

  it.each([
    ['a GitLab token of its project', () => token('gitlab', gitlabClaims)],
    ['an Azure token of its project', () => token('azure', azureClaims)],
  ])('accepts an event under %s', async (_name, make) => {
    const answer = await postToGateway(gateway.opsUrl, EVENTS, make(), envelope());
    expect([answer.status, answer.body.outcome]).toEqual([202, 'accepted']);
  });

  it.each([
    ["of one issuer shaped for the other's collector", () => token('gitlab', azureClaims)],
    ["naming one issuer, signed with the other's key", () => token('azure', azureClaims, 'gitlab')],
    [
      "of one issuer for the other's audience",
      () => token('gitlab', { ...gitlabClaims, aud: issuers.azure.audience }),
    ],
  ])('refuses a token %s with 401', async (_name, make) => {
    const answer = await postToGateway(gateway.opsUrl, EVENTS, make(), envelope());
    expect([answer.status, answer.body.code]).toEqual([401, 'GW_UNAUTHENTICATED']);
  });

  it.each([
    [
      'a GitLab token for another project',
      () => token('gitlab', { ...gitlabClaims, project_path: 'other/repository' }),
    ],
    [
      'an Azure token for another project',
      () => token('azure', { sub: 'sc://acme/other/deploy-connection' }),
    ],
  ])('refuses %s with 403', async (_name, make) => {
    const answer = await postToGateway(gateway.opsUrl, EVENTS, make(), envelope());
    expect([answer.status, answer.body.code]).toEqual([403, 'GW_SCOPE_DENIED']);
  });
});

describe('Claude Code http hook', () => {
  const HOOK = '/enterprise/aispm/hooks/claude-code';
  const post = (query: string, payload: object) =>
    fetch(`${pipeline.gatewayUrl}${HOOK}${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${unsignedKey}` },
      body: JSON.stringify(payload),
    });
  const bash = {
    session_id: `hook-${randomBytes(4).toString('hex')}`,
    hook_event_name: 'PreToolUse',
    tool_name: 'Bash',
    tool_input: { command: 'npm test' },
    tool_use_id: 'toolu_http_1',
    cwd: '/home/dev/app',
  };

  it('answers 204 with no body once the mapped event is in Kafka, and it is projected', async () => {
    const answer = await post('?repository=example%2Fapp&environment=production', bash);
    expect([answer.status, await answer.text()]).toEqual([204, '']);
    const ch = clickhouse();
    try {
      const [row] = await eventually('the hook event projected', async () => {
        const found = await ch.query<Record<string, unknown>>(
          sql`SELECT connector_type, event_type, repository, environment FROM ${name(pipeline.database)}.events FINAL WHERE tenant = ${pipeline.tenant} AND session_id = ${bash.session_id}`,
        );
        return found.length > 0 ? found : undefined;
      });
      expect(row).toEqual({
        connector_type: 'claude_code',
        event_type: 'shell_command',
        repository: 'example/app',
        environment: 'production',
      });
    } finally {
      await ch.close();
    }
  });

  it("answers an event outside the collector's scopes with a problem (a non-blocking error to Claude Code)", async () => {
    const answer = await post('?repository=example%2Fapp&environment=production', {
      ...bash,
      hook_event_name: 'PermissionRequest',
    });
    expect([answer.status, ((await answer.json()) as { code: string }).code]).toEqual([
      403,
      'GW_SCOPE_DENIED',
    ]);
  });
});

describe('mTLS listener', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aispm-mtls-'));
  const file = (name: string) => path.join(dir, name);
  let gateway: { child: import('node:child_process').ChildProcess; opsUrl: string };
  let mtlsPort: number;

  /** A key and a certificate for `cn`, signed by the test CA (or self-signed with `selfSigned`). */
  function issue(cn: string, options: { selfSigned?: boolean; server?: boolean } = {}) {
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    openssl(
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      file(`${cn}.key`),
      '-out',
      file(`${cn}.csr`),
    );
    if (options.server) writeFileSync(file(`${cn}.ext`), 'subjectAltName=IP:127.0.0.1\n');
    openssl(
      'x509',
      '-req',
      '-days',
      '1',
      '-in',
      file(`${cn}.csr`),
      '-out',
      file(`${cn}.pem`),
      ...(options.selfSigned
        ? ['-signkey', file(`${cn}.key`)]
        : ['-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial']),
      ...(options.server ? ['-extfile', file(`${cn}.ext`)] : []),
    );
    return { key: readFileSync(file(`${cn}.key`)), cert: readFileSync(file(`${cn}.pem`)) };
  }

  function post(
    client: { key: Buffer; cert: Buffer } | undefined,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const request = httpsRequest(
        {
          host: '127.0.0.1',
          port: mtlsPort,
          path: EVENTS,
          method: 'POST',
          ca: readFileSync(file('ca.pem')),
          ...(client ?? {}),
          headers: { 'content-type': 'application/json' },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
          );
        },
      );
      request.on('error', reject);
      request.end(JSON.stringify(envelope()));
    });
  }

  let bound: { key: Buffer; cert: Buffer };

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=aispm-test-ca',
        '-keyout',
        file('ca.key'),
        '-out',
        file('ca.pem'),
      ],
      { stdio: 'pipe' },
    );
    issue('server', { server: true });
    bound = issue('collector');
    const fingerprint = new X509Certificate(bound.cert).fingerprint256.replace(/:/g, '').toLowerCase();
    const created = await pipeline.admin('POST', '/collectors', {
      tenant: pipeline.tenant,
      cert_sha256: fingerprint,
    });
    expect(created.status).toBe(201);
    const port = await freePort();
    mtlsPort = await freePort();
    gateway = spawnService(
      'ingest-gateway',
      {
        ...pipeline.env,
        GATEWAY_PORT: String(port),
        AISPM_INSTANCE_ID: 'gateway-mtls',
        GATEWAY_MTLS_PORT: String(mtlsPort),
        GATEWAY_TLS_CERT_FILE: file('server.pem'),
        GATEWAY_TLS_KEY_FILE: file('server.key'),
        GATEWAY_TLS_CLIENT_CA_FILE: file('ca.pem'),
      },
      port,
    );
    await awaitReady('mTLS gateway', gateway.child, gateway.opsUrl);
  });

  afterAll(async () => {
    await stopProcess(gateway.child);
  });

  it('accepts an event from the collector bound to the client certificate', async () => {
    const answer = await post(bound);
    expect([answer.status, answer.body.outcome]).toEqual([202, 'accepted']);
  });

  it('refuses a certificate of the right CA that is bound to no collector', async () => {
    const answer = await post(issue('stranger'));
    expect([answer.status, answer.body.code]).toEqual([401, 'GW_UNAUTHENTICATED']);
  });

  it('refuses the handshake without a certificate, or with one from another CA', async () => {
    await expect(post(undefined)).rejects.toThrow();
    await expect(post(issue('rogue', { selfSigned: true }))).rejects.toThrow();
  });
});

describe('hostile input', () => {
  const deep = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  const invalidUtf8 = () =>
    Buffer.concat([Buffer.from('{"schema_version":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  const withEvent = (changes: Record<string, unknown>) => () => {
    const e = envelope();
    return json({ ...e, event: { ...e.event, ...changes } });
  };
  const cases: [string, () => Buffer, number, string][] = [
    ['truncated JSON', () => json(envelope()).subarray(0, 200), 400, 'GW_BAD_JSON'],
    ['invalid UTF-8', invalidUtf8, 400, 'GW_BAD_JSON'],
    ['deep nesting', () => Buffer.from(deep(100_000)), 400, 'GW_SCHEMA_INVALID'],
    ['moderate nesting', () => Buffer.from(deep(500)), 400, 'GW_SCHEMA_INVALID'],
    ['wrong types', withEvent({ evidence_refs: 'x' }), 400, 'GW_SCHEMA_INVALID'],
    ['a bad timestamp', withEvent({ occurred_at: '2026-13-45T99:00:00Z' }), 400, 'GW_SCHEMA_INVALID'],
    [
      'a constructor.prototype key',
      () => Buffer.from('{"constructor":{"prototype":{"polluted":true}}}'),
      400,
      'GW_BAD_JSON',
    ],
  ];

  it.each(cases)('answers %s with a 4xx problem document', async (_name, body, status, code) => {
    const answer = await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, body());
    expect([answer.status, answer.body.code]).toEqual([status, code]);
  });

  it('is still healthy, and accepts good events, after all of it', async () => {
    expect((await fetch(`${pipeline.gatewayUrl}/healthz`)).status).toBe(200);
    expect((await postToGateway(pipeline.gatewayUrl, EVENTS, unsignedKey, envelope())).status).toBe(202);
  });
});
