/**
 * A test OIDC issuer on loopback: an RSA key, its JWKS document, and token endpoints shaped like
 * GitHub Actions' (`ACTIONS_ID_TOKEN_REQUEST_URL`, `?audience=`, bearer request token, `{value}`)
 * and Azure Pipelines' (`SYSTEM_OIDCREQUESTURI`, POST with the job's access token as bearer,
 * `{oidcToken}`, for the fixed audience Azure DevOps gives every token). GitLab has no endpoint:
 * a job gets its token in a variable, which a test fills with `token()`.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const REQUEST_TOKEN = 'test-request-token';

/** The audience of every Azure DevOps OIDC token. */
export const AZURE_AUDIENCE = 'api://AzureADTokenExchange';

export class TestIssuer {
  private readonly keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private server: Server | undefined;
  /** The claims the token endpoints put in their next tokens (besides iss, aud, iat, exp). */
  claims: Record<string, unknown> = {};
  /** The query of the last token request, to check what a collector asked for. */
  lastQuery = new URLSearchParams();
  url = '';

  /** `issuer` is the `iss` of its tokens; a suite gives each of its issuers a URL of its own. */
  constructor(readonly issuer = 'https://token.actions.example.test') {}

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
      const authorized = request.headers.authorization === `Bearer ${REQUEST_TOKEN}`;
      response.setHeader('content-type', 'application/json');
      if (url.pathname === '/jwks.json') {
        const jwk = { ...this.keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
        response.end(JSON.stringify({ keys: [jwk] }));
      } else if (url.pathname === '/token' && authorized) {
        this.lastQuery = url.searchParams;
        response.end(
          JSON.stringify({ value: this.token(url.searchParams.get('audience') ?? '', this.claims) }),
        );
      } else if (url.pathname === '/oidctoken' && request.method === 'POST' && authorized) {
        this.lastQuery = url.searchParams;
        response.end(JSON.stringify({ oidcToken: this.token(AZURE_AUDIENCE, this.claims) }));
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
