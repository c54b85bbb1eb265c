import { Module } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { AppError } from '@aispm/errors';
import { matchWorkload, OidcIssuers, OidcVerifier, workloadBinding, type WorkloadIdentity } from '../src';

// TRICKY: jose 6 is ESM only, and Jest's module loader cannot require ESM before Node 24.9. Load
// it with Node's own loader (which can, from Node 20.19), for this file and for the code under
// test alike; both then share one jose. Jest hands tests a `node:module` whose createRequire is
// its own, but the static _load it copies from Node's is the real one.
type NodeLoader = { _load(request: string, parent: null): unknown };
jest.mock('jose', () => (Module as unknown as NodeLoader)._load(require.resolve('jose'), null));

const ISSUER = 'https://token.actions.example.test';
const AUDIENCE = 'aispm-ingest';
// A second issuer with keys of its own, served at another path of the same loopback server.
const GITLAB = 'https://gitlab.example.test';
const GITLAB_AUDIENCE = 'aispm-gitlab';
const NOW = Math.floor(Date.now() / 1000);

type Keys = Awaited<ReturnType<typeof generateKeyPair>>;

let server: Server;
let jwksUrl: string;
let gitlabJwksUrl: string;
// Filled in beforeAll; test tables name a key, because they are built before it runs.
const keys = {} as Record<'rsa' | 'ec' | 'stranger' | 'pss' | 'gitlab', Keys>;

beforeAll(async () => {
  [keys.rsa, keys.ec, keys.stranger, keys.pss, keys.gitlab] = await Promise.all([
    generateKeyPair('RS256'),
    generateKeyPair('ES256'),
    generateKeyPair('RS256'),
    generateKeyPair('PS256'),
    generateKeyPair('RS256'),
  ]);
  const keySets: Record<string, object> = {
    '/jwks': {
      keys: [
        { ...(await exportJWK(keys.rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(keys.ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      ],
    },
    '/gitlab/jwks': {
      keys: [{ ...(await exportJWK(keys.gitlab.publicKey)), kid: 'gitlab-1', alg: 'RS256', use: 'sig' }],
    },
  };
  server = createServer((request, response) => {
    const keySet = keySets[request.url ?? ''];
    response.writeHead(keySet ? 200 : 404, { 'content-type': 'application/json' });
    response.end(JSON.stringify(keySet ?? keySets['/jwks']));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  jwksUrl = `${base}/jwks`;
  gitlabJwksUrl = `${base}/gitlab/jwks`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

interface TokenSpec {
  claims?: JWTPayload;
  key?: keyof typeof keys;
  alg?: string;
  kid?: string;
}

function sign({ claims = {}, key = 'rsa', alg = 'RS256', kid = 'rsa-1' }: TokenSpec = {}): Promise<string> {
  return new SignJWT({ repository: 'acme/widget', environment: 'production', ...claims })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .sign(keys[key].privateKey);
}

const valid: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: 'repo:acme/widget', iat: NOW, exp: NOW + 300 };

describe('OidcVerifier', () => {
  it.each<[string, TokenSpec]>([
    ['an RS256 token', { claims: valid }],
    ['an ES256 token', { claims: valid, key: 'ec', alg: 'ES256', kid: 'ec-1' }],
    ['an audience list that holds ours', { claims: { ...valid, aud: ['other', AUDIENCE] } }],
  ])('accepts %s and returns its claims', async (_name, spec) => {
    const verifier = new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl });
    const claims = await verifier.verify(await sign(spec));
    expect(claims).toMatchObject({ iss: ISSUER, sub: 'repo:acme/widget', repository: 'acme/widget' });
  });

  it.each<[string, TokenSpec, RegExp]>([
    ['a wrong audience', { claims: { ...valid, aud: 'someone-else' } }, /unexpected "aud" claim value/],
    ['no audience', { claims: { ...valid, aud: undefined } }, /missing required "aud" claim/],
    ['a wrong issuer', { claims: { ...valid, iss: 'https://evil.example.test' } }, /unexpected "iss" claim/],
    ['an expired token', { claims: { ...valid, exp: NOW - 60 } }, /"exp" claim timestamp check failed/],
    ['a token without expiry', { claims: { ...valid, exp: undefined } }, /missing required "exp" claim/],
    ['a token not yet valid', { claims: { ...valid, nbf: NOW + 600 } }, /"nbf" claim timestamp check failed/],
    ['a wrong key under a known kid', { claims: valid, key: 'stranger' }, /signature verification failed/],
    [
      'a wrong key under an unknown kid',
      { claims: valid, key: 'stranger', kid: 'rsa-2' },
      /no applicable key found in the JSON Web Key Set/,
    ],
    [
      'an algorithm we do not allow',
      { claims: valid, key: 'pss', alg: 'PS256' },
      /"alg" .* value not allowed/,
    ],
  ])('refuses %s', async (_name, spec, reason) => {
    const verifier = new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl });
    const refusal = verifier.verify(await sign(spec));
    await expect(refusal).rejects.toMatchObject({ code: 'GW_UNAUTHENTICATED', status: 401 });
    await expect(refusal).rejects.toThrow(reason);
  });

  it('refuses an HS256 token signed with a shared secret', async () => {
    const token = await new SignJWT(valid)
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .sign(new TextEncoder().encode('a'.repeat(32)));
    const verifier = new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl });
    await expect(verifier.verify(token)).rejects.toThrow(/"alg" .* value not allowed/);
  });

  it.each(['', 'not-a-jwt', 'a.b.c'])('refuses the garbage token %j', async (token) => {
    const verifier = new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl });
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'GW_UNAUTHENTICATED' });
  });

  it('says so when the key set is not served', async () => {
    const verifier = new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: `${jwksUrl}-gone` });
    const refusal = verifier.verify(await sign({ claims: valid }));
    await expect(refusal).rejects.toBeInstanceOf(AppError);
    await expect(refusal).rejects.toThrow(/OIDC token refused: Expected 200 OK/);
    await expect(refusal).rejects.toMatchObject({ code: 'GW_UNAUTHENTICATED', cause: expect.anything() });
  });

  it('names no internals when the issuer does not answer at all', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const verifier = new OidcVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: `http://127.0.0.1:${port}/`,
    });
    await expect(verifier.verify(await sign({ claims: valid }))).rejects.toThrow(
      "OIDC token refused: the issuer's key set could not be fetched",
    );
  });

  it.each([
    [{ jwksUrl: 'http://issuer.example.test/jwks' }, /must be https/],
    [{ jwksUrl: 'ftp://127.0.0.1/jwks' }, /must be https/],
    [{ jwksUrl: 'not a url' }, /not a URL/],
    [{ issuer: '' }, /issuer is empty/],
    [{ audience: '' }, /audience is empty/],
  ])('refuses the configuration %p', (overrides, message) => {
    const build = () => new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl, ...overrides });
    expect(build).toThrow(message);
    expect(build).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it.each(['https://issuer.example.test/jwks', 'http://localhost:8080/jwks', 'http://[::1]:8080/jwks'])(
    'takes the key set URL %s',
    (url) => {
      expect(() => new OidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: url })).not.toThrow();
    },
  );
});

describe('OidcIssuers', () => {
  const issuers = () =>
    new OidcIssuers([
      { issuer: ISSUER, audience: AUDIENCE, jwksUrl },
      { issuer: GITLAB, audience: GITLAB_AUDIENCE, jwksUrl: gitlabJwksUrl },
    ]);
  const gitlabClaims: JWTPayload = {
    iss: GITLAB,
    aud: GITLAB_AUDIENCE,
    sub: 'project_path:acme/widget:ref_type:branch:ref:main',
    project_path: 'acme/widget',
    repository: undefined,
    iat: NOW,
    exp: NOW + 300,
  };
  const gitlabToken = (claims: JWTPayload = gitlabClaims, key: keyof typeof keys = 'gitlab') =>
    sign({ claims, key, kid: key === 'gitlab' ? 'gitlab-1' : 'rsa-1' });

  it("verifies each issuer's tokens against that issuer's audience and key set, and names the issuer", async () => {
    const trusted = issuers();
    await expect(trusted.verify(await sign({ claims: valid }))).resolves.toMatchObject({
      issuer: ISSUER,
      claims: { sub: 'repo:acme/widget' },
    });
    await expect(trusted.verify(await gitlabToken())).resolves.toMatchObject({
      issuer: GITLAB,
      claims: { project_path: 'acme/widget' },
    });
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    [
      "naming one issuer, signed with another's key",
      () => gitlabToken(gitlabClaims, 'rsa'),
      /no applicable key found in the JSON Web Key Set/,
    ],
    [
      "of one issuer, for another issuer's audience",
      () => gitlabToken({ ...gitlabClaims, aud: AUDIENCE }),
      /unexpected "aud" claim value/,
    ],
    [
      'of an issuer not configured',
      () => sign({ claims: { ...valid, iss: 'https://evil.example.test' } }),
      /its issuer is not one this gateway trusts/,
    ],
    ['without an issuer', () => sign({ claims: { ...valid, iss: undefined } }), /not a JWT with an issuer/],
  ])('refuses a token %s', async (_name, make, reason) => {
    const refusal = issuers().verify(await make());
    await expect(refusal).rejects.toMatchObject({ code: 'GW_UNAUTHENTICATED', status: 401 });
    await expect(refusal).rejects.toThrow(reason);
  });

  it('has a default issuer when one is given or there is only one', () => {
    expect(issuers().issuers).toEqual([ISSUER, GITLAB]);
    expect(issuers().defaultIssuer).toBeUndefined();
    expect(new OidcIssuers([{ issuer: GITLAB, audience: GITLAB_AUDIENCE, jwksUrl }]).defaultIssuer).toBe(
      GITLAB,
    );
    const both = [
      { issuer: ISSUER, audience: AUDIENCE, jwksUrl },
      { issuer: GITLAB, audience: GITLAB_AUDIENCE, jwksUrl },
    ];
    expect(new OidcIssuers(both, GITLAB).defaultIssuer).toBe(GITLAB);
  });

  it.each<[string, () => OidcIssuers, RegExp]>([
    [
      'the same issuer twice',
      () =>
        new OidcIssuers([
          { issuer: ISSUER, audience: AUDIENCE, jwksUrl },
          { issuer: ISSUER, audience: 'other', jwksUrl },
        ]),
      /issuer https:\/\/token.actions.example.test is configured twice/,
    ],
    [
      'a default issuer it does not trust',
      () => new OidcIssuers([{ issuer: ISSUER, audience: AUDIENCE, jwksUrl }], GITLAB),
      /the default issuer https:\/\/gitlab.example.test is not configured/,
    ],
    [
      'an issuer with a key set over plain http',
      () => new OidcIssuers([{ issuer: ISSUER, audience: AUDIENCE, jwksUrl: 'http://keys.example.test/' }]),
      /must be https/,
    ],
  ])('refuses the configuration with %s', (_name, build, message) => {
    expect(build).toThrow(message);
    expect(build).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  describe('binding a verified token to its collector', () => {
    // The same claim globs under both issuers: only the issuer tells the collectors apart.
    const collectors: (WorkloadIdentity & { id: string })[] = [
      { id: 'github', oidc_issuer: ISSUER, oidc_claims: { sub: '*acme/widget*' } },
      { id: 'gitlab', oidc_issuer: GITLAB, oidc_claims: { sub: '*acme/widget*' } },
      { id: 'gitlab-other-project', oidc_issuer: GITLAB, oidc_claims: { project_path: 'other/*' } },
    ];
    const collectorOf = async (token: string, candidates = collectors) =>
      matchWorkload(candidates, (c) => c, await issuers().verify(token), undefined).id;

    it("matches a token only to collectors bound to the token's issuer", async () => {
      await expect(collectorOf(await sign({ claims: valid }))).resolves.toBe('github');
      await expect(collectorOf(await gitlabToken())).resolves.toBe('gitlab');
    });

    it('refuses a token of issuer A for a collector bound to issuer B', async () => {
      const refusal = collectorOf(await sign({ claims: valid }), collectors.slice(1));
      await expect(refusal).rejects.toMatchObject({ code: 'GW_UNAUTHENTICATED', status: 401 });
      await expect(refusal).rejects.toThrow('The token matches no collector');
    });

    it('binds a token to its own project, so another project is outside it', async () => {
      const other = await issuers().verify(
        await gitlabToken({
          ...gitlabClaims,
          sub: 'project_path:other/app:ref_type:branch:ref:main',
          project_path: 'other/app',
          environment: 'staging',
        }),
      );
      expect(workloadBinding(other.claims)).toEqual({
        repositories: ['other/app'],
        environments: ['staging'],
      });
      // Matched by its claims to the collector bound to that other project, and no other.
      expect(matchWorkload(collectors, (c) => c, other, undefined).id).toBe('gitlab-other-project');
    });
  });
});
