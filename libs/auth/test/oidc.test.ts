import { Module } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { AppError } from '@aispm/errors';
import { OidcVerifier } from '../src';

// TRICKY: jose 6 is ESM only, and Jest's module loader cannot require ESM before Node 24.9. Load
// it with Node's own loader (which can, from Node 20.19), for this file and for the code under
// test alike; both then share one jose. Jest hands tests a `node:module` whose createRequire is
// its own, but the static _load it copies from Node's is the real one.
type NodeLoader = { _load(request: string, parent: null): unknown };
jest.mock('jose', () => (Module as unknown as NodeLoader)._load(require.resolve('jose'), null));

const ISSUER = 'https://token.actions.example.test';
const AUDIENCE = 'aispm-ingest';
const NOW = Math.floor(Date.now() / 1000);

type Keys = Awaited<ReturnType<typeof generateKeyPair>>;

let server: Server;
let jwksUrl: string;
// Filled in beforeAll; test tables name a key, because they are built before it runs.
const keys = {} as Record<'rsa' | 'ec' | 'stranger' | 'pss', Keys>;

beforeAll(async () => {
  [keys.rsa, keys.ec, keys.stranger, keys.pss] = await Promise.all([
    generateKeyPair('RS256'),
    generateKeyPair('ES256'),
    generateKeyPair('RS256'),
    generateKeyPair('PS256'),
  ]);
  const jwks = {
    keys: [
      { ...(await exportJWK(keys.rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(keys.ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ],
  };
  server = createServer((request, response) => {
    response.writeHead(request.url === '/jwks' ? 200 : 404, { 'content-type': 'application/json' });
    response.end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
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
