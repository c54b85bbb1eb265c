import type { OidcIssuers, VerifiedToken } from '@aispm/auth';
import { azureJobDrafts, buildEnvelope, gitlabJobDrafts } from '@aispm/collector';
import type { ControlCollector, ControlRecord, ControlTenant } from '@aispm/contracts';
import { ControlState } from '@aispm/control';
import { authenticateWorkload } from '../src/access';
import { admit } from '../src/admission';
import { oidcSettings } from '@aispm/auth';

// Token verification itself (signatures, audiences, key sets of several issuers) is tested in
// libs/auth; here a verifier stands in that answers with the token it is told, so what is
// tested is what the gateway does with a verified token.
const GITHUB = 'https://token.actions.githubusercontent.com';
const GITLAB = 'https://gitlab.example.com';
const AZURE = 'https://vstoken.dev.azure.com/61c028b9-510c-4f84-bfb2-f48d33b6b542';

const tenant: ControlTenant = {
  type: 'tenant',
  slug: 'acme',
  tenant_ref: 'tenant:acme',
  retention_days: 30,
  raw_retention_hours: 24,
  deleted: false,
};

const noScopes = {
  connector_types: [],
  connector_ids: [],
  repositories: [],
  environments: [],
  event_types: [],
};

function collector(id: string, fields: Partial<ControlCollector>): ControlCollector {
  return {
    type: 'collector',
    collector_id: id,
    tenant: 'acme',
    key_sha256: id.padEnd(64, '0'),
    require_signature: false,
    scopes: noScopes,
    revoked: false,
    ...fields,
  };
}

function stateOf(...collectors: ControlCollector[]): ControlState {
  const state = new ControlState();
  for (const data of [tenant, ...collectors]) {
    const record: ControlRecord = { schema_version: 'aispm.control_record.v1', updated_ms: 1, data };
    state.apply(record);
  }
  return state;
}

/** A verifier that trusts `issuers` and answers every token with `token`. */
function verifier(token: VerifiedToken, issuers: string[], defaultIssuer?: string): OidcIssuers {
  return {
    issuers,
    defaultIssuer: defaultIssuer ?? (issuers.length === 1 ? issuers[0] : undefined),
    verify: async () => token,
  } as unknown as OidcIssuers;
}

const gitlabToken = (claims: Record<string, unknown>): VerifiedToken => ({
  issuer: GITLAB,
  claims: {
    sub: `project_path:${String(claims.project_path)}:ref_type:branch:ref:main`,
    namespace_path: String(claims.project_path).split('/')[0],
    ref: 'main',
    ...claims,
  },
});

const gitlabCollector = collector('col_gitlab', {
  oidc_issuer: GITLAB,
  oidc_claims: { namespace_path: '*' },
  scopes: { ...noScopes, repositories: ['acme/*'], environments: ['production'] },
});
const githubCollector = collector('col_github', {
  oidc_issuer: GITHUB,
  oidc_claims: { ref: 'main' },
});
const ISSUERS = [GITHUB, GITLAB, AZURE];

describe('authenticateWorkload with several issuers', () => {
  it("is the collector bound to the token's issuer, carrying what the token binds", async () => {
    const principal = await authenticateWorkload(
      stateOf(gitlabCollector, githubCollector),
      verifier(gitlabToken({ project_path: 'acme/app', environment: 'production' }), ISSUERS),
      'token',
    );
    expect(principal.collector.collector_id).toBe('col_gitlab');
    expect(principal.binding).toEqual({ repositories: ['acme/app'], environments: ['production'] });
  });

  it('refuses (401) a token of issuer A whose claims fit only a collector bound to issuer B', async () => {
    const githubToken = { ...gitlabToken({ project_path: 'acme/app' }), issuer: GITHUB };
    const refusal = authenticateWorkload(stateOf(gitlabCollector), verifier(githubToken, ISSUERS), 'token');
    await expect(refusal).rejects.toMatchObject({ code: 'GW_UNAUTHENTICATED', status: 401 });
  });

  it.each([
    ['another project', { project_path: 'other/app', environment: 'production' }, /repository other\/app/],
    ['another environment', { project_path: 'acme/app', environment: 'staging' }, /environment staging/],
  ])('refuses (403) a valid token for %s than its collector may write for', async (_name, claims, detail) => {
    const refusal = authenticateWorkload(
      stateOf(gitlabCollector),
      verifier(gitlabToken(claims), ISSUERS),
      'token',
    );
    await expect(refusal).rejects.toMatchObject({ code: 'GW_SCOPE_DENIED', status: 403 });
    await expect(refusal).rejects.toThrow(detail);
  });

  it('binds a collector created without an issuer to the default issuer only', async () => {
    const legacy = collector('col_legacy', { oidc_claims: { ref: 'main' } });
    const token = gitlabToken({ project_path: 'acme/app' });
    await expect(
      authenticateWorkload(stateOf(legacy), verifier(token, ISSUERS, GITLAB), 'token'),
    ).resolves.toMatchObject({ collector: { collector_id: 'col_legacy' } });
    await expect(
      authenticateWorkload(stateOf(legacy), verifier(token, ISSUERS, GITHUB), 'token'),
    ).rejects.toMatchObject({ code: 'GW_UNAUTHENTICATED' });
    await expect(
      authenticateWorkload(stateOf(legacy), verifier(token, ISSUERS), 'token'),
    ).rejects.toMatchObject({
      code: 'GW_UNAUTHENTICATED',
    });
  });
});

describe('admitting the events of a workload', () => {
  const limits = { maxFutureSkewMs: 300_000 };
  const now = new Date().toISOString();
  const settings = {
    tenantRef: 'tenant:acme',
    environment: 'production' as const,
    connectorId: '',
    hostName: 'runner',
    collectorVersion: 'test',
    signed: false,
  };
  const azureCollector = collector('col_azure', { oidc_issuer: AZURE, oidc_claims: { sub: 'p://acme/**' } });

  /** The envelope of an Azure job that says it builds `project`'s repository `web`. */
  const azureEvent = (project: string) =>
    buildEnvelope(
      azureJobDrafts(
        { SYSTEM_TEAMPROJECT: project, BUILD_REPOSITORY_PROVIDER: 'TfsGit', BUILD_REPOSITORY_NAME: 'web' },
        now,
      )[0]!,
      settings,
    );

  it("admits an Azure job's event for the token's own project, and refuses (403) one for another", async () => {
    const principal = await authenticateWorkload(
      stateOf(azureCollector),
      verifier({ issuer: AZURE, claims: { sub: 'p://acme/Other/deploy' } }, ISSUERS),
      'token',
    );
    expect(principal.binding).toEqual({ repositories: ['other/*'], environments: [] });
    const { collector: bound, binding } = principal;
    expect(admit(azureEvent('Other'), bound, tenant, Date.now(), limits, binding).event.repository).toBe(
      'other/web',
    );
    // A job of project Other claiming to build App's repository: its token says otherwise.
    expect(() => admit(azureEvent('App'), bound, tenant, Date.now(), limits, binding)).toThrow(
      expect.objectContaining({
        code: 'GW_SCOPE_DENIED',
        fields: [{ pointer: '/event/repository', detail: "outside the token's repository" }],
      }),
    );
  });

  it("refuses (403) a GitLab job's event whose environment is not its token's", () => {
    const event = buildEnvelope(gitlabJobDrafts({ CI_PROJECT_PATH: 'acme/app' }, now)[0]!, {
      ...settings,
      environment: 'staging',
    });
    const binding = { repositories: ['acme/app'], environments: ['production'] };
    expect(() => admit(event, gitlabCollector, tenant, Date.now(), limits, binding)).toThrow(
      expect.objectContaining({ code: 'GW_SCOPE_DENIED' }),
    );
    expect(
      admit(
        { ...event, tenant: { ...event.tenant, environment: 'production' } },
        gitlabCollector,
        tenant,
        Date.now(),
        limits,
        binding,
      ),
    ).toBeTruthy();
  });
});

describe('OIDC configuration', () => {
  const entry = { issuer: GITLAB, audience: 'aispm', jwks_url: `${GITLAB}/oauth/discovery/keys` };
  const none = {
    GATEWAY_OIDC_ISSUER: '',
    GATEWAY_OIDC_AUDIENCE: '',
    GATEWAY_OIDC_JWKS_URL: '',
    GATEWAY_OIDC_ISSUERS: [],
  };
  const single = {
    GATEWAY_OIDC_ISSUER: GITHUB,
    GATEWAY_OIDC_AUDIENCE: 'aispm',
    GATEWAY_OIDC_JWKS_URL: `${GITHUB}/.well-known/jwks`,
  };

  it('keeps the single-issuer keys working, as one entry and the default issuer', () => {
    expect(oidcSettings(none)).toEqual({ issuers: [], defaultIssuer: undefined });
    expect(oidcSettings({ ...none, ...single })).toEqual({
      issuers: [{ issuer: GITHUB, audience: 'aispm', jwksUrl: `${GITHUB}/.well-known/jwks` }],
      defaultIssuer: GITHUB,
    });
    expect(oidcSettings({ ...none, ...single, GATEWAY_OIDC_ISSUERS: [entry] })).toMatchObject({
      issuers: [{ issuer: GITHUB }, { issuer: GITLAB, jwksUrl: entry.jwks_url }],
      defaultIssuer: GITHUB,
    });
  });

  it('has a default issuer only when there is one issuer or the single-issuer key names it', () => {
    expect(oidcSettings({ ...none, GATEWAY_OIDC_ISSUERS: [entry] }).defaultIssuer).toBe(GITLAB);
    const azure = { ...entry, issuer: AZURE, jwks_url: `${AZURE}/.well-known/jwks` };
    expect(oidcSettings({ ...none, GATEWAY_OIDC_ISSUERS: [entry, azure] }).defaultIssuer).toBeUndefined();
  });

  it.each<[string, Parameters<typeof oidcSettings>[0], RegExp]>([
    [
      'an incomplete single issuer',
      { ...none, GATEWAY_OIDC_ISSUER: GITHUB },
      /GATEWAY_OIDC_AUDIENCE is required when GATEWAY_OIDC_ISSUER is set; GATEWAY_OIDC_JWKS_URL is required/,
    ],
    [
      'a key set over plain http',
      {
        ...none,
        GATEWAY_OIDC_ISSUERS: [entry, { ...entry, issuer: AZURE, jwks_url: 'http://keys.example.com' }],
      },
      /GATEWAY_OIDC_ISSUERS entry 1 is invalid: jwksUrl must be https/,
    ],
    [
      'an issuer twice in the list',
      { ...none, GATEWAY_OIDC_ISSUERS: [entry, entry] },
      /GATEWAY_OIDC_ISSUERS entry 1 names the issuer https:\/\/gitlab.example.com of GATEWAY_OIDC_ISSUERS entry 0 again/,
    ],
    [
      'the single issuer in the list too',
      { ...none, ...single, GATEWAY_OIDC_ISSUERS: [{ ...entry, issuer: GITHUB }] },
      /entry 0 names the issuer https:\/\/token.actions.githubusercontent.com of GATEWAY_OIDC_ISSUER again/,
    ],
  ])('stops start-up on %s, naming the variable', (_name, config, message) => {
    expect(() => oidcSettings(config)).toThrow(message);
    expect(() => oidcSettings(config)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
