/**
 * Bad input (DESIGN §15): a seeded generator of hostile requests (support/hostile.ts) is sent at
 * every endpoint that takes input, at the service that serves it (the gateway or the API). Each must
 * get a 4xx problem document; both services must stay up and the gateway keep taking good events;
 * and each one's resident memory after the run must be within RSS_GROWTH_BOUND_MIB of what it was
 * after a warm-up.
 *
 * AISPM_FAULTS_SEED and AISPM_FAULTS_HOSTILE choose the requests; a failure names the seed.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { signRequest } from '@aispm/auth';
import { postToGateway, startPipeline, type Pipeline, type ServiceName } from '../support/platform';
import { hostileRequests, type Endpoint, type HostileRequest } from './support/hostile';
import { streamEnvelope } from './support/load';
import { Proof } from './support/proof';

jest.setTimeout(900_000);

const SEED = Number(process.env.AISPM_FAULTS_SEED ?? 20_261_129);
const COUNT = Number(process.env.AISPM_FAULTS_HOSTILE ?? 1500);
const WARM_UP = 150;
/**
 * How much each service's resident set may grow over the run. Node grows its heap lazily and
 * keeps freed pages, so a bound of zero would measure the allocator, not a leak; a leak of even
 * a few hundred bytes per request, over the 5.5 MiB bodies and 64 MiB bombs sent here, is far
 * above it.
 */
const RSS_GROWTH_BOUND_MIB = 96;

const ADMIN = '/enterprise/aispm/admin';
let envelopes = 0;
/** A valid envelope of the suite's tenant: only the mutation makes a request hostile. */
const envelope = () =>
  streamEnvelope(pipeline, `evt_hostile_${String((envelopes += 1))}`) as unknown as Record<string, unknown>;
const EVENT_TIMESTAMPS = [['event', 'occurred_at']];
const ENVELOPE_REQUIRED = ['schema_version', 'tenant', 'source', 'event', 'transport'];

/** Every route that takes input; a new route gets a line here (a test checks the OpenAPI list). */
const ENDPOINTS: readonly Endpoint[] = [
  {
    method: 'POST',
    path: '/enterprise/aispm/events',
    auth: 'collector',
    compressed: true,
    body: envelope,
    required: ENVELOPE_REQUIRED,
    timestamps: EVENT_TIMESTAMPS,
  },
  {
    method: 'POST',
    path: '/enterprise/aispm/events/batch',
    auth: 'collector',
    compressed: true,
    // One item: a mutation of it refuses the whole batch.
    body: () => [envelope()],
    required: ENVELOPE_REQUIRED,
    timestamps: EVENT_TIMESTAMPS,
  },
  {
    method: 'POST',
    path: `${ADMIN}/tenants`,
    auth: 'collector',
    body: () => ({ slug: 't-hostile', tenant_ref: 'tenant:hostile' }),
    required: ['slug', 'tenant_ref'],
  },
  { method: 'GET', path: `${ADMIN}/tenants/{slug}`, auth: 'collector' },
  { method: 'DELETE', path: `${ADMIN}/tenants/{slug}`, auth: 'collector' },
  {
    method: 'POST',
    path: `${ADMIN}/collectors`,
    auth: 'collector',
    body: () => ({ tenant: 't-hostile' }),
    required: ['tenant'],
  },
  { method: 'POST', path: `${ADMIN}/collectors/{id}/rotate`, auth: 'collector' },
  { method: 'POST', path: `${ADMIN}/collectors/{id}/revoke`, auth: 'collector' },
  {
    method: 'POST',
    path: `${ADMIN}/readers`,
    auth: 'collector',
    body: () => ({ tenant: 't-hostile', role: 'viewer' }),
    required: ['tenant', 'role'],
  },
  { method: 'POST', path: `${ADMIN}/readers/{id}/revoke`, auth: 'collector' },
  { method: 'GET', path: '/enterprise/aispm/ingestion/health?tenant={slug}', auth: 'collector' },
  {
    method: 'POST',
    path: '/v1/logs',
    auth: 'collector',
    protobufJson: true,
    body: () => ({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' } }] }] }] }),
    required: ['resourceLogs'],
  },
  {
    method: 'POST',
    path: '/enterprise/aispm/webhooks/github/{collector_id}',
    auth: 'collector',
    body: () => ({ action: 'opened' }),
    required: ['action'],
  },
  {
    method: 'POST',
    path: '/enterprise/aispm/hooks/claude-code',
    auth: 'collector',
    body: () => ({
      hook_event_name: 'PreToolUse',
      session_id: 's',
      tool_name: 'Bash',
      tool_input: { command: 'ls' },
    }),
  },
  { method: 'GET', path: '/enterprise/aispm/events/{event_id}', auth: 'collector' },
  { method: 'GET', path: '/enterprise/aispm/verify', auth: 'collector' },
  { method: 'GET', path: '/enterprise/aispm/replay/{session_id}', auth: 'collector' },
  { method: 'GET', path: '/enterprise/aispm/dashboard', auth: 'collector' },
  // A collector key may not read the stream: refused before any stream opens.
  { method: 'GET', path: '/enterprise/aispm/stream', auth: 'collector' },
  {
    method: 'GET',
    path: '/enterprise/aispm/replay-log?stage={stage}&from_offset={offset}',
    auth: 'collector',
  },
  {
    method: 'PUT',
    path: `${ADMIN}/tenants/{slug}/legal-hold`,
    auth: 'collector',
    body: () => ({ reason: 'hostile' }),
    required: ['reason'],
  },
  {
    method: 'DELETE',
    path: `${ADMIN}/tenants/{slug}/legal-hold`,
    auth: 'collector',
    body: () => ({ reason: 'hostile' }),
    required: ['reason'],
  },
  { method: 'GET', path: `${ADMIN}/tenants/{slug}/redaction`, auth: 'collector' },
  {
    method: 'PUT',
    path: `${ADMIN}/tenants/{slug}/redaction`,
    auth: 'collector',
    body: () => ({ actions: { email: 'mask' } }),
  },
  {
    method: 'POST',
    path: `${ADMIN}/tenants/{slug}/redaction/dry-run`,
    auth: 'collector',
    body: () => ({ envelope: { event: { target_summary: 'hostile' } } }),
    required: ['envelope'],
  },
  {
    method: 'POST',
    path: '/console/api/session',
    auth: 'collector',
    body: () => ({ api_key: `aispm_rk_${'0'.repeat(32)}` }),
    required: ['api_key'],
  },
];
/** Routes that take no input: reads of a service's own state, and the console's cookie alone. */
const NO_INPUT = [
  'GET /openapi.json',
  'GET /healthz',
  'GET /readyz',
  `GET ${ADMIN}/tenants`,
  'GET /console/api/session',
  'DELETE /console/api/session',
];
/** The services that answer HTTP, each with its own OpenAPI document. */
const HTTP_SERVICES = ['ingest-gateway', 'api'] as const satisfies readonly ServiceName[];
type HttpService = (typeof HTTP_SERVICES)[number];

const proof = new Proof('hostile-input');
let pipeline: Pipeline;
/** Which service serves each documented route (`METHOD /path/{}`). */
let servedBy: Map<string, HttpService>;

beforeAll(async () => {
  pipeline = await startPipeline();
  servedBy = new Map();
  // The API's document comes last: a route both documents list is the API's.
  for (const service of HTTP_SERVICES) {
    for (const route of await documentedRoutes(service)) servedBy.set(route, service);
  }
});

afterAll(async () => {
  proof.write();
  await pipeline?.stop();
});

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

function headersFor(request: HostileRequest): Record<string, string> {
  const headers: Record<string, string> = { ...request.headers };
  if (request.auth === 'wrong') {
    headers.authorization ??= `Bearer aispm_${randomBytes(12).toString('hex')}`;
    return headers;
  }
  const timestamp = Math.floor(Date.now() / 1000);
  headers.authorization = `Bearer ${pipeline.apiKey}`;
  headers['x-aispm-timestamp'] = String(timestamp);
  headers['x-aispm-signature'] = signRequest({
    secret: pipeline.signingSecret,
    timestamp,
    method: request.method,
    path: request.path,
    body: request.body ?? Buffer.alloc(0),
  });
  return headers;
}

/**
 * Writes the request's bytes as they are, over a socket of its own: no HTTP client sends a CR,
 * LF or NUL in a header, and a gateway that answers 413 and closes before reading a whole body
 * is right to, though an HTTP client reports that as a failed write.
 */
function send(request: HostileRequest): Promise<Answer> {
  const headers = headersFor(request);
  const service = servedBy.get(routeKey(request.method, request.route));
  if (!service) return Promise.reject(new Error('no service documents this route'));
  const { port } = new URL(urlOf(service));
  const body = request.body ?? Buffer.alloc(0);
  const head =
    `${request.method} ${request.path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n` +
    `content-length: ${body.length}\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    '\r\n';
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    // The answer came before the gateway stopped reading: the write error is expected.
    socket.on('error', (error) => {
      if (chunks.length === 0) reject(error);
    });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [top = '', ...rest] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(top)?.[1] ?? 0);
      const contentType = /\r\ncontent-type: ([^\r]*)/i.exec(top)?.[1] ?? '';
      let payload = rest.join('\r\n\r\n');
      if (/\r\ntransfer-encoding: chunked/i.test(top)) payload = dechunk(payload);
      resolve({ status, contentType, body: payload });
    });
    void (async () => {
      // A gateway may refuse a request by its head alone (a body over the limit, a bad path),
      // answer at once and close; body bytes still in flight would then reset the socket and
      // lose the answer. So a big body waits a moment for such an answer after the head, and
      // goes in pieces until an answer arrives.
      await new Promise((done) => socket.write(head, 'latin1', done));
      if (body.length > 65_536) {
        await new Promise((done) => {
          socket.once('data', done);
          setTimeout(done, body.length > 1024 * 1024 ? 1000 : 250);
        });
      }
      for (let at = 0; at < body.length && chunks.length === 0 && !socket.destroyed; at += 65_536) {
        await new Promise((done) => socket.write(body.subarray(at, at + 65_536), done));
        await new Promise((done) => setTimeout(done, 1));
      }
      // No half-close: the gateway would take it for a client that left before its answer.
    })();
  });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, end), 16);
    if (!size) return out;
    out += rest.slice(end + 2, end + 2 + size);
    rest = rest.slice(end + 4 + size);
  }
}

/**
 * Why `answer` is not a 4xx problem document, or undefined when it is one. A batch whose every
 * item is refused answers 400 with a receipt per item (README), each naming its code.
 */
function wrongAnswer(request: HostileRequest, answer: Answer): string | undefined {
  if (answer.status < 400 || answer.status > 499)
    return `status ${answer.status} ${answer.body.slice(0, 120)}`;
  if (
    request.route.endsWith('/batch') &&
    answer.status === 400 &&
    answer.contentType.startsWith('application/json')
  ) {
    const { accepted, items } = JSON.parse(answer.body) as {
      accepted: number;
      items: { outcome: string; code?: unknown }[];
    };
    const allRefused =
      accepted === 0 && items.every((i) => i.outcome === 'rejected' && typeof i.code === 'string');
    return allRefused ? undefined : `400 receipts that accept something`;
  }
  if (!answer.contentType.startsWith('application/problem+json'))
    return `${answer.status} as ${answer.contentType}`;
  try {
    const problem = JSON.parse(answer.body) as { status?: number; code?: unknown };
    if (problem.status !== answer.status || typeof problem.code !== 'string')
      return `${answer.status} malformed problem`;
  } catch {
    return `${answer.status} body not JSON`;
  }
  return undefined;
}

function urlOf(service: HttpService): string {
  return service === 'api' ? pipeline.apiUrl : pipeline.gatewayUrl;
}

/** A route as `METHOD /path/{}`: no query, every parameter alike. */
function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.replace(/\?.*$/, '').replace(/\{[a-z_]+\}/g, '{}')}`;
}

/** The routes `service`'s OpenAPI document lists; none while it serves no document. */
async function documentedRoutes(service: HttpService): Promise<string[]> {
  const response = await fetch(`${urlOf(service)}/openapi.json`);
  if (response.status === 404) return [];
  const document = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(document.paths).flatMap(([route, methods]) =>
    Object.keys(methods).map((method) => routeKey(method, route)),
  );
}

/** The resident set of each HTTP service now, in MiB. */
function residentMiB(): Record<HttpService, number> {
  const of = (service: HttpService) => {
    const status = readFileSync(`/proc/${pipeline.processes.get(service)!.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
  };
  return { 'ingest-gateway': of('ingest-gateway'), api: of('api') };
}

async function accepted(): Promise<number> {
  const e = streamEnvelope(pipeline, `evt_good_${randomBytes(6).toString('hex')}`);
  return (
    await postToGateway(pipeline.gatewayUrl, '/enterprise/aispm/events', pipeline.apiKey, e, {
      secret: pipeline.signingSecret,
    })
  ).status;
}

it('lists every route of both OpenAPI documents, as hostile-input target or as taking no input', async () => {
  const listed = new Set([...ENDPOINTS.map((e) => routeKey(e.method, e.path)), ...NO_INPUT]);
  expect([...servedBy.keys()].filter((route) => !listed.has(route))).toEqual([]);
  // Every target is documented, so its requests go to the service that serves it.
  expect(ENDPOINTS.map((e) => routeKey(e.method, e.path)).filter((route) => !servedBy.has(route))).toEqual(
    [],
  );
});

it(`answers ${COUNT} hostile requests (seed ${SEED}) with 4xx problem documents, stays up, keeps its memory`, async () => {
  const requests = hostileRequests(ENDPOINTS, SEED, COUNT);
  const failures = new Map<string, number>();
  const fault = proof.injected(`${COUNT} hostile requests (seed ${SEED})`);
  const tryAll = async (batch: readonly HostileRequest[]) => {
    for (const request of batch) {
      const why = wrongAnswer(
        request,
        await send(request).catch((error: unknown) => ({ status: -1, contentType: '', body: String(error) })),
      );
      if (why) {
        const key = `${request.kind} → ${request.method} ${request.route}: ${why}`;
        failures.set(key, (failures.get(key) ?? 0) + 1);
      }
    }
    proof.hostile(batch.length);
  };
  await tryAll(requests.slice(0, WARM_UP));
  expect(await accepted()).toBe(202);
  const before = residentMiB();
  await tryAll(requests.slice(WARM_UP));
  const after = residentMiB();
  for (const service of HTTP_SERVICES)
    process.stdout.write(
      `${service} resident memory: ${before[service].toFixed(1)} MiB before, ${after[service].toFixed(1)} MiB after\n`,
    );

  expect([...failures]).toEqual([]);
  for (const service of HTTP_SERVICES) {
    expect([service, pipeline.processes.get(service)!.exitCode]).toEqual([service, null]);
    expect([service, (await fetch(`${urlOf(service)}/healthz`)).status]).toEqual([service, 200]);
  }
  expect(await accepted()).toBe(202);
  const grownPast = HTTP_SERVICES.filter((s) => after[s] - before[s] > RSS_GROWTH_BOUND_MIB);
  expect(grownPast).toEqual([]);
  proof.survived(fault);
});
