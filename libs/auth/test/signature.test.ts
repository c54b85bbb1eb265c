import { AppError } from '@aispm/errors';
import type { SignatureCheck, SignatureFailure } from '../src';
import { ReplayCache, SignatureError, signRequest, verifySignature } from '../src';

const SECRET = 'aispm_ss_test-secret';
const TIMESTAMP = 1_781_164_800;
const NOW_MS = TIMESTAMP * 1000;
const METHOD = 'POST';
const PATH = '/enterprise/aispm/events';
const BODY = '{"event":{"event_id":"evt_1"}}';
// Computed outside this code base, so the test pins the wire format, not just a round trip:
//   printf '%s' "1781164800.POST./enterprise/aispm/events.$(printf '%s' "$BODY" | sha256sum | cut -c1-64)" |
//     openssl dgst -sha256 -hmac aispm_ss_test-secret
const KNOWN_SIGNATURE = 'v1=53397e125842f243b958910800668ae0357f090f6253b8c9990fca6c58eb29a0';

function check(overrides: Partial<SignatureCheck> = {}): SignatureCheck {
  return {
    secret: SECRET,
    method: METHOD,
    path: PATH,
    body: BODY,
    timestampHeader: String(TIMESTAMP),
    signatureHeader: KNOWN_SIGNATURE,
    nowMs: NOW_MS,
    replayCache: new ReplayCache({ maxEntries: 100 }),
    ...overrides,
  };
}

function failureOf(run: () => void): SignatureError {
  try {
    run();
  } catch (error) {
    if (error instanceof SignatureError) return error;
    throw error;
  }
  throw new Error('expected a SignatureError');
}

describe('signRequest', () => {
  it('matches the signature computed independently with sha256sum and openssl', () => {
    expect(
      signRequest({ secret: SECRET, timestamp: TIMESTAMP, method: METHOD, path: PATH, body: BODY }),
    ).toBe(KNOWN_SIGNATURE);
  });

  it.each([
    ['a Buffer of the same bytes', { body: Buffer.from(BODY) }],
    ['a Uint8Array of the same bytes', { body: new Uint8Array(Buffer.from(BODY)) }],
    ['a lower-case method', { method: 'post' }],
  ])('signs %s the same', (_name, overrides) => {
    const signed = { secret: SECRET, timestamp: TIMESTAMP, method: METHOD, path: PATH, body: BODY };
    expect(signRequest({ ...signed, ...overrides })).toBe(KNOWN_SIGNATURE);
  });

  it.each([1.5, -1, Number.NaN, 2 ** 53])('refuses the timestamp %p', (timestamp) => {
    expect(() => signRequest({ secret: SECRET, timestamp, method: METHOD, path: PATH, body: BODY })).toThrow(
      RangeError,
    );
  });
});

describe('verifySignature', () => {
  it.each<[string, Partial<SignatureCheck>]>([
    ['the known signature', {}],
    ['a Buffer body', { body: Buffer.from(BODY) }],
    ['a lower-case method', { method: 'post' }],
    ['upper-case hex', { signatureHeader: KNOWN_SIGNATURE.toUpperCase().replace('V1=', 'v1=') }],
    ['surrounding spaces', { signatureHeader: ` ${KNOWN_SIGNATURE} `, timestampHeader: ` ${TIMESTAMP} ` }],
    ['a clock 300 s ahead (the edge)', { nowMs: NOW_MS + 300_000 }],
    ['a clock 300 s behind (the edge)', { nowMs: NOW_MS - 300_000 }],
  ])('accepts %s', (_name, overrides) => {
    expect(() => verifySignature(check(overrides))).not.toThrow();
  });

  it.each<[string, Partial<SignatureCheck>, SignatureFailure, RegExp]>([
    ['no timestamp', { timestampHeader: undefined }, 'missing', /X-Aispm-Timestamp header is missing/],
    ['an empty timestamp', { timestampHeader: '' }, 'missing', /X-Aispm-Timestamp header is missing/],
    ['no signature', { signatureHeader: undefined }, 'missing', /X-Aispm-Signature header is missing/],
    ['a repeated timestamp', { timestampHeader: ['1', '2'] }, 'malformed', /sent more than once/],
    [
      'a repeated signature',
      { signatureHeader: [KNOWN_SIGNATURE, KNOWN_SIGNATURE] },
      'malformed',
      /sent more than once/,
    ],
    ['a fractional timestamp', { timestampHeader: `${TIMESTAMP}.5` }, 'malformed', /unix seconds/],
    ['a negative timestamp', { timestampHeader: `-${TIMESTAMP}` }, 'malformed', /unix seconds/],
    ['an exponent timestamp', { timestampHeader: '1.78e9' }, 'malformed', /unix seconds/],
    ['a date timestamp', { timestampHeader: '2026-06-11T08:00:00Z' }, 'malformed', /unix seconds/],
    ['a 16-digit timestamp', { timestampHeader: '1'.repeat(16) }, 'malformed', /unix seconds/],
    ['a bare hex signature', { signatureHeader: KNOWN_SIGNATURE.slice(3) }, 'malformed', /v1=<64 hex/],
    ['another version', { signatureHeader: KNOWN_SIGNATURE.replace('v1', 'v2') }, 'malformed', /v1=<64 hex/],
    ['a short signature', { signatureHeader: KNOWN_SIGNATURE.slice(0, -1) }, 'malformed', /v1=<64 hex/],
    ['a non-hex signature', { signatureHeader: `v1=${'g'.repeat(64)}` }, 'malformed', /v1=<64 hex/],
    [
      'two signatures in one header',
      { signatureHeader: `${KNOWN_SIGNATURE},${KNOWN_SIGNATURE}` },
      'malformed',
      /v1=<64 hex/,
    ],
    [
      'a timestamp 301 s old',
      { nowMs: NOW_MS + 301_000 },
      'outside_window',
      /is 301 s behind the gateway's clock; the window is ±300 s/,
    ],
    [
      'a timestamp 301 s ahead',
      { nowMs: NOW_MS - 301_000 },
      'outside_window',
      /is 301 s ahead of the gateway's clock/,
    ],
    [
      'a timestamp in milliseconds',
      { timestampHeader: String(NOW_MS) },
      'outside_window',
      /ahead of the gateway's clock/,
    ],
    ['another body', { body: `${BODY} ` }, 'mismatch', /does not match the request/],
    ['another path', { path: `${PATH}/batch` }, 'mismatch', /does not match/],
    ['a query string added', { path: `${PATH}?x=1` }, 'mismatch', /does not match/],
    ['another method', { method: 'PUT' }, 'mismatch', /does not match/],
    ['another secret', { secret: `${SECRET}x` }, 'mismatch', /does not match/],
    ['another timestamp', { timestampHeader: String(TIMESTAMP + 1) }, 'mismatch', /does not match/],
  ])('refuses %s', (_name, overrides, reason, message) => {
    const error = failureOf(() => verifySignature(check(overrides)));
    expect(error.reason).toBe(reason);
    expect(error.message).toMatch(message);
  });

  it('refuses a second use of a signature, however its hex is cased', () => {
    const replayCache = new ReplayCache({ maxEntries: 100 });
    verifySignature(check({ replayCache }));
    const again = failureOf(() => verifySignature(check({ replayCache, nowMs: NOW_MS + 1000 })));
    expect(again.reason).toBe('replayed');
    expect(again.message).toMatch(/already used/);
    const upper = KNOWN_SIGNATURE.toUpperCase().replace('V1=', 'v1=');
    expect(failureOf(() => verifySignature(check({ replayCache, signatureHeader: upper }))).reason).toBe(
      'replayed',
    );
  });

  it('refuses a replay for as long as the timestamp stays in the window, even when stamped ahead', () => {
    const replayCache = new ReplayCache({ maxEntries: 100 });
    // Stamped 300 s ahead of the gateway: acceptable until 600 s from now.
    verifySignature(check({ replayCache, nowMs: NOW_MS - 300_000 }));
    const late = failureOf(() => verifySignature(check({ replayCache, nowMs: NOW_MS + 299_000 })));
    expect(late.reason).toBe('replayed');
  });

  it('does not record a forgery, so the real request still passes', () => {
    const replayCache = new ReplayCache({ maxEntries: 100 });
    expect(failureOf(() => verifySignature(check({ replayCache, body: 'tampered' }))).reason).toBe(
      'mismatch',
    );
    expect(replayCache.size).toBe(0);
    expect(() => verifySignature(check({ replayCache }))).not.toThrow();
  });

  it('raises GW_SIGNATURE_INVALID, a 401 that is not retriable', () => {
    const error = failureOf(() => verifySignature(check({ signatureHeader: undefined })));
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'GW_SIGNATURE_INVALID', status: 401, retriable: false });
  });
});

describe('ReplayCache', () => {
  it('answers false the first time and true after, until the entry expires', () => {
    const cache = new ReplayCache({ maxEntries: 10, ttlMs: 1000 });
    expect(cache.seen('a', 0)).toBe(false);
    expect(cache.seen('a', 999)).toBe(true);
    expect(cache.seen('a', 1000)).toBe(false);
    expect(cache.seen('a', 1999)).toBe(true);
  });

  it('remembers for twice the signature window by default', () => {
    const cache = new ReplayCache({ maxEntries: 10 });
    cache.seen('a', 0);
    expect(cache.seen('a', 599_999)).toBe(true);
    expect(cache.seen('a', 600_000)).toBe(false);
  });

  it('drops expired entries, so its size follows the live ones', () => {
    const cache = new ReplayCache({ maxEntries: 10, ttlMs: 1000 });
    cache.seen('a', 0);
    cache.seen('b', 500);
    cache.seen('c', 1200);
    expect(cache.size).toBe(2);
    cache.seen('d', 5000);
    expect(cache.size).toBe(1);
    expect(cache.evictedBeforeExpiry).toBe(0);
  });

  it('holds at most maxEntries, forgetting the oldest and counting it', () => {
    const cache = new ReplayCache({ maxEntries: 2, ttlMs: 1000 });
    for (const key of ['a', 'b', 'c']) expect(cache.seen(key, 0)).toBe(false);
    expect(cache.size).toBe(2);
    expect(cache.evictedBeforeExpiry).toBe(1);
    expect(cache.seen('c', 1)).toBe(true);
    expect(cache.seen('a', 1)).toBe(false);
  });

  it.each([
    [{ maxEntries: 0 }, /maxEntries/],
    [{ maxEntries: 1.5 }, /maxEntries/],
    [{ maxEntries: Number.NaN }, /maxEntries/],
    [{ maxEntries: 1, ttlMs: 0 }, /ttlMs/],
    [{ maxEntries: 1, ttlMs: Infinity }, /ttlMs/],
  ])('refuses the options %p', (options, message) => {
    expect(() => new ReplayCache(options)).toThrow(message);
    expect(() => new ReplayCache(options)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
