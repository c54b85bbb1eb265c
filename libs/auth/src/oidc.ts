/**
 * Owns workload identity (DESIGN §5): verifying OIDC JWTs, such as CI runner tokens, against a
 * configured issuer, audience and the issuer's JSON Web Key Set, for one issuer or several at
 * once (GitHub Actions, GitLab, Azure Pipelines). Which collector a token is, and what its claims
 * bind, is `workload.ts`'s business.
 */
import type { JWTPayload } from 'jose' with { 'resolution-mode': 'import' };
import { AppError } from '@aispm/errors';

/** The verified claims of a token. */
export type OidcClaims = JWTPayload;

/** Where tokens come from and whom they must be for. */
export interface OidcVerifierOptions {
  /** The exact `iss` a token must carry. */
  readonly issuer: string;
  /** The `aud` a token must carry (one of its values, when it is a list). */
  readonly audience: string;
  /** The issuer's JWKS document; https, except on a loopback host (tests, a local issuer). */
  readonly jwksUrl: string;
  /** Clock skew allowed on `exp`, `nbf` and `iat`, in seconds; 0 unless set. */
  readonly clockToleranceSeconds?: number;
}

// Asymmetric only: with HS256 the verifier would need the signing secret, and a token could be
// forged by anyone who can read the verifier's configuration.
const ALGORITHMS = ['RS256', 'ES256'];

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

// TRICKY: jose 6 is ESM only and this package compiles to CommonJS, where tsc (`module: node16`)
// refuses a static import of ESM. A dynamic import() is kept as is by tsc and loads ESM natively.
// Being lazy, it also keeps jose out of every module that merely imports this package: Jest's
// loader cannot load ESM before Node 24.9, so only a test that verifies tokens must load jose
// specially (see test/oidc.test.ts).
const loadJose = () => import('jose');

type KeySet = ReturnType<Awaited<ReturnType<typeof loadJose>>['createRemoteJWKSet']>;

function configError(message: string): AppError {
  return new AppError('CONFIG_INVALID', `OIDC verifier: ${message}`);
}

/**
 * What is wrong with an issuer's settings, or undefined when nothing is; the gateway's
 * configuration check names the variable with it, the verifier refuses to start with it.
 */
export function oidcIssuerProblem(options: OidcVerifierOptions): string | undefined {
  if (options.issuer === '') return 'issuer is empty';
  if (options.audience === '') return 'audience is empty';
  let url: URL;
  try {
    url = new URL(options.jwksUrl);
  } catch {
    return `jwksUrl is not a URL: ${options.jwksUrl}`;
  }
  // A key set fetched over plain http can be swapped on the way, and with it every identity.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)))
    return `jwksUrl must be https (or http on a loopback host): ${options.jwksUrl}`;
  return undefined;
}

/**
 * Why a token was refused, in words safe to return to the caller. jose's own messages are
 * precise and name no secret (`unexpected "aud" claim value`, `"exp" claim timestamp check
 * failed`); anything else is a failure to fetch the key set, whose details go to the logs only
 * (as the cause).
 */
function reasonOf(error: unknown): string {
  // By jose's `code`, not instanceof: its error classes are not imported statically (see loadJose).
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && code.startsWith('ERR_J') && typeof message === 'string') return message;
  return "the issuer's key set could not be fetched";
}

/**
 * Verifies OIDC tokens of one issuer. The key set is fetched on first use and cached by jose,
 * which refetches it (at most every 30 s) when a token names a key it does not hold, so a key
 * rotation at the issuer needs no restart.
 */
export class OidcVerifier {
  private readonly options: OidcVerifierOptions;
  private readonly jwksUrl: URL;
  private keySet: Promise<{ jose: Awaited<ReturnType<typeof loadJose>>; keys: KeySet }> | undefined;

  constructor(options: OidcVerifierOptions) {
    const problem = oidcIssuerProblem(options);
    if (problem) throw configError(problem);
    this.options = options;
    this.jwksUrl = new URL(options.jwksUrl);
  }

  /** The issuer whose tokens this verifies. */
  get issuer(): string {
    return this.options.issuer;
  }

  /**
   * The claims of `token` (the bare JWT, without `Bearer `) when its signature, issuer,
   * audience, algorithm and expiry all check out. Throws `GW_UNAUTHENTICATED` with the reason
   * otherwise; a token without `exp` is refused.
   */
  async verify(token: string): Promise<OidcClaims> {
    const { jose, keys } = await this.load();
    try {
      const { payload } = await jose.jwtVerify(token, keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp'],
        clockTolerance: this.options.clockToleranceSeconds ?? 0,
      });
      return payload;
    } catch (error) {
      throw new AppError('GW_UNAUTHENTICATED', `OIDC token refused: ${reasonOf(error)}`, { cause: error });
    }
  }

  private load(): NonNullable<OidcVerifier['keySet']> {
    this.keySet ??= loadJose().then((jose) => ({ jose, keys: jose.createRemoteJWKSet(this.jwksUrl) }));
    return this.keySet;
  }
}

/** A verified token: the issuer that signed it, and its claims. */
export interface VerifiedToken {
  readonly issuer: string;
  readonly claims: OidcClaims;
}

/** The unverified `iss` of a JWT, only to pick the verifier that then checks it; undefined when unreadable. */
function claimedIssuer(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      iss?: unknown;
    };
    return typeof payload.iss === 'string' ? payload.iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies tokens of several issuers, each against its own audience and key set. The token's
 * `iss` only chooses the verifier: that verifier checks the signature with its issuer's keys and
 * the `iss` claim again, so a token cannot borrow another issuer's trust by naming it.
 */
export class OidcIssuers {
  /** Every trusted issuer, in configuration order. */
  readonly issuers: readonly string[];
  /**
   * The issuer of collectors that name none (created before issuers could be several, or
   * without `--oidc-issuer`): the one given, else the only issuer; undefined with several.
   */
  readonly defaultIssuer: string | undefined;
  private readonly verifiers: ReadonlyMap<string, OidcVerifier>;

  constructor(options: readonly OidcVerifierOptions[], defaultIssuer?: string) {
    const verifiers = new Map<string, OidcVerifier>();
    for (const entry of options) {
      if (verifiers.has(entry.issuer)) throw configError(`issuer ${entry.issuer} is configured twice`);
      verifiers.set(entry.issuer, new OidcVerifier(entry));
    }
    if (defaultIssuer !== undefined && !verifiers.has(defaultIssuer))
      throw configError(`the default issuer ${defaultIssuer} is not configured`);
    this.verifiers = verifiers;
    this.issuers = [...verifiers.keys()];
    this.defaultIssuer = defaultIssuer ?? (this.issuers.length === 1 ? this.issuers[0] : undefined);
  }

  /**
   * The issuer and claims of `token` when one of the issuers signed it for its audience, within
   * its lifetime; throws `GW_UNAUTHENTICATED` with the reason otherwise.
   */
  async verify(token: string): Promise<VerifiedToken> {
    const issuer = claimedIssuer(token);
    const verifier = issuer === undefined ? undefined : this.verifiers.get(issuer);
    if (!verifier)
      throw new AppError(
        'GW_UNAUTHENTICATED',
        issuer === undefined
          ? 'OIDC token refused: it is not a JWT with an issuer'
          : 'OIDC token refused: its issuer is not one this gateway trusts',
      );
    return { issuer: verifier.issuer, claims: await verifier.verify(token) };
  }
}
