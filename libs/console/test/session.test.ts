import { randomBytes } from 'node:crypto';
import { clearedSessionCookie, ConsoleSessions, sessionCookie, sessionToken } from '../src/session';

const key = randomBytes(32);
const NOW = 1_800_000_000_000;

describe('ConsoleSessions', () => {
  const sessions = new ConsoleSessions(key, 3_600_000);

  it('accepts its own session until it expires', () => {
    const { token, expiresMs } = sessions.issue('rdr_0123abcd', NOW);
    expect(expiresMs).toBe(NOW + 3_600_000);
    expect(sessions.verify(token, NOW + 1)).toEqual({ readerId: 'rdr_0123abcd', expiresMs });
    expect(sessions.verify(token, expiresMs)).toBeUndefined();
  });

  it('refuses a session changed in any part, or signed under another key', () => {
    const { token } = sessions.issue('rdr_0123abcd', NOW);
    const [version, reader, expires, mac] = token.split('.');
    for (const forged of [
      `${version}.rdr_other.${expires}.${mac}`,
      `${version}.${reader}.${Number(expires) + 1000}.${mac}`,
      `${version}.${reader}.${expires}.${mac!.slice(0, -1)}${mac!.endsWith('A') ? 'B' : 'A'}`,
      `v2.${reader}.${expires}.${mac}`,
      new ConsoleSessions(randomBytes(32), 3_600_000).issue('rdr_0123abcd', NOW).token,
      '',
      'garbage',
    ]) {
      expect(sessions.verify(forged, NOW)).toBeUndefined();
    }
  });

  it('needs a key of 32 bytes', () => {
    expect(() => new ConsoleSessions(randomBytes(16), 1000)).toThrow(RangeError);
  });
});

describe('session cookies', () => {
  it('are HttpOnly and SameSite=Strict, Secure over TLS, and read back from a Cookie header', () => {
    expect(sessionCookie('tok', 3_600_000, false)).toBe(
      'aispm_console=tok; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict',
    );
    expect(sessionCookie('tok', 1000, true)).toMatch(/; Secure$/);
    expect(clearedSessionCookie(false)).toMatch(/^aispm_console=; Path=\/; Max-Age=0;/);
    expect(sessionToken('a=1; aispm_console=v1.x.1.y ; b=2')).toBe('v1.x.1.y');
    expect(sessionToken('aispm_consolex=1')).toBeUndefined();
    expect(sessionToken(undefined)).toBeUndefined();
  });
});
