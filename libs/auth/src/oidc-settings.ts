/**
 * The OIDC keys' cross-field rule, for every service that needs to know which workload-identity
 * issuers the platform's gateways trust: the gateway verifies tokens with them, the API binds new
 * collectors to one of them.
 */
import type { Config } from '@aispm/config';
import { AppError } from '@aispm/errors';
import { oidcIssuerProblem, type OidcVerifierOptions } from './oidc';

export type OidcKeys =
  'GATEWAY_OIDC_ISSUER' | 'GATEWAY_OIDC_AUDIENCE' | 'GATEWAY_OIDC_JWKS_URL' | 'GATEWAY_OIDC_ISSUERS';

/** The issuers of workload-identity tokens the gateway trusts; none turns OIDC off. */
export interface OidcSettings {
  readonly issuers: readonly OidcVerifierOptions[];
  /** The issuer of collectors that name none: GATEWAY_OIDC_ISSUER, else the only issuer. */
  readonly defaultIssuer: string | undefined;
}

/**
 * The cross-field rule of the OIDC keys: GATEWAY_OIDC_ISSUERS, plus the single-issuer keys as one
 * more entry (they stay what they were), each entry complete and valid, and no issuer twice.
 * Every problem names its variable (and entry), and all of them are reported at once.
 */
export function oidcSettings(config: Config<OidcKeys>): OidcSettings {
  const problems: string[] = [];
  const entries: { options: OidcVerifierOptions; name: string }[] = config.GATEWAY_OIDC_ISSUERS.map(
    (entry, index) => ({
      options: { issuer: entry.issuer, audience: entry.audience, jwksUrl: entry.jwks_url },
      name: `GATEWAY_OIDC_ISSUERS entry ${index}`,
    }),
  );
  const single = {
    issuer: config.GATEWAY_OIDC_ISSUER,
    audience: config.GATEWAY_OIDC_AUDIENCE,
    jwksUrl: config.GATEWAY_OIDC_JWKS_URL,
  };
  if (single.issuer !== '') {
    const missing = (
      [
        [single.audience, 'GATEWAY_OIDC_AUDIENCE'],
        [single.jwksUrl, 'GATEWAY_OIDC_JWKS_URL'],
      ] as const
    ).flatMap(([value, name]) => (value === '' ? [name] : []));
    for (const name of missing) problems.push(`${name} is required when GATEWAY_OIDC_ISSUER is set`);
    // An incomplete entry is reported above only, not once more as invalid.
    if (missing.length === 0) entries.unshift({ options: single, name: 'GATEWAY_OIDC_ISSUER' });
  }
  const seen = new Map<string, string>();
  for (const { options, name } of entries) {
    const problem = oidcIssuerProblem(options);
    if (problem) problems.push(`${name} is invalid: ${problem}`);
    const earlier = seen.get(options.issuer);
    if (earlier) problems.push(`${name} names the issuer ${options.issuer} of ${earlier} again`);
    seen.set(options.issuer, name);
  }
  if (problems.length > 0)
    throw new AppError('CONFIG_INVALID', `Invalid configuration: ${problems.join('; ')}`);
  const issuers = entries.map((entry) => entry.options);
  return {
    issuers,
    defaultIssuer:
      single.issuer !== '' ? single.issuer : issuers.length === 1 ? issuers[0]!.issuer : undefined,
  };
}
