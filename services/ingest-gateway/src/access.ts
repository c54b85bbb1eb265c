/**
 * Owns which collector sent a request: its client certificate on the mTLS listener, a
 * workload-identity token (OIDC), or its API key. Only collectors send events; a reader's key is
 * refused here.
 */
import { createHash } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import {
  matchesGlob,
  matchWorkload,
  workloadBinding,
  type OidcIssuers,
  type WorkloadBinding,
} from '@aispm/auth';
import type { ControlState, Principal } from '@aispm/control';
import { AppError } from '@aispm/errors';
import { bearerPrincipal, requirePrincipal } from '@aispm/http';

/**
 * A collector that sends events. One authenticated by a workload-identity token also carries what
 * the token's claims bind: every event must lie within that as well as within its scopes.
 */
export type CollectorPrincipal = Extract<Principal, { kind: 'collector' }> & {
  readonly binding?: WorkloadBinding;
};

/**
 * Looks again after reading the control topic to its end when `find` finds nothing, so a key or
 * certificate created through the API a moment ago is known (ControlPlane.findFresh).
 */
export type FindFresh = <T>(find: () => T | undefined) => Promise<T | undefined>;

const JWT = /^Bearer (eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/**
 * The collector behind a workload-identity token (DESIGN §5): the token is verified against the
 * issuer it names, among those configured (issuer, audience and JWKS each), then matched against
 * the collectors bound to that issuer by their `oidc_claims` globs. Exactly one must match: an
 * ambiguous token is refused rather than guessed at, and a token matching none is 401. The
 * token's claims then bind the events (its repository or project, its environment); a bound
 * repository or environment outside the collector's own scopes refuses the token at once (403).
 */
export async function authenticateWorkload(
  state: ControlState,
  oidc: OidcIssuers,
  token: string,
): Promise<CollectorPrincipal> {
  const verified = await oidc.verify(token);
  const { collector, tenant } = matchWorkload(
    state.workloadCollectors(),
    (bound) => bound.collector,
    verified,
    oidc.defaultIssuer,
  );
  const binding = workloadBinding(verified.claims);
  const { scopes } = collector;
  // A bound project (`app/*`) is a glob, checked per event only; one repository is checked here.
  for (const repository of binding.repositories.filter((bound) => !bound.includes('*'))) {
    if (scopes.repositories.length > 0 && !scopes.repositories.some((glob) => matchesGlob(glob, repository)))
      throw new AppError(
        'GW_SCOPE_DENIED',
        `The token's repository ${repository} is outside the collector's scope`,
      );
  }
  for (const environment of binding.environments) {
    if (scopes.environments.length > 0 && !scopes.environments.includes(environment))
      throw new AppError(
        'GW_SCOPE_DENIED',
        `The token's environment ${environment} is outside the collector's scope`,
      );
  }
  return { kind: 'collector', collector, tenant, binding };
}

/**
 * The collector behind a request: its client certificate on the mTLS listener, otherwise an API
 * key, or a workload-identity token when OIDC is on.
 */
export async function authenticateCollector(
  state: ControlState,
  oidc: OidcIssuers | undefined,
  request: FastifyRequest,
  findFresh: FindFresh,
): Promise<CollectorPrincipal> {
  // On the mTLS listener the verified client certificate is the credential.
  const socket = request.raw.socket;
  if (socket instanceof TLSSocket) {
    const certificate = socket.getPeerCertificate();
    if (!socket.authorized || !certificate.raw)
      throw new AppError('GW_UNAUTHENTICATED', 'A verified client certificate is required');
    const fingerprint = createHash('sha256').update(certificate.raw).digest('hex');
    const bound = await findFresh(() => state.collectorByCertificate(fingerprint));
    if (!bound) throw new AppError('GW_UNAUTHENTICATED', 'The client certificate is bound to no collector');
    return { kind: 'collector', ...bound };
  }
  const token = JWT.exec(request.headers.authorization ?? '')?.[1];
  if (token && oidc) return authenticateWorkload(state, oidc, token);
  return requireCollector(requirePrincipal(await findFresh(() => bearerPrincipal(state, request))));
}

/** The collector behind the request; readers may not write events. */
export function requireCollector(principal: Principal): CollectorPrincipal {
  if (principal.kind !== 'collector')
    throw new AppError('GW_FORBIDDEN', 'Only collector keys may send events');
  return principal;
}
