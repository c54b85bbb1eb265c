/**
 * Roles and tenant isolation in one matrix (DESIGN §5): every read endpoint and the tenant admin
 * endpoints the control-plane suite does not cover, called by every kind of credential — viewer,
 * auditor and admin of the tenant, the same roles of another tenant, a collector, the platform
 * operator and an unknown key — each against tenant A's resources. The expected statuses are the
 * documented ones (docs/posture.md, docs/replay.md, docs/observability.md, docs/redaction.md).
 * A 200 to another tenant's reader must hold nothing of tenant A.
 */
import { randomBytes } from 'node:crypto';
import { newEventOf } from '../support/fixtures';
import { eventually, postToGateway, startPipeline, type Pipeline } from '../support/platform';

let pipeline: Pipeline;
let keys: Record<Who, string>;
let eventId: string;
let sessionId: string;

type Who =
  | 'viewer'
  | 'auditor'
  | 'admin'
  | 'otherViewer'
  | 'otherAuditor'
  | 'otherAdmin'
  | 'collector'
  | 'operator'
  | 'unknown';

const OTHERS: readonly Who[] = ['otherViewer', 'otherAuditor', 'otherAdmin'];

beforeAll(async () => {
  pipeline = await startPipeline();
  const other = `${pipeline.tenantPrefix}-other`;
  expect(
    (await pipeline.admin('POST', '/tenants', { slug: other, tenant_ref: `tenant:${other}` })).status,
  ).toBe(201);
  const reader = async (tenant: string, role: string) =>
    String((await pipeline.admin('POST', '/readers', { tenant, role })).body.api_key);
  keys = {
    viewer: await reader(pipeline.tenant, 'viewer'),
    auditor: await reader(pipeline.tenant, 'auditor'),
    admin: await reader(pipeline.tenant, 'admin'),
    otherViewer: await reader(other, 'viewer'),
    otherAuditor: await reader(other, 'auditor'),
    otherAdmin: await reader(other, 'admin'),
    collector: pipeline.apiKey,
    operator: pipeline.operatorKey,
    unknown: `aispm_rk_${randomBytes(16).toString('hex')}`,
  };
  const envelope = newEventOf(pipeline.tenantRef);
  eventId = envelope.event.event_id;
  sessionId = `sess_matrix_${randomBytes(4).toString('hex')}`;
  envelope.event.session_id = sessionId;
  const sent = await postToGateway(
    pipeline.gatewayUrl,
    '/enterprise/aispm/events',
    pipeline.apiKey,
    envelope,
    {
      secret: pipeline.signingSecret,
    },
  );
  expect(sent.status).toBe(202);
  // Every reader key must be known to the gateway and the event projected before the matrix runs.
  await eventually('the event to be readable by its tenant', async () => {
    const answer = await call('GET', `/enterprise/aispm/events/${eventId}`, keys.viewer);
    return answer.status === 200 ? true : undefined;
  });
  await eventually('the other tenant’s reader to be known', async () => {
    const answer = await call('GET', '/enterprise/aispm/dashboard', keys.otherViewer);
    return answer.status === 200 ? true : undefined;
  });
}, 180_000);

afterAll(async () => {
  await pipeline?.stop();
}, 120_000);

/** One call; a streaming answer (SSE) is cut once its status is known. */
async function call(
  method: string,
  route: string,
  key: string,
  body?: object,
): Promise<{ status: number; text: string }> {
  const controller = new AbortController();
  const response = await fetch(`${pipeline.gatewayUrl}${route}`, {
    method,
    signal: controller.signal,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    controller.abort();
    return { status: response.status, text: '' };
  }
  return { status: response.status, text: await response.text() };
}

const others = (status: number) => Object.fromEntries(OTHERS.map((who) => [who, status]));
const outsiders = { collector: 403, unknown: 401 };

/** Readers of the tenant (any role) read their own tenant; another tenant's see only theirs. */
const anyReader = (otherStatus: number, operator: number) =>
  ({ viewer: 200, auditor: 200, admin: 200, ...others(otherStatus), operator, ...outsiders }) as Record<
    Who,
    number
  >;
/** Auditors and admins only; `other` is what another tenant's auditor or admin gets. */
const auditors = (other: number) =>
  ({
    viewer: 403,
    auditor: 200,
    admin: 200,
    // A viewer may replay nothing anywhere, so the role check answers first.
    otherViewer: 403,
    otherAuditor: other,
    otherAdmin: other,
    operator: 403,
    ...outsiders,
  }) as Record<Who, number>;
/** The tenant's admins and the platform operator. */
const tenantAdmins = {
  viewer: 403,
  auditor: 403,
  admin: 200,
  ...others(403),
  operator: 200,
  ...outsiders,
} as Record<Who, number>;

// Method, route (`:event`, `:session` and `:tenant` are tenant A's), body, expected per credential.
const matrix: [string, string, object | undefined, Record<Who, number>][] = [
  ['GET', '/enterprise/aispm/dashboard', undefined, anyReader(200, 403)],
  ['GET', '/enterprise/aispm/events/:event', undefined, anyReader(404, 403)],
  ['GET', '/enterprise/aispm/replay/:session', undefined, auditors(404)],
  ['GET', '/enterprise/aispm/ingestion/health?tenant=:tenant', undefined, anyReader(403, 200)],
  ['GET', '/enterprise/aispm/stream', undefined, anyReader(200, 403)],
  // The replay API reads the caller's own tenant: another tenant's auditor replays its own.
  ['GET', '/enterprise/aispm/replay-log?stage=normalized&dry_run=true', undefined, auditors(200)],
  ['GET', '/enterprise/aispm/admin/tenants/:tenant/redaction', undefined, tenantAdmins],
  [
    'POST',
    '/enterprise/aispm/admin/tenants/:tenant/redaction/dry-run',
    { envelope: { event: { target_summary: 'mail ops@example.com' } } },
    tenantAdmins,
  ],
];

it.each(matrix)('%s %s', async (method, route, body, expected) => {
  const path = route
    .replace(':event', eventId)
    .replace(':session', sessionId)
    .replace(':tenant', pipeline.tenant);
  for (const [who, status] of Object.entries(expected) as [Who, number][]) {
    const answer = await call(method, path, keys[who], body);
    expect([who, answer.status]).toEqual([who, status]);
    // Whatever another tenant may read, none of it is tenant A's. (A refusal may echo the id the
    // caller sent; that is no leak.)
    if (OTHERS.includes(who) && answer.status < 300) {
      expect([who, answer.text.includes(eventId) || answer.text.includes(sessionId)]).toEqual([who, false]);
    }
  }
});
