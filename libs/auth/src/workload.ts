/**
 * Owns which collector a verified workload-identity token is, and what the token's claims bind
 * (DESIGN §5). A collector bound to workload identity names one issuer and globs over claims; a
 * token is that collector when its issuer is the collector's and every glob matches its claim.
 * The token's own claims then pin the events it may send, on top of the collector's scopes: the
 * repository (GitHub Actions' `repository`, GitLab's `project_path`) or, for Azure Pipelines,
 * the project named in `sub` (`sc://org/project/connection`, `p://org/project/pipeline`), and
 * the `environment`. Pure; the gateway maps the refusals to HTTP.
 */
import { AppError } from '@aispm/errors';
import { canonicalRepository } from '@aispm/normalization';
import { matchesGlob } from './glob';
import type { OidcClaims, VerifiedToken } from './oidc';

/** What a collector record says about workload identity. */
export interface WorkloadIdentity {
  /** The issuer whose tokens may be this collector; absent: the gateway's default issuer. */
  readonly oidc_issuer?: string;
  /** Claim name to glob; every one must match. */
  readonly oidc_claims?: Readonly<Record<string, string>>;
}

/**
 * Whether a token of `issuer` with `claims` is the workload `identity` describes. A collector
 * without an issuer of its own belongs to `defaultIssuer`, and to none when there is none: a
 * token of one CI system must never match a collector written for another's claims. A collector
 * with no claim globs matches nothing, since it would be every workload of its issuer (for
 * GitHub Actions, every repository there is).
 */
export function workloadMatches(
  identity: WorkloadIdentity,
  token: VerifiedToken,
  defaultIssuer: string | undefined,
): boolean {
  const issuer = identity.oidc_issuer ?? defaultIssuer;
  const globs = Object.entries(identity.oidc_claims ?? {});
  if (issuer === undefined || issuer !== token.issuer || globs.length === 0) return false;
  return globs.every(([name, glob]) => {
    const value = token.claims[name];
    return (typeof value === 'string' || typeof value === 'number') && matchesGlob(glob, String(value));
  });
}

/**
 * The one candidate `token` is, by the identity `identityOf` gives each. None, or more than one,
 * is `GW_UNAUTHENTICATED`: an ambiguous token is refused rather than guessed at.
 */
export function matchWorkload<T>(
  candidates: readonly T[],
  identityOf: (candidate: T) => WorkloadIdentity,
  token: VerifiedToken,
  defaultIssuer: string | undefined,
): T {
  const matches = candidates.filter((candidate) =>
    workloadMatches(identityOf(candidate), token, defaultIssuer),
  );
  if (matches.length !== 1) {
    throw new AppError(
      'GW_UNAUTHENTICATED',
      matches.length === 0
        ? 'The token matches no collector'
        : `The token matches ${matches.length} collectors`,
    );
  }
  return matches[0]!;
}

/** What a token's claims pin the events to, on top of its collector's scopes; an empty list pins nothing. */
export interface WorkloadBinding {
  /** Globs over the canonical `event.repository` (see {@link matchesGlob}). */
  readonly repositories: readonly string[];
  /** `tenant.environment` values, exactly. */
  readonly environments: readonly string[];
}

// Azure DevOps subjects: a service connection's `sc://org/project/name`, a pipeline's `p://org/project/name`.
const AZURE_SUBJECT = /^(?:sc|p):\/\/[^/]+\/([^/]+)\/./;

/**
 * The binding of a token's claims. The repository is canonical (`owner/name`, as the normalizer
 * stores it), so a GitLab project in a subgroup binds its last two segments; an Azure project
 * binds `project/*`, every repository the collector writes for it. A claim holding `*` is
 * refused: it would bind a glob instead of one repository.
 */
export function workloadBinding(claims: OidcClaims): WorkloadBinding {
  const text = (name: string): string | undefined => {
    const value = claims[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const repository = text('repository') ?? text('project_path');
  const project = repository === undefined ? AZURE_SUBJECT.exec(text('sub') ?? '')?.[1] : undefined;
  if ((repository ?? project ?? '').includes('*'))
    throw new AppError('GW_UNAUTHENTICATED', "The token's repository or project claim holds a '*'");
  const environment = text('environment');
  return {
    repositories:
      repository !== undefined
        ? [canonicalRepository(repository)]
        : project !== undefined
          ? [`${project.toLowerCase()}/*`]
          : [],
    environments: environment === undefined ? [] : [environment],
  };
}
