/**
 * A test OIDC issuer on loopback: an RSA key, its JWKS document, and a token endpoint shaped like
 * GitHub Actions' (`ACTIONS_ID_TOKEN_REQUEST_URL`, `?audience=`, bearer request token, `{value}`).
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const REQUEST_TOKEN = 'test-request-token';

export class TestIssuer {
  readonly issuer = 'https://token.actions.example.test';
  private readonly keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private server: Server | undefined;
  /** The claims the token endpoint puts in its next tokens (besides iss, aud, iat, exp). */
  claims: Record<string, unknown> = {};
  url = '';

  /** A signed RS256 token with `claims` for `audience`. */
  token(audience: string, claims: Record<string, unknown>): string {
    const now = Math.floor(Date.now() / 1000);
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${part({ alg: 'RS256', kid: 'k1', typ: 'JWT' })}.${part({ iss: this.issuer, aud: audience, iat: now, exp: now + 300, ...claims })}`;
    return `${unsigned}.${sign('RSA-SHA256', Buffer.from(unsigned), this.keys.privateKey).toString('base64url')}`;
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      response.setHeader('content-type', 'application/json');
      if (url.pathname === '/jwks.json') {
        const jwk = { ...this.keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
        response.end(JSON.stringify({ keys: [jwk] }));
      } else if (url.pathname === '/token' && request.headers.authorization === `Bearer ${REQUEST_TOKEN}`) {
        response.end(
          JSON.stringify({ value: this.token(url.searchParams.get('audience') ?? '', this.claims) }),
        );
      } else {
        response.writeHead(401).end('{}');
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
