/**
 * Owns console sessions (DESIGN §17): a reader signs in once with its API key and gets a
 * short-lived session instead, carried in an HttpOnly, SameSite=Strict cookie, so the key never
 * sits in the browser. A session is a signed statement "reader R until T"
 * (`v1.<reader>.<expires>.<mac>`, HMAC-SHA256 under a key the KMS derives), so every gateway
 * instance accepts every other's sessions without sharing state. The reader is looked up again
 * on every request: revoking it ends its sessions at once. Pure apart from the clock it is given.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The session cookie's name. */
export const SESSION_COOKIE = 'aispm_console';

const READER_ID = /^[A-Za-z0-9_-]{1,128}$/;
const TOKEN = /^v1\.([A-Za-z0-9_-]{1,128})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/;

export class ConsoleSessions {
  constructor(
    private readonly key: Buffer,
    /** How long a session lasts from sign-in (API_CONSOLE_SESSION_TTL_MS). */
    readonly ttlMs: number,
  ) {
    if (key.length < 32) throw new RangeError('A console session key needs 32 bytes');
  }

  /** A new session of `readerId`, from `nowMs`. */
  issue(readerId: string, nowMs: number): { token: string; expiresMs: number } {
    if (!READER_ID.test(readerId)) throw new RangeError(`"${readerId}" is not a reader id`);
    const expiresMs = nowMs + this.ttlMs;
    return { token: `v1.${readerId}.${expiresMs}.${this.mac(readerId, expiresMs)}`, expiresMs };
  }

  /** The reader of a valid, unexpired session token, or undefined. */
  verify(token: string, nowMs: number): { readerId: string; expiresMs: number } | undefined {
    const match = TOKEN.exec(token);
    if (!match) return undefined;
    const [, readerId, expires, mac] = match;
    const expiresMs = Number(expires);
    if (expiresMs <= nowMs) return undefined;
    const expected = Buffer.from(this.mac(readerId!, expiresMs));
    const given = Buffer.from(mac!);
    return given.length === expected.length && timingSafeEqual(given, expected)
      ? { readerId: readerId!, expiresMs }
      : undefined;
  }

  private mac(readerId: string, expiresMs: number): string {
    return createHmac('sha256', this.key).update(`v1.${readerId}.${expiresMs}`).digest('base64url');
  }
}

/** The session token in a `Cookie` header, if any. */
export function sessionToken(cookieHeader: string | undefined): string | undefined {
  for (const pair of (cookieHeader ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === SESSION_COOKIE) return pair.slice(at + 1).trim();
  }
  return undefined;
}

/** The `Set-Cookie` value of a session; `Secure` when the request came over TLS. */
export function sessionCookie(token: string, maxAgeMs: number, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor(maxAgeMs / 1000));
  return `${SESSION_COOKIE}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The `Set-Cookie` value that ends a session in the browser. */
export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}
