/**
 * Serves the CSO/CISO console (DESIGN §17) and its sessions. The page is static files built from
 * `ui/` (no inline script or style, so the Content-Security-Policy can forbid both); everything it
 * shows comes from the platform's own API, under the same tenant and role checks as any client:
 * the console adds no data endpoint, only sign-in and sign-out.
 *
 * A session cookie stands in for the reader's API key on every route (`consoleSessionHook`),
 * never beside one: a request that sends an `Authorization` header is judged by it alone. The
 * cookie is SameSite=Strict, and a request that changes anything must also carry
 * `X-Aispm-Console: 1`, which a cross-site form cannot send, so a session cannot be ridden.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { hashSecret } from '@aispm/auth';
import type { ControlState, Principal } from '@aispm/control';
import { AppError } from '@aispm/errors';
import { markRoutesPublic } from '@aispm/http';
import type { Logger } from '@aispm/observability';
import { clearedSessionCookie, sessionCookie, sessionToken, type ConsoleSessions } from './session';

declare module 'fastify' {
  interface FastifyRequest {
    /** The reader of a valid console session, when the request has no other credential. */
    consoleReader?: string;
  }
}

/** The header every state-changing console request carries (CSRF defence). */
export const CONSOLE_HEADER = 'x-aispm-console';

/** Where `npm run build` puts the page. */
export const UI_DIR = path.resolve(__dirname, 'ui');

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Every response of the console's own routes: the page may load only itself. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface ConsoleDeps {
  readonly control: ControlState;
  readonly sessions: ConsoleSessions;
  readonly logger: Logger;
  /** The built page (`UI_DIR` unless a test says otherwise). */
  readonly uiDir?: string;
}

/**
 * An app-wide `onRequest` hook: a request without an `Authorization` header whose console
 * session is valid is marked with its reader; one that changes something must also carry
 * `X-Aispm-Console: 1`, or it stays anonymous.
 */
export function consoleSessionHook(sessions: ConsoleSessions): onRequestHookHandler {
  return async (request) => {
    if (request.headers.authorization !== undefined) return;
    const token = sessionToken(request.headers.cookie);
    if (!token) return;
    if (!SAFE_METHODS.has(request.method) && request.headers[CONSOLE_HEADER] !== '1') return;
    const session = sessions.verify(token, Date.now());
    if (session) request.consoleReader = session.readerId;
  };
}

/** What the page is told about the signed-in reader. */
function sessionBody(principal: Principal, expiresMs: number) {
  if (principal.kind !== 'reader' || !principal.tenant) throw new Error('not a tenant reader');
  return {
    reader_id: principal.reader.reader_id,
    tenant: principal.tenant.slug,
    role: principal.reader.role,
    expires_ms: expiresMs,
  };
}

const sessionResponse = {
  description: 'The signed-in reader',
  type: 'object',
  properties: {
    reader_id: { type: 'string' },
    tenant: { type: 'string' },
    role: { type: 'string' },
    expires_ms: { type: 'integer' },
  },
} as const;

/** The page's own routes: files and redirects, not part of the API the document describes. */
const pageRoute = { schema: { hide: true } } as const;

function isSecure(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

/** The page's files, read once; undefined when the page was not built. */
function loadPage(dir: string): Map<string, { body: Buffer; type: string }> | undefined {
  if (!existsSync(path.join(dir, 'index.html'))) return undefined;
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of ['index.html', 'app.js', 'app.css', 'favicon.svg']) {
    const file = path.join(dir, name);
    if (existsSync(file))
      files.set(name, {
        body: readFileSync(file),
        type: TYPES[path.extname(name)] ?? 'application/octet-stream',
      });
  }
  return files;
}

export function consoleRoutes(deps: ConsoleDeps): FastifyPluginAsync {
  const page = loadPage(deps.uiDir ?? UI_DIR);

  function sendFile(reply: FastifyReply, name: string) {
    const file = page?.get(name);
    if (!file)
      throw new AppError(
        'GW_NOT_FOUND',
        page ? `No console file ${name}` : 'The console was not built (npm run build)',
      );
    // The page itself is never cached, so a new build or a signed-out state shows at once.
    return reply
      .headers(PAGE_HEADERS)
      .header('cache-control', name === 'index.html' ? 'no-store' : 'no-cache')
      .type(file.type)
      .send(file.body);
  }

  return async (app) => {
    // Each console route checks its own credential: an API key to sign in, the cookie after.
    markRoutesPublic(app);
    app.post<{ Body: { api_key: string } }>(
      '/console/api/session',
      {
        schema: {
          summary: "Sign in to the console with a tenant reader's API key; sets the session cookie.",
          response: { 200: sessionResponse },
          body: {
            type: 'object',
            required: ['api_key'],
            additionalProperties: false,
            properties: { api_key: { type: 'string', minLength: 16, maxLength: 512 } },
          },
        },
      },
      async (request, reply) => {
        if (request.headers[CONSOLE_HEADER] !== '1')
          throw new AppError('GW_FORBIDDEN', `Console requests carry the ${CONSOLE_HEADER} header`);
        const principal = deps.control.principal(hashSecret(request.body.api_key));
        if (!principal) throw new AppError('GW_UNAUTHENTICATED', 'A valid, unrevoked API key is required');
        if (principal.kind !== 'reader' || !principal.tenant)
          throw new AppError(
            'GW_FORBIDDEN',
            "The console is for a tenant's readers; use a reader key of the tenant",
          );
        const { token, expiresMs } = deps.sessions.issue(principal.reader.reader_id, Date.now());
        deps.logger.info(
          { tenant: principal.tenant.slug, reader: principal.reader.reader_id, role: principal.reader.role },
          'console sign-in',
        );
        return reply
          .headers(PAGE_HEADERS)
          .header('cache-control', 'no-store')
          .header('set-cookie', sessionCookie(token, deps.sessions.ttlMs, isSecure(request)))
          .send(sessionBody(principal, expiresMs));
      },
    );

    app.get(
      '/console/api/session',
      { schema: { summary: "The console session's reader.", response: { 200: sessionResponse } } },
      async (request, reply) => {
        const token = sessionToken(request.headers.cookie);
        const session = token ? deps.sessions.verify(token, Date.now()) : undefined;
        const principal = session && deps.control.readerPrincipal(session.readerId);
        if (!session || !principal || principal.kind !== 'reader' || !principal.tenant)
          throw new AppError('GW_UNAUTHENTICATED', 'No console session, or it has ended');
        return reply
          .headers(PAGE_HEADERS)
          .header('cache-control', 'no-store')
          .send(sessionBody(principal, session.expiresMs));
      },
    );

    app.delete(
      '/console/api/session',
      {
        schema: {
          summary: 'Sign out of the console; clears the session cookie.',
          response: { 204: { type: 'null', description: 'Signed out' } },
        },
      },
      async (request, reply) => {
        if (request.headers[CONSOLE_HEADER] !== '1')
          throw new AppError('GW_FORBIDDEN', `Console requests carry the ${CONSOLE_HEADER} header`);
        return reply
          .headers(PAGE_HEADERS)
          .header('set-cookie', clearedSessionCookie(isSecure(request)))
          .code(204)
          .send();
      },
    );

    app.get<{ Params: { file: string } }>('/console/assets/:file', pageRoute, async (request, reply) =>
      sendFile(reply, request.params.file),
    );
    // The page routes itself (History API): every other path under /console/ is the page.
    app.get('/console', pageRoute, async (_request, reply) => reply.redirect('/console/'));
    app.get('/console/*', pageRoute, async (request, reply) => {
      if (request.url.startsWith('/console/api/')) throw new AppError('GW_NOT_FOUND', 'No such console API');
      return sendFile(reply, 'index.html');
    });
  };
}
