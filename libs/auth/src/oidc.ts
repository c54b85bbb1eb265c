/**
 * Owns workload identity (DESIGN §5): verifying OIDC JWTs, such as CI runner tokens, against a
 * configured issuer, audience and the issuer's JSON Web Key Set. Mapping claims to scopes is
 * the caller's business.
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
    if (options.issuer === '') throw configError('issuer is empty');
    if (options.audience === '') throw configError('audience is empty');
    let url: URL;
    try {
      url = new URL(options.jwksUrl);
    } catch {
      throw configError(`jwksUrl is not a URL: ${options.jwksUrl}`);
    }
    // A key set fetched over plain http can be swapped on the way, and with it every identity.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)))
      throw configError(`jwksUrl must be https (or http on a loopback host): ${options.jwksUrl}`);
    this.options = options;
    this.jwksUrl = url;
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
