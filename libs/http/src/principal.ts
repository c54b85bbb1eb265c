/**
 * Owns who a request is and what it may do. A bearer key is resolved against the control plane
 * to a collector or a reader; the `authentication` plugin sets `request.principal` before the
 * handler of every route that is not marked `config: { public: true }`, so a handler never
 * authenticates by hand. Reads and administration are always scoped to the tenant of the
 * credential, never to a tenant named in the request.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hashSecret } from '@aispm/auth';
import type { ControlReader } from '@aispm/contracts';
import type { ControlState, Principal } from '@aispm/control';
import { AppError } from '@aispm/errors';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route authenticates in its own way, or serves anyone. */
    readonly public?: boolean;
  }
  interface FastifyRequest {
    /** Who made the request; set before the handler of every route that is not public. */
    principal: Principal;
  }
}

type Role = ControlReader['role'];

const ROLE_RANK: Record<Role, number> = { viewer: 0, auditor: 1, admin: 2 };

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{16,512})$/;

/** The principal of the request's `Authorization: Bearer <key>`, if it names a live key. */
export function bearerPrincipal(state: ControlState, request: FastifyRequest): Principal | undefined {
  const match = BEARER.exec(request.headers.authorization ?? '');
  return match ? state.principal(hashSecret(match[1]!)) : undefined;
}

/** Refuses a request whose credential resolved to no principal. */
export function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal) throw new AppError('GW_UNAUTHENTICATED', 'A valid, unrevoked API key is required');
  return principal;
}

/**
 * Sets `request.principal` from `resolve` before every handler but those of public routes and
 * the not-found answer. It runs as a preHandler, after the body and parameters are validated,
 * so a malformed request is told what is wrong with it whoever sends it.
 */
export function authentication(
  resolve: (request: FastifyRequest) => Principal | undefined | Promise<Principal | undefined>,
): FastifyPluginAsync {
  return fp(async (app) => {
    // A reference type starts as null on every request (Fastify refuses a shared object).
    app.decorateRequest('principal', null as never);
    app.addHook('preHandler', async (request) => {
      if (request.is404 || request.routeOptions.config.public) return;
      request.principal = requirePrincipal(await resolve(request));
    });
  });
}

/** Marks every route registered on `app` (and its children) from now on as public. */
export function markRoutesPublic(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true };
  });
}

/** True for a platform operator: an admin reader of no tenant. */
export function isOperator(principal: Principal): boolean {
  return principal.kind === 'reader' && principal.tenant === undefined && principal.reader.role === 'admin';
}

/** Refuses unless the principal is a platform operator. */
export function requireOperator(principal: Principal): void {
  if (!isOperator(principal)) throw new AppError('GW_FORBIDDEN', 'Only a platform operator may do this');
}

/**
 * Refuses unless the principal is a reader with at least `role` on `tenant` (operators have
 * every role on every tenant). A tenant the caller cannot see answers as forbidden, not
 * "not found", so tenant names do not leak.
 */
export function requireRole(principal: Principal, role: Role, tenant: string): void {
  if (isOperator(principal)) return;
  if (principal.kind !== 'reader' || principal.tenant?.slug !== tenant) {
    throw new AppError('GW_FORBIDDEN', `This credential has no access to tenant ${tenant}`);
  }
  if (ROLE_RANK[principal.reader.role] < ROLE_RANK[role]) {
    throw new AppError(
      'GW_FORBIDDEN',
      `This needs the ${role} role; the credential is ${principal.reader.role}`,
    );
  }
}
