/**
 * Tenant isolation in one matrix (DESIGN §5, §15): every route of the gateway's and the API's
 * OpenAPI documents, at the service that serves it, called by every kind of credential — viewer, auditor and admin of tenant A, the same roles of
 * tenant B, A's and B's collectors, the platform operator and an unknown key — each aimed at
 * tenant A's resources; then every ClickHouse read user of both tenants against the shared tables
 * (a ClickHouse of the suite's own: the local server restarts to read a change of users). The expected statuses are the documented ones (docs/posture.md, docs/replay.md,
 * docs/observability.md, docs/redaction.md, docs/control-plane.md). An answer another tenant gets
 * must hold nothing of A's, and at the end A is checked to be exactly as A left it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { hubSignature } from '@aispm/auth';
import { ClickHouse } from '@aispm/clickhouse';
import type { Envelope } from '@aispm/contracts';
import { newEventOf } from '../support/fixtures';
import { PrivateInfra } from '../support/private-infra';
import {
  clickhouse,
  clickhouseLogin,
  eventually,
  postToGateway,
  REPO,
  startPipeline,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(240_000);

type Who =
  | 'viewer'
  | 'auditor'
  | 'admin'
  | 'otherViewer'
  | 'otherAuditor'
  | 'otherAdmin'
  | 'collector'
  | 'otherCollector'
  | 'operator'
  | 'unknown';

const WHO: readonly Who[] = [
  'viewer',
  'auditor',
  'admin',
  'otherViewer',
  'otherAuditor',
  'otherAdmin',
  'collector',
  'otherCollector',
  'operator',
  'unknown',
];
/** Credentials of tenant B: whatever they get must hold nothing of A. */
const OTHERS: readonly Who[] = ['otherViewer', 'otherAuditor', 'otherAdmin', 'otherCollector'];
/**
 * A cell not called here: A's own admin or the operator doing something that would change A for
 * the rest of the suite (delete it, revoke its keys). control-plane.test.ts proves those work.
 */
const CHANGES_A = 'changes A';
type Cell = number | typeof CHANGES_A;

interface DashboardUser {
  user: string;
  password: string;
  database: string;
}

let pipeline: Pipeline;
let clickhouseUrl: string;
let other: { slug: string; tenantRef: string; signingSecret: string };
let keys: Record<Who, string>;
let dashboards: Partial<Record<Who, DashboardUser>>;
let viewerId: string;
let eventId: string;
let sessionId: string;
let profileBefore: unknown;

const ADMIN = '/enterprise/aispm/admin';

beforeAll(async () => {
  const own = await PrivateInfra.start(['clickhouse']);
  clickhouseUrl = own.clickhouseUrl;
  pipeline = await startPipeline(own.clickhouseEnv);
  const slug = `${pipeline.tenantPrefix}-other`;
  other = { slug, tenantRef: `tenant:${slug}`, signingSecret: '' };
  expect((await pipeline.admin('POST', '/tenants', { slug, tenant_ref: other.tenantRef })).status).toBe(201);
  // B's collector key, and a signing secret of B's to forge A's webhook with.
  const otherCollector = await pipeline.admin('POST', '/collectors', { tenant: slug });
  const otherSigned = await pipeline.admin('POST', '/collectors', { tenant: slug, require_signature: true });
  other.signingSecret = String(otherSigned.body.signing_secret);
  dashboards = {};
  const reader = async (who: Who, tenant: string, role: string) => {
    const { body } = await pipeline.admin('POST', '/readers', { tenant, role });
    dashboards[who] = body.clickhouse as DashboardUser;
    if (who === 'viewer') viewerId = String(body.reader_id);
    return String(body.api_key);
  };
  keys = {
    viewer: await reader('viewer', pipeline.tenant, 'viewer'),
    auditor: await reader('auditor', pipeline.tenant, 'auditor'),
    admin: await reader('admin', pipeline.tenant, 'admin'),
    otherViewer: await reader('otherViewer', slug, 'viewer'),
    otherAuditor: await reader('otherAuditor', slug, 'auditor'),
    otherAdmin: await reader('otherAdmin', slug, 'admin'),
    collector: pipeline.apiKey,
    otherCollector: String(otherCollector.body.api_key),
    operator: pipeline.operatorKey,
    unknown: `aispm_rk_${randomBytes(16).toString('hex')}`,
  };
  const envelope = newEventOf(pipeline.tenantRef);
  eventId = envelope.event.event_id;
  sessionId = `sess_matrix_${randomBytes(4).toString('hex')}`;
  envelope.event.session_id = sessionId;
  // Every reader key must be known to the API and the event projected before the matrix runs.
  await sendAsA(envelope);
  await eventually('the other tenant’s reader to be known', async () => {
    const answer = await call('GET', '/enterprise/aispm/dashboard', keys.otherViewer);
    return answer.status === 200 ? true : undefined;
  });
  // Every dashboard user is in before the matrix: ClickHouse restarts to read each new one, and
  // the reads the matrix calls must not meet a restart.
  for (const user of Object.values(dashboards)) {
    await eventually(`${user.user} to be provisioned`, async () =>
      (await clickhouseLogin(clickhouseUrl, user.user, user.password).catch(() => undefined)) === 'in'
        ? true
        : undefined,
    );
  }
  profileBefore = JSON.parse(
    (await call('GET', `${ADMIN}/tenants/${pipeline.tenant}/redaction`, keys.admin)).text,
  );
}, 240_000);

afterAll(async () => {
  await pipeline?.stop();
}, 120_000);

/** Sends an event with A's collector, signed, and waits until A's viewer can read it. */
async function sendAsA(envelope: Envelope): Promise<void> {
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
  await eventually(`${envelope.event.event_id} to be readable by its tenant`, async () => {
    const answer = await call('GET', `/enterprise/aispm/events/${envelope.event.event_id}`, keys.viewer);
    return answer.status === 200 ? true : undefined;
  });
}

/** One call to `service` (the API unless told); a streaming answer (SSE) is cut once its status is known. */
async function call(
  method: string,
  route: string,
  key: string,
  body?: object | string,
  headers: Record<string, string> = {},
  service: Service = 'api',
): Promise<{ status: number; text: string }> {
  const controller = new AbortController();
  const base = service === 'api' ? pipeline.apiUrl : pipeline.gatewayUrl;
  const response = await fetch(`${base}${route}`, {
    method,
    signal: controller.signal,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    controller.abort();
    return { status: response.status, text: '' };
  }
  return { status: response.status, text: await response.text() };
}

/** What each credential gets; cells not given are `base`. */
const cells = (base: Cell, given: Partial<Record<Who, Cell>>): Record<Who, Cell> =>
  Object.fromEntries(WHO.map((who) => [who, given[who] ?? base])) as Record<Who, Cell>;

const collectors = { collector: 403, otherCollector: 403, unknown: 401 };
/** Readers of the tenant (any role) read their own tenant; another tenant's see only theirs. */
const anyReader = (otherStatus: number, operator: number) =>
  cells(otherStatus, { viewer: 200, auditor: 200, admin: 200, operator, ...collectors });
/** Auditors and admins only; `otherStatus` is what another tenant's auditor or admin gets. */
const auditors = (otherStatus: number) =>
  // A viewer may replay nothing anywhere, so the role check answers first.
  cells(403, { auditor: 200, admin: 200, otherAuditor: otherStatus, otherAdmin: otherStatus, ...collectors });
/** The tenant's admins and the platform operator; `ok` is their answer. */
const tenantAdmins = (ok: Cell) => cells(403, { admin: ok, operator: ok, ...collectors });
/** The platform operator only. */
const operatorOnly = (ok: Cell) => cells(403, { operator: ok, ...collectors });
/**
 * Ingestion: only a collector's key is accepted, and it writes to its own tenant only. B's
 * collector sending A's `tenant_ref` is refused whole; readers' and the operator's keys are no
 * collector keys.
 */
const ingest = (otherCollector: number) => cells(403, { collector: CHANGES_A, otherCollector, unknown: 401 });
/** Routes with no tenant data, answered alike to everyone (and to no one). */
const everyone = (status: number) => cells(status, {});

/** An event of A that asks for no signature, so a key is all a caller needs to try. */
function unsignedEventOfA() {
  const envelope = newEventOf(pipeline.tenantRef);
  envelope.integrity.signature_required = false;
  return envelope;
}

const webhookBody = readFileSync(
  path.join(REPO, 'test/fixtures/collectors/github-workflow-job.json'),
  'utf8',
);

// Method, route (`:event`, `:session`, `:tenant`, `:collector` and `:reader` are A's), body,
// extra headers per credential, and what each credential gets. Every route of either
// /openapi.json is here (a test below checks it).
type Row = [
  string,
  string,
  ((who: Who) => object | string) | undefined,
  ((who: Who) => Record<string, string>) | undefined,
  Record<Who, Cell>,
];
type Service = 'gateway' | 'api';
/** What both services answer alike. */
const probes: Row[] = [
  ['GET', '/openapi.json', undefined, undefined, everyone(200)],
  ['GET', '/healthz', undefined, undefined, everyone(200)],
  ['GET', '/readyz', undefined, undefined, everyone(200)],
  // Metrics name tenants: they are on the ops port only (docs/observability.md).
  ['GET', '/metrics', undefined, undefined, everyone(404)],
];
/** The collectors' edge. */
const gatewayRoutes: Row[] = [
  ['POST', '/enterprise/aispm/events', () => unsignedEventOfA(), undefined, ingest(403)],
  ['POST', '/enterprise/aispm/events/batch', () => [unsignedEventOfA()], undefined, ingest(400)],
  // OTLP carries no tenant: a key's events go to the key's tenant, so B's land in B (checked below).
  [
    'POST',
    '/v1/logs',
    () => readFileSync(path.join(REPO, 'test/fixtures/collectors/otlp-logs.json'), 'utf8'),
    undefined,
    ingest(200),
  ],
  // A Claude Code http hook carries no tenant either: B's key writes to B.
  [
    'POST',
    '/enterprise/aispm/hooks/claude-code',
    () =>
      readFileSync(path.join(REPO, 'test/fixtures/collectors/claude-code-pre-tool-use-bash.json'), 'utf8'),
    undefined,
    ingest(204),
  ],
  // A webhook is authenticated by its signature under A's collector's secret, not by a key: B's
  // secret, or any key used as a secret, is refused.
  [
    'POST',
    '/enterprise/aispm/webhooks/github/:collector',
    () => webhookBody,
    (who) => ({
      'x-github-event': 'workflow_job',
      'x-hub-signature-256': hubSignature(
        who === 'otherCollector' ? other.signingSecret : keys[who],
        webhookBody,
      ),
    }),
    everyone(401),
  ],
];
/** The readers' and administrators' API. */
const apiRoutes: Row[] = [
  ['GET', '/enterprise/aispm/stream', undefined, undefined, anyReader(200, 403)],
  ['GET', '/enterprise/aispm/dashboard', undefined, undefined, anyReader(200, 403)],
  ['GET', '/enterprise/aispm/events/:event', undefined, undefined, anyReader(404, 403)],
  ['GET', '/enterprise/aispm/replay/:session', undefined, undefined, auditors(404)],
  // Verification reads the caller's own tenant: another tenant's auditor verifies its own chain.
  ['GET', '/enterprise/aispm/verify', undefined, undefined, auditors(200)],
  ['GET', '/enterprise/aispm/ingestion/health?tenant=:tenant', undefined, undefined, anyReader(403, 200)],
  // The replay API reads the caller's own tenant: another tenant's auditor replays its own.
  ['GET', '/enterprise/aispm/replay-log?stage=normalized&dry_run=true', undefined, undefined, auditors(200)],
  // Each sees the tenants it administers (B's admin: B; a viewer or collector: none).
  ['GET', `${ADMIN}/tenants`, undefined, undefined, cells(200, { unknown: 401 })],
  // Nobody but the operator creates tenants, and nobody can claim A's tenant_ref.
  [
    'POST',
    `${ADMIN}/tenants`,
    () => ({ slug: `${pipeline.tenantPrefix}-claim`, tenant_ref: pipeline.tenantRef }),
    undefined,
    operatorOnly(409),
  ],
  ['GET', `${ADMIN}/tenants/:tenant`, undefined, undefined, tenantAdmins(200)],
  ['DELETE', `${ADMIN}/tenants/:tenant`, undefined, undefined, operatorOnly(CHANGES_A)],
  [
    'PUT',
    `${ADMIN}/tenants/:tenant/legal-hold`,
    () => ({ reason: 'matrix' }),
    undefined,
    tenantAdmins(CHANGES_A),
  ],
  [
    'DELETE',
    `${ADMIN}/tenants/:tenant/legal-hold`,
    () => ({ reason: 'matrix' }),
    undefined,
    tenantAdmins(CHANGES_A),
  ],
  ['GET', `${ADMIN}/tenants/:tenant/redaction`, undefined, undefined, tenantAdmins(200)],
  [
    'PUT',
    `${ADMIN}/tenants/:tenant/redaction`,
    () => profileBefore as object,
    undefined,
    tenantAdmins(CHANGES_A),
  ],
  [
    'POST',
    `${ADMIN}/tenants/:tenant/redaction/dry-run`,
    () => ({ envelope: { event: { target_summary: 'mail ops@example.com' } } }),
    undefined,
    tenantAdmins(200),
  ],
  ['POST', `${ADMIN}/collectors`, () => ({ tenant: pipeline.tenant }), undefined, tenantAdmins(CHANGES_A)],
  ['POST', `${ADMIN}/collectors/:collector/rotate`, undefined, undefined, tenantAdmins(CHANGES_A)],
  ['POST', `${ADMIN}/collectors/:collector/revoke`, undefined, undefined, tenantAdmins(CHANGES_A)],
  [
    'POST',
    `${ADMIN}/readers`,
    () => ({ tenant: pipeline.tenant, role: 'admin' }),
    undefined,
    tenantAdmins(CHANGES_A),
  ],
  ['POST', `${ADMIN}/readers/:reader/revoke`, undefined, undefined, tenantAdmins(CHANGES_A)],
  // A console session is a reader's, of the reader's own tenant: B's readers sign in to B.
  [
    'POST',
    '/console/api/session',
    (who) => ({ api_key: keys[who] }),
    () => ({ 'x-aispm-console': '1' }),
    cells(200, { ...collectors, operator: 403 }),
  ],
  // A key is no session: only the cookie is.
  ['GET', '/console/api/session', undefined, undefined, everyone(401)],
  // Signing out clears a cookie and reads nothing.
  ['DELETE', '/console/api/session', undefined, () => ({ 'x-aispm-console': '1' }), everyone(204)],
];
const matrix: [Service, ...Row][] = [
  ...[...probes, ...gatewayRoutes].map((row): [Service, ...Row] => ['gateway', ...row]),
  ...[...probes, ...apiRoutes].map((row): [Service, ...Row] => ['api', ...row]),
];

/** A route as `METHOD /path/:x`: no query, every parameter alike. */
const routeKey = (method: string, route: string) =>
  `${method.toUpperCase()} ${route.split('?')[0]!.replace(/\{[a-z_]+\}|:[a-z]+/g, ':x')}`;

it('covers every route of the OpenAPI documents', async () => {
  const documented = new Set<string>();
  for (const service of ['gateway', 'api'] as const) {
    const answer = await call('GET', '/openapi.json', keys.unknown, undefined, {}, service);
    // A service without a document fails its /openapi.json row below; here it lists nothing.
    if (answer.status === 404) continue;
    const { paths } = JSON.parse(answer.text) as { paths: Record<string, Record<string, unknown>> };
    for (const [route, methods] of Object.entries(paths))
      for (const method of Object.keys(methods)) documented.add(routeKey(method, route));
  }
  // Which service serves a route is the matrix's to say: one sent to the other service would not
  // get its expected answers. The probes are compared apart, as a document may leave them out.
  const probeRoutes = new Set(probes.map(([method, route]) => routeKey(method, route)));
  const covered = [...gatewayRoutes, ...apiRoutes].map(([method, route]) => routeKey(method, route));
  expect(covered.sort()).toEqual([...documented].filter((route) => !probeRoutes.has(route)).sort());
});

it.each(matrix)('%s: %s %s', async (service, method, route, body, headers, expected) => {
  const path = route
    .replace(':event', eventId)
    .replace(':session', sessionId)
    .replace(':tenant', pipeline.tenant)
    .replace(':collector', pipeline.collectorId)
    .replace(':reader', viewerId);
  for (const who of WHO) {
    const status = expected[who];
    if (status === CHANGES_A) continue;
    const answer = await call(method, path, keys[who], body?.(who), headers?.(who), service);
    expect([who, answer.status]).toEqual([who, status]);
    // Whatever another tenant may read, none of it is A's. (A refusal may echo what the caller
    // sent; that is no leak.)
    if (OTHERS.includes(who) && answer.status < 300) {
      const leaked = [
        eventId,
        sessionId,
        pipeline.tenantRef,
        `"${pipeline.tenant}"`,
        pipeline.collectorId,
      ].filter((secret) => answer.text.includes(secret));
      expect([who, leaked]).toEqual([who, []]);
    }
  }
});

describe('ClickHouse read users', () => {
  const tenantOf = (who: Who) => (who.startsWith('other') ? 'other' : 'own');
  const readers: Who[] = ['viewer', 'auditor', 'admin', 'otherViewer', 'otherAuditor', 'otherAdmin'];

  it.each(readers)("%s's dashboard user reads its tenant's rows and nothing else", async (who) => {
    const mine = dashboards[who]!;
    expect(mine.database).toBe(pipeline.database);
    const ch = new ClickHouse({ url: clickhouseUrl, username: mine.user, password: mine.password });
    try {
      const slug = tenantOf(who) === 'own' ? pipeline.tenant : other.slug;
      for (const table of ['events', 'event_lookup', 'health_evidence']) {
        const tenants = await ch.query<{ tenant: string }>(
          `SELECT DISTINCT tenant FROM ${mine.database}.${table}`,
        );
        expect([table, tenants.filter((row) => row.tenant !== slug)]).toEqual([table, []]);
      }
      for (const statement of [
        'SELECT query FROM system.processes',
        'SELECT partition FROM system.parts',
        `SELECT count() FROM ${pipeline.database}.audit_log`,
        `INSERT INTO ${mine.database}.events (tenant) VALUES ('${slug}')`,
      ]) {
        await expect(ch.query(statement)).rejects.toThrow(
          /Not enough privileges|ACCESS_DENIED|readonly|Cannot/,
        );
      }
    } finally {
      await ch.close();
    }
  });
});

it('leaves tenant A exactly as A left it', async () => {
  const describe = JSON.parse(
    (await call('GET', `${ADMIN}/tenants/${pipeline.tenant}`, keys.operator)).text,
  ) as {
    legal_hold: unknown;
    collectors: { collector_id: string; revoked: boolean }[];
    readers: { reader_id: string; revoked: boolean }[];
  };
  expect(describe.legal_hold).toBeFalsy();
  expect(describe.collectors).toEqual([
    { ...describe.collectors[0], collector_id: pipeline.collectorId, revoked: false },
  ]);
  expect(describe.readers.map((r) => r.revoked)).toEqual([false, false, false]);
  expect(
    JSON.parse((await call('GET', `${ADMIN}/tenants/${pipeline.tenant}/redaction`, keys.admin)).text),
  ).toEqual(profileBefore);
  // A's collector still writes and A's reader still reads; A's rows are A's own events only.
  const envelope = newEventOf(pipeline.tenantRef);
  await sendAsA(envelope);
  const ch = clickhouse(clickhouseUrl);
  try {
    const rows = await ch.query<{ event_id: string }>(
      `SELECT event_id FROM ${pipeline.database}.events FINAL WHERE tenant = '${pipeline.tenant}' ORDER BY event_id`,
    );
    expect(rows.map((r) => r.event_id)).toEqual([eventId, envelope.event.event_id].sort());
    // B's OTLP events went to B.
    const otherRows = await eventually('B’s OTLP events', async () => {
      const found = await ch.query<{ n: string }>(
        `SELECT count() AS n FROM ${pipeline.database}.events FINAL WHERE tenant = '${other.slug}'`,
      );
      return Number(found[0]?.n) > 0 ? found : undefined;
    });
    expect(Number(otherRows[0]!.n)).toBeGreaterThan(0);
  } finally {
    await ch.close();
  }
});
