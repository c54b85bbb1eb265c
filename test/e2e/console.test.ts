/**
 * The CSO/CISO console in a real browser (DESIGN §17, issue 21): Debian's chromium, driven by
 * playwright-core, against the four built services and the real servers. One pipeline and one
 * browser for the suite; every test signs in on a fresh browser context of its own, so no cookie
 * crosses from one test to the next.
 *
 * What the page shows is compared with what the API answers the same reader, never with numbers
 * written here, and every wait is for a state, never for a time.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { name, sql } from '@aispm/clickhouse';
import type { Envelope } from '@aispm/contracts';
import { newEventOf } from '../support/fixtures';
import { onSuiteEnd } from '../support/reaper';
import { SseClient } from '../support/sse';
import {
  clickhouse,
  eventually,
  freePort,
  postToGateway,
  REPO,
  startPipeline,
  tenantWithCollector,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(240_000);

/** Debian's chromium (apt), never a downloaded browser. */
const CHROMIUM = process.env.AISPM_CHROMIUM ?? '/usr/bin/chromium';
/** How long one wait for the page may take before the test fails, naming what it waited for. */
const WAIT_MS = 30_000;

/** Markup in every attacker-controlled field that reaches the page (test 3). */
const HOSTILE = {
  target_summary: `<img src=x onerror="window.__pwned=1"> then <script>window.__pwned=1</script>`,
  tool_name: `<script>window.__pwned=1</script>`,
  repository: `<img src=x onerror="window.__pwned=1">`,
  agent_id: `<svg onload="window.__pwned=1">agent`,
};

interface Seeded {
  readonly id: string;
  readonly session: string;
  readonly agent: string;
  readonly repository: string;
  readonly decision: string;
  readonly severity: string;
  readonly target: string;
  readonly occurredMs: number;
}

let pipeline: Pipeline;
let browser: Browser;
/** Reader keys of the pipeline's tenant, by role. */
let keys: { viewer: string; auditor: string; admin: string };
let auditorId: string;
/** The events sent before the first test, in sending order. */
let seeded: Seeded[];
/** The session whose decisions were sent out of order (test 5). */
let timelineSession: string;

const contexts = new Set<BrowserContext>();

beforeAll(async () => {
  pipeline = await startPipeline();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  // Nothing outlives the suite: the browser goes with it even when a hook fails.
  onSuiteEnd(async () => {
    if (browser.isConnected()) await browser.close();
  });
  const reader = async (role: 'viewer' | 'auditor' | 'admin') => {
    const created = await pipeline.admin('POST', '/readers', { tenant: pipeline.tenant, role });
    expect(created.status).toBe(201);
    return { id: String(created.body.reader_id), key: String(created.body.api_key) };
  };
  const viewer = await reader('viewer');
  const auditor = await reader('auditor');
  const admin = await reader('admin');
  keys = { viewer: viewer.key, auditor: auditor.key, admin: admin.key };
  auditorId = auditor.id;

  // Two repositories; one session of three decisions (and an event that is no decision), sent
  // out of order, so the timeline's order can only come from the events' times.
  const suffix = randomBytes(3).toString('hex');
  timelineSession = `sess_timeline_${suffix}`;
  const base = Date.now() - 10 * 60_000;
  const event = (
    index: number,
    session: string,
    agent: string,
    repository: string,
    decision: string,
    severity: string,
    target: string,
  ): Seeded => ({
    id: `evt_console_${suffix}_${index}`,
    session,
    agent,
    repository,
    decision,
    severity,
    target,
    occurredMs: base + index * 1000,
  });
  seeded = [
    event(3, timelineSession, 'agent-alpha', 'acme/api', 'block', 'critical', 'step three: terraform/prod'),
    event(4, timelineSession, 'agent-alpha', 'acme/api', 'not_applicable', 'none', 'no decision'),
    event(2, timelineSession, 'agent-alpha', 'acme/api', 'require_approval', 'high', 'step two: git push'),
    event(1, timelineSession, 'agent-alpha', 'acme/api', 'allow', 'low', 'step one: read docs'),
    event(5, `sess_web_${suffix}`, 'agent-beta', 'acme/web', 'warn', 'medium', 'npm install'),
    event(6, `sess_web_${suffix}`, 'agent-beta', 'acme/web', 'allow', 'none', 'npm test'),
  ];
  for (const s of seeded) {
    await send({
      event_id: s.id,
      session_id: s.session,
      agent_id: s.agent,
      repository: s.repository,
      decision: s.decision,
      severity: s.severity,
      target_summary: s.target,
      occurred_at: new Date(s.occurredMs).toISOString(),
    });
  }
  const decisions = seeded.filter((s) => s.decision !== 'not_applicable').length;
  await eventually('the seeded events to be projected', async () => {
    const doc = await api('/enterprise/aispm/dashboard', keys.viewer);
    return (doc.body as { overview?: { total_decisions?: number } }).overview?.total_decisions === decisions
      ? true
      : undefined;
  });
}, 240_000);

afterEach(async () => {
  await Promise.all([...contexts].map((context) => context.close()));
  contexts.clear();
});

afterAll(async () => {
  if (browser?.isConnected()) await browser.close();
  await pipeline?.stop();
}, 120_000);

// ---- helpers ----

/** Sends one event of the pipeline's tenant with `fields` over the public example; signed. */
async function send(fields: Record<string, unknown>, tenantRef = pipeline.tenantRef): Promise<string> {
  const envelope: Envelope = newEventOf(tenantRef);
  const at = new Date().toISOString();
  Object.assign(envelope.event, { occurred_at: at, received_at: at }, fields);
  envelope.transport.idempotency_key = envelope.event.event_id;
  const answer = await postToGateway(
    pipeline.gatewayUrl,
    '/enterprise/aispm/events',
    pipeline.apiKey,
    envelope,
    { secret: pipeline.signingSecret },
  );
  expect(answer.status).toBe(202);
  return envelope.event.event_id;
}

/** A GET of the API with a reader key (what the page is compared with). */
async function api(path: string, key: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${pipeline.apiUrl}${path}`, {
    headers: { authorization: `Bearer ${key}` },
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The dashboard document a reader gets, with `query`. */
async function dashboardOf(
  key: string,
  query = '',
): Promise<{ overview: { posture_score: number; total_decisions: number } }> {
  const answer = await api(`/enterprise/aispm/dashboard${query}`, key);
  expect(answer.status).toBe(200);
  return answer.body as { overview: { posture_score: number; total_decisions: number } };
}

/** A fresh browser context (its own cookies and storage) and page on the API. */
async function open(baseURL = pipeline.apiUrl): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL });
  contexts.add(context);
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  return { context, page };
}

const signInHeading = (page: Page) => page.getByRole('heading', { name: 'Sign in to the console' });

/** Signs in on the sign-in page with `key` and waits for the overview. */
async function signIn(page: Page, key: string): Promise<void> {
  await page.goto('/console/');
  await page.getByLabel('Reader API key').fill(key);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Posture overview' }).waitFor();
}

/** Polls `read` until `ok` holds; fails with the last value read. */
async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  let last: T | undefined;
  let failure: unknown;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (error) {
      failure = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `Timed out waiting for ${what}; last read ${JSON.stringify(last)}${failure ? ` (${String(failure)})` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The trimmed text of `locator`, waiting for it to exist. */
async function textOf(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? '').trim();
}

/** The cells of `header`'s column in `table`, row by row (an empty table gives []). */
async function column(table: Locator, header: string): Promise<string[]> {
  return table.evaluate((element, wanted) => {
    const headers = [...element.querySelectorAll('thead th')].map((th) => (th.textContent ?? '').trim());
    const index = headers.indexOf(wanted);
    if (index < 0) throw new Error(`no column ${wanted} in ${headers.join(', ')}`);
    return [...element.querySelectorAll('tbody tr')]
      .filter((row) => row.children.length === headers.length)
      .map((row) => (row.children[index]?.textContent ?? '').trim());
  }, header);
}

const recentDecisions = (page: Page) => page.getByRole('table', { name: 'Recent decisions, newest first' });

/** The rows of the live feed that show `eventId`. */
const feedRows = (page: Page, eventId: string) =>
  page
    .getByTestId('live-feed')
    .locator('tbody tr')
    .filter({ has: page.getByText(eventId, { exact: true }) });

/** The console's session cookie in `context`, if it holds one. */
async function sessionCookie(context: BrowserContext) {
  return (await context.cookies()).find((cookie) => cookie.name === 'aispm_console');
}

/** The audit trail's actions by `readerId`, from ClickHouse (the projector chains them there). */
async function auditedActions(readerId: string): Promise<string[]> {
  const ch = clickhouse();
  try {
    const rows = await ch.query<{ action: string }>(
      sql`SELECT action FROM ${name(pipeline.database)}.audit_log FINAL WHERE actor_id = ${readerId} ORDER BY position`,
    );
    return rows.map((row) => row.action);
  } finally {
    await ch.close();
  }
}

/**
 * A TCP proxy in front of the API that the test can cut, the way a network drop does: every
 * open connection is reset, and new ones are closed on arrival until it is restored. (The
 * browser's own offline emulation leaves an open EventSource connection standing.)
 */
class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private cut = false;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: URL): Promise<CuttableProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new CuttableProxy(server, `http://127.0.0.1:${port}`);
    server.on('connection', (client) => proxy.accept(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return proxy;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(client: Socket, target: URL): void {
    this.track(client);
    if (this.cut) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }

  /** Drops every connection, and every new one until `restore`. */
  drop(): void {
    this.cut = true;
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A page of another site (`localhost` is not the same site as `127.0.0.1`): a form posting to
 * the API, as a cross-site attacker would.
 */
async function crossSitePage(body: string): Promise<{ url: string; close: () => Promise<void> }> {
  const port = await freePort();
  const server: HttpServer = createHttpServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  onSuiteEnd(close);
  return { url: `http://localhost:${port}/`, close };
}

// ---- the tests ----

it('1. signs a viewer in with a key that the page never keeps, under a strict CSP, and shows the posture', async () => {
  const { context, page } = await open();
  const response = await page.goto('/console/');
  const csp = response!.headers()['content-security-policy'] ?? '';
  const directives = new Map(
    csp.split(';').map((part) => {
      const [directive = '', ...values] = part.trim().split(/\s+/);
      return [directive, values] as const;
    }),
  );
  expect(directives.get('script-src')).toEqual(["'self'"]);
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');

  // A key the platform does not know: an error, still the sign-in page, no cookie.
  await page.getByLabel('Reader API key').fill(`aispm_rk_${randomBytes(16).toString('hex')}`);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  const refusal = page.getByRole('alert');
  await refusal.waitFor();
  expect(await textOf(refusal)).toContain('Missing or invalid credentials');
  expect(await signInHeading(page).isVisible()).toBe(true);
  expect(await sessionCookie(context)).toBeUndefined();

  // The viewer's key.
  await page.getByLabel('Reader API key').fill(keys.viewer);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Posture overview' }).waitFor();
  const doc = await dashboardOf(keys.viewer);
  expect(await textOf(page.getByTestId('posture-score'))).toBe(String(doc.overview.posture_score));
  expect(await textOf(page.getByTestId('total-decisions'))).toBe(String(doc.overview.total_decisions));
  // Each seeded decision is listed with its own data, linked to its event page.
  const decisions = seeded.filter((s) => s.decision !== 'not_applicable');
  const table = recentDecisions(page);
  await table.waitFor();
  for (const s of decisions) {
    const link = table.getByRole('link', { name: s.id, exact: true });
    expect(await link.getAttribute('href')).toBe(`/console/events/${s.id}`);
  }
  expect(new Set(await column(table, 'Repository'))).toEqual(new Set(['acme/api', 'acme/web']));
  expect(new Set(await column(table, 'Agent'))).toEqual(new Set(['agent-alpha', 'agent-beta']));

  // The session is an HttpOnly, SameSite=Strict cookie; the page keeps nothing of the key.
  const cookie = await sessionCookie(context);
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  expect(cookie!.value).not.toContain(keys.viewer);
  const kept = await page.evaluate(async () => ({
    localStorage: Object.entries({ ...localStorage }),
    sessionStorage: Object.entries({ ...sessionStorage }),
    indexedDB: (await indexedDB.databases()).map((db) => db.name),
    cookie: document.cookie,
    fields: [...document.querySelectorAll('input, textarea')].map(
      (field) => (field as HTMLInputElement).value,
    ),
    html: document.documentElement.outerHTML,
    url: location.href,
  }));
  expect(kept.localStorage).toEqual([]);
  expect(kept.sessionStorage).toEqual([]);
  expect(kept.indexedDB).toEqual([]);
  expect(kept.cookie).toBe('');
  for (const text of [kept.html, kept.url, ...kept.fields, await page.content()])
    expect(text).not.toContain(keys.viewer);
});

it('2. keeps the overview filters in the URL, through a reload and a shared link', async () => {
  const { page } = await open();
  await signIn(page, keys.viewer);
  const web = await dashboardOf(keys.viewer, '?repository=acme%2Fweb');
  expect(web.overview.total_decisions).toBe(2);

  await page.getByLabel('Repository', { exact: true }).fill('acme/web');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => url.searchParams.get('repository') === 'acme/web');
  const showsOnly = async (repository: string, decisions: number) => {
    await until(
      `the overview filtered to ${repository}`,
      async () => ({
        total: await textOf(page.getByTestId('total-decisions')),
        repositories: await column(recentDecisions(page), 'Repository'),
      }),
      (seen) =>
        seen.total === String(decisions) &&
        seen.repositories.length === decisions &&
        seen.repositories.every((shown) => shown === repository),
    );
  };
  await showsOnly('acme/web', web.overview.total_decisions);

  await page.reload();
  await page.getByRole('heading', { name: 'Posture overview' }).waitFor();
  expect(new URL(page.url()).searchParams.get('repository')).toBe('acme/web');
  expect(await page.getByLabel('Repository', { exact: true }).inputValue()).toBe('acme/web');
  await showsOnly('acme/web', web.overview.total_decisions);

  // An agent's link adds its filter to the one applied.
  await page
    .getByRole('table', { name: 'Agents and their behaviour fingerprints' })
    .getByRole('link', { name: 'agent-beta' })
    .click();
  await page.waitForURL(
    (url) =>
      url.searchParams.get('repository') === 'acme/web' && url.searchParams.get('agent_id') === 'agent-beta',
  );

  // A link someone shared opens filtered.
  const apiDoc = await dashboardOf(keys.viewer, '?repository=acme%2Fapi');
  await page.goto('/console/?repository=acme%2Fapi');
  await page.getByRole('heading', { name: 'Posture overview' }).waitFor();
  await showsOnly('acme/api', apiDoc.overview.total_decisions);
});

it('3. renders attacker-controlled fields as text: no markup, no script, no dialog', async () => {
  const { page } = await open();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  // Records what the CSP had to block: markup that got in would show up here.
  await page.addInitScript(() => {
    const w = window as unknown as { __violations: string[] };
    w.__violations = [];
    document.addEventListener('securitypolicyviolation', (event) =>
      w.__violations.push(`${event.violatedDirective} ${event.blockedURI}`),
    );
  });
  await signIn(page, keys.viewer);
  const eventId = await send({ ...HOSTILE, decision: 'require_approval', severity: 'critical' });

  // What the pipeline stored (redaction and normalization may change a field): all four as sent.
  const stored = await eventually(`${eventId} to be readable`, async () => {
    const answer = await api(`/enterprise/aispm/events/${eventId}`, keys.viewer);
    return answer.status === 200 ? answer.body : undefined;
  });
  expect(stored).toMatchObject(HOSTILE);

  const inert = async (where: string) => {
    const state = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: unknown }).__pwned,
      violations: (window as unknown as { __violations: string[] }).__violations,
      images: document.querySelectorAll('img').length,
      svgs: document.querySelectorAll('svg').length,
      scripts: [...document.scripts].map((script) => script.getAttribute('src') ?? script.textContent),
      handlers: [...document.querySelectorAll('*')].flatMap((element) =>
        [...element.attributes].filter((attribute) => /^on/i.test(attribute.name)).map((a) => a.name),
      ),
    }));
    expect({ where, ...state, dialogs }).toEqual({
      where,
      pwned: undefined,
      violations: [],
      images: 0,
      svgs: 0,
      scripts: ['/console/assets/app.js'],
      handlers: [],
      dialogs: [],
    });
  };

  // The overview re-reads itself on the live delta and lists the event, its fields as text.
  const link = recentDecisions(page).getByRole('link', { name: eventId, exact: true });
  await link.waitFor();
  const row = recentDecisions(page)
    .locator('tbody tr')
    .filter({ has: page.getByRole('link', { name: eventId, exact: true }) });
  expect(await textOf(row)).toContain(HOSTILE.repository);
  expect(await textOf(row)).toContain(HOSTILE.agent_id);
  const nearMisses = page.getByRole('table', { name: 'Near misses, newest first' });
  await nearMisses.getByText(HOSTILE.target_summary, { exact: true }).waitFor();
  await inert('overview');

  // Its event page, from the overview's link.
  await link.click();
  await page.getByRole('heading', { name: `Event ${eventId}` }).waitFor();
  for (const value of Object.values(HOSTILE)) await page.getByText(value, { exact: true }).waitFor();
  await inert('event page');

  // The live feed got the same text in the finding's delta.
  await page.getByRole('link', { name: 'Live', exact: true }).click();
  await feedRows(page, eventId).getByText(HOSTILE.target_summary, { exact: true }).waitFor();
  await inert('live feed');
});

it('4. fills the live feed and the counts without a reload, and resumes after a dropped connection', async () => {
  const proxy = await CuttableProxy.start(new URL(pipeline.apiUrl));
  const unregister = onSuiteEnd(() => proxy.close());
  const { page } = await open(proxy.url);
  // Every delta the page's EventSource delivers, with its id, to count each exactly.
  await page.addInitScript(() => {
    const w = window as unknown as {
      __deltas: { kind: string; id: string; events: string[] }[];
      EventSource: typeof EventSource;
    };
    w.__deltas = [];
    const Native = w.EventSource;
    w.EventSource = class extends Native {
      constructor(url: string | URL, init?: EventSourceInit) {
        super(url, init);
        for (const kind of ['overview', 'finding', 'near_miss', 'coverage', 'watermark', 'gap']) {
          this.addEventListener(kind, (event) => {
            const { data, lastEventId } = event as MessageEvent<string>;
            const delta = JSON.parse(data) as { data?: { event_ids?: string[]; event_id?: string } };
            const events = delta.data?.event_ids ?? (delta.data?.event_id ? [delta.data.event_id] : []);
            w.__deltas.push({ kind, id: lastEventId, events });
          });
        }
      }
    };
  });
  const streams: { lastEventId: string | undefined }[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/enterprise/aispm/stream')
      void request.allHeaders().then((headers) => streams.push({ lastEventId: headers['last-event-id'] }));
  });
  await signIn(page, keys.viewer);
  // Set in this document only: a reload would clear it.
  await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
  const sameDocument = () =>
    page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true);
  const overviewCount = (kind: string, eventId: string) =>
    page.evaluate(
      ([wanted, id]) =>
        (window as unknown as { __deltas: { kind: string; events: string[] }[] }).__deltas.filter(
          (delta) => delta.kind === wanted && delta.events.includes(id!),
        ).length,
      [kind, eventId],
    );
  const streamStatus = page.getByTestId('stream-status');

  // The stream is open from sign-in; an event sent now moves the overview's counts.
  await page.getByRole('link', { name: 'Live', exact: true }).click();
  await until(
    'the stream to be live',
    () => textOf(streamStatus),
    (text) => text === 'Live',
  );
  await page.getByRole('link', { name: 'Overview', exact: true }).click();
  const before = Number(await textOf(page.getByTestId('total-decisions')));
  const first = await send({ decision: 'warn', severity: 'medium', target_summary: 'live: first' });
  await until(
    'the overview to count the new event',
    async () => ({
      shown: await textOf(page.getByTestId('total-decisions')),
      api: String((await dashboardOf(keys.viewer)).overview.total_decisions),
    }),
    (seen) => seen.shown === String(before + 1) && seen.shown === seen.api,
  );
  // The feed filled meanwhile.
  await page.getByRole('link', { name: 'Live', exact: true }).click();
  await feedRows(page, first).waitFor();
  expect(await feedRows(page, first).count()).toBe(1);
  expect(await sameDocument()).toBe(true);

  // Drop the connection; while the browser cannot reach the API, an event goes through the
  // pipeline and its deltas are published (a witness stream of the API sees them).
  const witness = await SseClient.open(`${pipeline.apiUrl}/enterprise/aispm/stream`, keys.viewer);
  onSuiteEnd(() => witness.close());
  try {
    proxy.drop();
    await until(
      'the page to see the stream drop',
      () => textOf(streamStatus),
      (text) => text.startsWith('Connection lost'),
    );
    // The id of the last delta the page got before the drop: its cursor.
    const lastSeen = await page.evaluate(
      () => (window as unknown as { __deltas: { id: string }[] }).__deltas.at(-1)?.id,
    );
    expect(lastSeen).toMatch(/\S/);
    const missed = await send({ decision: 'block', severity: 'high', target_summary: 'live: while offline' });
    await eventually('the missed event’s deltas to be published', async () =>
      witness.deltas().some(({ delta }) => (delta.data as { event_id?: string }).event_id === missed)
        ? true
        : undefined,
    );
    expect(await feedRows(page, missed).count()).toBe(0);
    const streamsBefore = streams.length;

    proxy.restore();
    await feedRows(page, missed).waitFor();
    await until(
      'the stream to be live again',
      () => textOf(streamStatus),
      (text) => text === 'Live',
    );
    // The reconnection sent the cursor of the last delta shown, and the server resumed there:
    // the missed event came once, and what came before was not sent again.
    const reconnects = streams.slice(streamsBefore);
    expect(reconnects.length).toBeGreaterThan(0);
    expect(reconnects.at(-1)!.lastEventId).toBe(lastSeen);
    expect(await overviewCount('overview', missed)).toBe(1);
    expect(await overviewCount('finding', missed)).toBe(1);
    expect(await overviewCount('overview', first)).toBe(1);
    expect(await feedRows(page, missed).count()).toBe(1);
    expect(await feedRows(page, first).count()).toBe(1);
    expect(await page.getByText(/1 reconnection\b/).count()).toBe(1);
    expect(await page.getByText('The stream restarted from the live end', { exact: false }).count()).toBe(0);
    expect(await sameDocument()).toBe(true);
  } finally {
    await witness.close();
    await proxy.close();
    unregister();
  }
});

it('5. shows an event and, to an auditor, its session timeline in order', async () => {
  const { page } = await open();
  await signIn(page, keys.auditor);
  const steps = seeded
    .filter((s) => s.session === timelineSession && s.decision !== 'not_applicable')
    .sort((a, b) => a.occurredMs - b.occurredMs);
  const last = steps.at(-1)!;

  await recentDecisions(page).getByRole('link', { name: last.id, exact: true }).click();
  await page.getByRole('heading', { name: `Event ${last.id}` }).waitFor();
  await page.getByText(last.target, { exact: true }).waitFor();
  await page.getByRole('link', { name: timelineSession, exact: true }).click();
  await page.getByRole('heading', { name: `Session ${timelineSession}` }).waitFor();

  const timeline = page.getByTestId('session-timeline');
  await timeline.waitFor();
  const shown = await timeline.locator(':scope > li').evaluateAll((items) =>
    items.map((item) => ({
      step: (item.querySelector('.step-no')?.textContent ?? '').trim(),
      summary: (item.querySelector('.step-summary')?.textContent ?? '').trim(),
      event: (item.querySelector('a')?.textContent ?? '').trim(),
    })),
  );
  expect(shown).toEqual(
    steps.map((s, index) => ({ step: String(index + 1), summary: s.target, event: s.id })),
  );
  const replay = await api(`/enterprise/aispm/replay/${timelineSession}`, keys.auditor);
  expect((replay.body.steps as { event_id: string }[]).map((step) => step.event_id)).toEqual(
    shown.map((step) => step.event),
  );
  // Replaying is audited, the console's replays too.
  await eventually('the replay to be in the audit trail', async () =>
    (await auditedActions(auditorId)).includes('session.replay') ? true : undefined,
  );

  // A viewer sees the session id as text and no timeline.
  const { page: viewerPage } = await open();
  await signIn(viewerPage, keys.viewer);
  await viewerPage.goto(`/console/events/${last.id}`);
  await viewerPage.getByRole('heading', { name: `Event ${last.id}` }).waitFor();
  await viewerPage.getByText(timelineSession, { exact: true }).waitFor();
  expect(await viewerPage.getByRole('link', { name: timelineSession }).count()).toBe(0);
  await viewerPage.goto(`/console/sessions/${timelineSession}`);
  await viewerPage.getByText('Session timelines are replays, which need the auditor role.').waitFor();
  expect(await viewerPage.getByTestId('session-timeline').count()).toBe(0);
});

it('6. shows ingestion health: lag per stage and the DLQ depth', async () => {
  const { page } = await open();
  await signIn(page, keys.viewer);
  await page.getByRole('link', { name: 'Health', exact: true }).click();
  await page.getByRole('heading', { name: 'Ingestion health' }).waitFor();
  const health = (await api('/enterprise/aispm/ingestion/health', keys.viewer)).body as {
    stages: { service: string; lag: number }[];
    dlq: { depth: number | null };
  };
  expect(health.stages.length).toBeGreaterThan(0);

  const stages = page.getByRole('table', { name: 'Lag per stage, in flow order' });
  await stages.waitFor();
  expect(await column(stages, 'Stage')).toEqual(
    health.stages.map((stage) => stage.service.replace(/_/g, ' ')),
  );
  for (const lag of await column(stages, 'Lag')) expect(lag).toMatch(/^\d[\d,]*$/);
  const depth = await textOf(page.getByTestId('dlq-depth'));
  expect(depth).toBe(health.dlq.depth === null ? 'unknown' : health.dlq.depth.toLocaleString('en-US'));
  for (const caption of ['Rejections by reason', 'Dead letters by code', 'Retries by operation'])
    await page.getByRole('table', { name: caption }).waitFor();
  await page
    .getByRole('table', { name: 'Collectors silent for longer than their expected interval' })
    .waitFor();
});

it('7. gives auditors chain verification and a raw replay request, and viewers no audit page', async () => {
  const { page } = await open();
  await signIn(page, keys.auditor);
  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  await page.getByRole('heading', { name: 'Audit', exact: true }).waitFor();

  await page.getByRole('button', { name: 'Verify the chain' }).click();
  const verdict = page.getByTestId('verify-verdict');
  await verdict.waitFor();
  expect(await textOf(verdict)).toMatch(/^Intact: \d+ partitions?, [\d,]+ records\./);
  const verdicts = page.getByRole('table', { name: 'Verdict per partition' });
  const shown = await column(verdicts, 'Verdict');
  expect(shown.length).toBeGreaterThan(0);
  expect(shown.every((cell) => cell === 'Intact')).toBe(true);
  const records = (await column(verdicts, 'Records')).reduce(
    (sum, cell) => sum + Number(cell.replace(/,/g, '')),
    0,
  );
  expect(records).toBeGreaterThanOrEqual(seeded.length);

  // A raw replay request, dry run (the form's default): the plan the server answered.
  expect(await page.getByLabel('Dry run (count only)').isChecked()).toBe(true);
  await page.getByRole('button', { name: 'Plan the replay' }).click();
  const plan = page.getByLabel('Dry run answer');
  await plan.waitFor();
  const planned = JSON.parse(await textOf(plan)) as {
    tenant: string;
    stage: string;
    topic: string;
    offsets: number;
  };
  expect(planned).toMatchObject({ tenant: pipeline.tenant, stage: 'normalized' });
  expect(planned.topic).toContain(pipeline.tenant);
  expect(Number(planned.offsets)).toBeGreaterThanOrEqual(seeded.length);
  // Both were audited under the auditor's reader, like any client's.
  await eventually('the audit page’s requests to be in the audit trail', async () => {
    const actions = await auditedActions(auditorId);
    return actions.includes('chain.verify') && actions.includes('replay.dry_run') ? true : undefined;
  });

  // A viewer has no Audit link, gets no audit page, and the API refuses the viewer's cookie.
  const { page: viewerPage } = await open();
  await signIn(viewerPage, keys.viewer);
  expect(await viewerPage.getByRole('link', { name: 'Audit', exact: true }).count()).toBe(0);
  await viewerPage.goto('/console/audit');
  await viewerPage.getByRole('heading', { name: 'Not available' }).waitFor();
  expect(await viewerPage.getByRole('button', { name: 'Verify the chain' }).count()).toBe(0);
  expect((await viewerPage.request.get('/enterprise/aispm/verify')).status()).toBe(403);
  expect(
    (await viewerPage.request.get('/enterprise/aispm/replay-log?stage=normalized&dry_run=true')).status(),
  ).toBe(403);
});

it('8. signs out, and a tampered or expired session returns to sign-in', async () => {
  const { context, page } = await open();
  await signIn(page, keys.viewer);
  const issued = (await sessionCookie(context))!;
  expect((await page.request.get('/enterprise/aispm/dashboard')).status()).toBe(200);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await signInHeading(page).waitFor();
  await page.getByText('You have signed out.').waitFor();
  expect(await sessionCookie(context)).toBeUndefined();
  expect((await page.request.get('/enterprise/aispm/dashboard')).status()).toBe(401);
  await page.reload();
  await signInHeading(page).waitFor();

  // A session token whose MAC was altered, and one whose expiry passed (forged under a made-up
  // MAC: the key is the server's), each in place of the cookie.
  const [version, reader, expires, mac] = issued.value.split('.');
  const flipped = `${mac!.slice(0, -1)}${mac!.endsWith('A') ? 'B' : 'A'}`;
  const expired = `${version}.${reader}.${Date.now() - 60_000}.${mac}`;
  for (const value of [`${version}.${reader}.${expires}.${flipped}`, expired]) {
    // Signed in again, then the cookie is replaced while the page is open: its next call ends it.
    await signIn(page, keys.viewer);
    await context.addCookies([{ ...issued, value }]);
    // Its next call: a Refresh (the overview may still be refreshing with the old cookie, and a
    // stream reconnect may get there first).
    await until(
      'the page to meet the ended session',
      async () => {
        if (await signInHeading(page).isVisible()) return true;
        const refresh = page.getByRole('button', { name: 'Refresh' });
        if (await refresh.isEnabled().catch(() => false))
          await refresh.click({ timeout: 2000 }).catch(() => undefined);
        return false;
      },
      (done) => done,
    );
    await page.getByText('Your session has ended. Sign in again to continue.').waitFor();
    // And on a reload. (A page that loads cannot tell a stale cookie from none: the cookie is
    // HttpOnly and the server answers both with the same 401, so no notice is shown then.)
    await page.reload();
    await signInHeading(page).waitFor();
    expect(await page.getByRole('heading', { name: 'Posture overview' }).count()).toBe(0);
    expect((await page.request.get('/enterprise/aispm/dashboard')).status()).toBe(401);
  }
});

it('9. refuses a state-changing request without the console header (CSRF), and accepts it with', async () => {
  const { context, page } = await open();
  await signIn(page, keys.admin);
  const post = (headers: Record<string, string>) =>
    page.evaluate(
      async ([tenant, extra]) => {
        const response = await fetch('/enterprise/aispm/admin/readers', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...extra },
          body: JSON.stringify({ tenant, role: 'viewer' }),
        });
        return { status: response.status, body: (await response.json()) as { reader_id?: string } };
      },
      [pipeline.tenant, headers] as const,
    );
  const refused = await post({});
  expect(refused.status).toBe(401);
  const accepted = await post({ 'X-Aispm-Console': '1' });
  expect(accepted.status).toBe(201);
  expect(accepted.body.reader_id).toMatch(/\S/);
  expect((await pipeline.admin('POST', `/readers/${accepted.body.reader_id}/revoke`)).status).toBe(200);

  // Signing out is a change too: without the header it is refused and the session stands.
  const signOut = (headers: Record<string, string>) =>
    page.evaluate(
      async (extra) => (await fetch('/console/api/session', { method: 'DELETE', headers: extra })).status,
      headers,
    );
  expect(await signOut({})).toBe(403);
  expect(await sessionCookie(context)).toBeDefined();
  expect((await page.request.get('/console/api/session')).status()).toBe(200);

  // A cross-site form (no header can be set, and the SameSite=Strict cookie is not sent) changes
  // nothing, and a cross-site script cannot send the header: the preflight it needs is refused.
  const attackerSite = await crossSitePage(
    `<form method="post" enctype="text/plain" action="${pipeline.apiUrl}/enterprise/aispm/admin/readers">` +
      `<input name='{"tenant":"${pipeline.tenant}","role":"admin","x":"' value='"}'><button>go</button></form>`,
  );
  const attacker = await context.newPage();
  await attacker.goto(attackerSite.url);
  const crossSiteSignOut = await attacker.evaluate(async (url) => {
    try {
      const response = await fetch(url, {
        method: 'DELETE',
        credentials: 'include',
        headers: { 'X-Aispm-Console': '1' },
      });
      return response.status;
    } catch (error) {
      return (error as Error).name;
    }
  }, `${pipeline.apiUrl}/console/api/session`);
  expect(crossSiteSignOut).toBe('TypeError');
  const [answer] = await Promise.all([
    attacker.waitForResponse((response) => response.url().endsWith('/enterprise/aispm/admin/readers')),
    attacker.getByRole('button', { name: 'go' }).click(),
  ]);
  expect(answer.status()).toBeGreaterThanOrEqual(400);
  expect((await answer.request().allHeaders()).cookie ?? '').not.toContain('aispm_console');
  await attackerSite.close();
  expect(await sessionCookie(context)).toBeDefined();
  expect((await page.request.get('/console/api/session')).status()).toBe(200);

  // A viewer with the header is still refused by the role check.
  const { page: viewerPage } = await open();
  await signIn(viewerPage, keys.viewer);
  const byViewer = await viewerPage.evaluate(
    async (tenant) =>
      (
        await fetch('/enterprise/aispm/admin/readers', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'X-Aispm-Console': '1' },
          body: JSON.stringify({ tenant, role: 'viewer' }),
        })
      ).status,
    pipeline.tenant,
  );
  expect(byViewer).toBe(403);

  // With the header, the admin signs out.
  expect(await signOut({ 'X-Aispm-Console': '1' })).toBe(204);
  expect(await sessionCookie(context)).toBeUndefined();
});

it('10. ends a revoked reader’s session at once', async () => {
  const created = await pipeline.admin('POST', '/readers', { tenant: pipeline.tenant, role: 'viewer' });
  expect(created.status).toBe(201);
  const { page } = await open();
  await signIn(page, String(created.body.api_key));
  await page.getByRole('link', { name: 'Live', exact: true }).click();
  await until(
    'the stream to be live',
    () => textOf(page.getByTestId('stream-status')),
    (text) => text === 'Live',
  );

  expect((await pipeline.admin('POST', `/readers/${String(created.body.reader_id)}/revoke`)).status).toBe(
    200,
  );
  expect((await page.request.get('/enterprise/aispm/dashboard')).status()).toBe(401);
  // The open page notices by itself (the server closes the revoked reader's stream)...
  await signInHeading(page).waitFor();
  await page.getByText('Your session has ended. Sign in again to continue.').waitFor();
  // ...and a reload stays on sign-in.
  await page.reload();
  await signInHeading(page).waitFor();
  expect(await page.getByRole('heading', { name: 'Posture overview' }).count()).toBe(0);
});

it('11. shows a second tenant’s reader none of the first tenant’s data', async () => {
  const slug = `${pipeline.tenantPrefix}-b`;
  const other = await tenantWithCollector(pipeline, slug, `tenant:${slug}`);
  const reader = await pipeline.admin('POST', '/readers', { tenant: slug, role: 'viewer' });
  expect(reader.status).toBe(201);
  const { page } = await open();
  await signIn(page, String(reader.body.api_key));
  expect(await textOf(page.getByTestId('total-decisions'))).toBe('0');
  await page.getByRole('link', { name: 'Live', exact: true }).click();
  await until(
    'the stream to be live',
    () => textOf(page.getByTestId('stream-status')),
    (text) => text === 'Live',
  );

  // An event of the first tenant, then one of the second: once the second's shows, the first's
  // would have too, had it been sent to this stream.
  const mine = await send({ decision: 'warn', severity: 'low', target_summary: 'first tenant' });
  const envelope = newEventOf(`tenant:${slug}`);
  Object.assign(envelope.event, { occurred_at: new Date().toISOString(), decision: 'warn', severity: 'low' });
  // The second tenant's collector has no signing secret.
  envelope.integrity.signature_required = false;
  const theirs = await postToGateway(pipeline.gatewayUrl, '/enterprise/aispm/events', other.key, envelope);
  expect(theirs.status).toBe(202);
  // A new tenant's first events wait for the workers to find its topics.
  await feedRows(page, envelope.event.event_id).waitFor({ timeout: 120_000 });
  expect(await feedRows(page, mine).count()).toBe(0);
  const html = await page.content();
  for (const s of [...seeded.map((event) => event.id), mine, `>${pipeline.tenant}<`, 'acme/api'])
    expect(html).not.toContain(s);
  await page.getByRole('link', { name: 'Overview', exact: true }).click();
  await until(
    'the overview to count the second tenant’s event',
    () => textOf(page.getByTestId('total-decisions')),
    (t) => t === '1',
  );
  expect(await recentDecisions(page).getByRole('link', { name: mine }).count()).toBe(0);
});

/**
 * Screenshots of each view, as an auditor sees them (docs/console.md shows them). They go to
 * `.data/console-screenshots`, or to the folder AISPM_CONSOLE_SCREENSHOTS names (`docs/console`
 * when refreshing the docs).
 */
it('12. takes a screenshot of each view', async () => {
  const dir = path.resolve(REPO, process.env.AISPM_CONSOLE_SCREENSHOTS ?? '.data/console-screenshots');
  mkdirSync(dir, { recursive: true });
  const { page } = await open();
  await page.setViewportSize({ width: 1280, height: 900 });
  const shot = async (file: string) => {
    await page.screenshot({ path: path.join(dir, file), fullPage: true });
    expect(existsSync(path.join(dir, file))).toBe(true);
  };
  await page.goto('/console/');
  await signInHeading(page).waitFor();
  await shot('sign-in.png');
  await signIn(page, keys.auditor);
  await page.getByTestId('posture-score').waitFor();
  await shot('overview.png');
  await page.goto('/console/live');
  await page.getByTestId('live-feed').waitFor();
  await send({});
  await page.getByTestId('live-feed').getByRole('row').nth(1).waitFor();
  await shot('live-feed.png');
  await page.goto(`/console/events/${encodeURIComponent(seeded[0]!.id)}`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  await shot('event.png');
  await page.goto(`/console/sessions/${encodeURIComponent(timelineSession)}`);
  await page.getByTestId('session-timeline').waitFor();
  await shot('session-timeline.png');
  await page.goto('/console/health');
  await page.getByTestId('dlq-depth').waitFor();
  await shot('health.png');
  await page.goto('/console/audit');
  await page.getByRole('heading', { level: 1 }).waitFor();
  await shot('audit.png');
});
