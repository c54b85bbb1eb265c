/**
 * Owns request signatures (DESIGN §5): how a collector signs a request, and how the gateway
 * checks one, within a ±300 s window and refusing a signature it has already seen.
 *
 * The scheme is fixed by the gateway issue:
 *
 *   X-Aispm-Timestamp: <unix seconds>
 *   X-Aispm-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<METHOD>.<path>.<hex sha256(body)>")>
 *
 * The body enters as its SHA-256, so the signed string stays small and unambiguous whatever the
 * body holds (it may contain dots and newlines; its digest never does).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '@aispm/errors';

/** The header that carries the signing time, in unix seconds. */
export const TIMESTAMP_HEADER = 'X-Aispm-Timestamp';

/** The header that carries the signature, `v1=<64 hex digits>`. */
export const SIGNATURE_HEADER = 'X-Aispm-Signature';

/** How far, in seconds, a signing time may be from the gateway's clock, either way. */
export const SIGNATURE_WINDOW_SECONDS = 300;

const WINDOW_MS = SIGNATURE_WINDOW_SECONDS * 1000;

// Up to 15 digits keeps the value an exact integer in a double; real timestamps have 10.
const TIMESTAMP_PATTERN = /^\d{1,15}$/;
const SIGNATURE_PATTERN = /^v1=([0-9a-fA-F]{64})$/;

/** Why a signature was refused; the gateway counts rejections by it. */
export type SignatureFailure = 'missing' | 'malformed' | 'outside_window' | 'mismatch' | 'replayed';

/** A refused signature: `GW_SIGNATURE_INVALID` (401), with the reason as a field for metrics. */
export class SignatureError extends AppError {
  readonly reason: SignatureFailure;

  constructor(reason: SignatureFailure, message: string) {
    super('GW_SIGNATURE_INVALID', message);
    this.reason = reason;
  }
}

/** What a signature covers. */
export interface SignedRequest {
  /** The collector's signing secret. */
  readonly secret: string;
  /** The HTTP method; compared in upper case. */
  readonly method: string;
  /**
   * The request target exactly as sent (path and any query string), not normalized: the
   * gateway must pass the raw target, or a signature over `/a/../b` would cover another path.
   */
  readonly path: string;
  /** The exact body bytes as sent on the wire (before any decompression); a string is UTF-8. */
  readonly body: Uint8Array | string;
}

function hexDigest(request: SignedRequest, timestamp: string): string {
  const bodyDigest = createHash('sha256').update(request.body).digest('hex');
  return createHmac('sha256', request.secret)
    .update(`${timestamp}.${request.method.toUpperCase()}.${request.path}.${bodyDigest}`)
    .digest('hex');
}

/**
 * The `X-Aispm-Signature` value (`v1=<hex>`) for a request signed at `timestamp` (unix seconds,
 * sent as `X-Aispm-Timestamp`).
 */
export function signRequest(request: SignedRequest & { readonly timestamp: number }): string {
  if (!Number.isSafeInteger(request.timestamp) || request.timestamp < 0)
    throw new RangeError(`timestamp must be whole unix seconds, got ${request.timestamp}`);
  return `v1=${hexDigest(request, String(request.timestamp))}`;
}

/** A header as a Node or Fastify request exposes it: absent, once, or repeated. */
export type HeaderValue = string | readonly string[] | undefined;

/** What {@link verifySignature} needs: the request, its two headers, the clock and the replay memory. */
export interface SignatureCheck extends SignedRequest {
  readonly timestampHeader: HeaderValue;
  readonly signatureHeader: HeaderValue;
  /** The gateway's clock, in epoch milliseconds. */
  readonly nowMs: number;
  /** Signatures already accepted; shared by every request this gateway instance serves. */
  readonly replayCache: ReplayCache;
}

function singleHeader(value: HeaderValue, name: string): string {
  if (value === undefined || value === '') throw new SignatureError('missing', `${name} header is missing`);
  if (typeof value !== 'string') {
    // TRICKY: a repeated header would let a client offer several candidates; take none of them.
    throw new SignatureError('malformed', `${name} header is sent more than once`);
  }
  return value;
}

/**
 * Checks a signed request and, when it passes, records its signature so it cannot be used
 * again. Throws a {@link SignatureError} (`GW_SIGNATURE_INVALID`) that says what failed: a
 * missing or malformed header, a timestamp outside the window, a mismatch, or a replay.
 */
export function verifySignature(check: SignatureCheck): void {
  const timestamp = singleHeader(check.timestampHeader, TIMESTAMP_HEADER).trim();
  const signature = singleHeader(check.signatureHeader, SIGNATURE_HEADER).trim();
  if (!TIMESTAMP_PATTERN.test(timestamp))
    throw new SignatureError('malformed', `${TIMESTAMP_HEADER} must be unix seconds (digits only)`);
  const offered = SIGNATURE_PATTERN.exec(signature)?.[1];
  if (offered === undefined)
    throw new SignatureError('malformed', `${SIGNATURE_HEADER} must be v1=<64 hex digits>`);

  const skewMs = check.nowMs - Number(timestamp) * 1000;
  if (Math.abs(skewMs) > WINDOW_MS)
    throw new SignatureError(
      'outside_window',
      `${TIMESTAMP_HEADER} is ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? 'behind' : 'ahead of'} ` +
        `the gateway's clock; the window is ±${SIGNATURE_WINDOW_SECONDS} s`,
    );

  const expected = Buffer.from(hexDigest(check, timestamp), 'hex');
  // Both sides are 32 bytes (the pattern fixes the length), as timingSafeEqual requires.
  if (!timingSafeEqual(expected, Buffer.from(offered, 'hex')))
    throw new SignatureError('mismatch', `${SIGNATURE_HEADER} does not match the request`);

  // TRICKY: record only verified signatures. Recording forgeries would let anyone fill the
  // bounded cache and push real signatures out of it, re-opening them to replay. The key is the
  // lower-case digest, so the same signature in upper-case hex is the same key.
  if (check.replayCache.seen(offered.toLowerCase(), check.nowMs))
    throw new SignatureError('replayed', `${SIGNATURE_HEADER} was already used; sign each request anew`);
}

/** Bounds of a {@link ReplayCache}. */
export interface ReplayCacheOptions {
  /** The most signatures remembered at once; size it above the peak signed requests per 10 minutes. */
  readonly maxEntries: number;
  /** How long a signature is remembered, in ms; defaults to twice the window (see below). */
  readonly ttlMs?: number;
}

/**
 * The signatures seen recently, in memory and bounded. Keys are remembered for `ttlMs`; when
 * `maxEntries` live keys are held, the oldest is forgotten to make room.
 *
 * TRICKY: the default time to live is twice the window, not the window. A request stamped up to
 * 300 s in the future is accepted now and stays acceptable until its own timestamp + 300 s,
 * that is up to 600 s from now; forgetting it sooner would let it be replayed in between.
 */
export class ReplayCache {
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  // Insertion order is expiry order (one ttl for all), so the oldest entries are first.
  private readonly expiries = new Map<string, number>();
  private evictedLive = 0;

  constructor(options: ReplayCacheOptions) {
    const ttlMs = options.ttlMs ?? 2 * WINDOW_MS;
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1)
      throw new AppError('CONFIG_INVALID', `replay cache maxEntries must be a positive integer`);
    if (!Number.isFinite(ttlMs) || ttlMs <= 0)
      throw new AppError('CONFIG_INVALID', `replay cache ttlMs must be a positive number`);
    this.maxEntries = options.maxEntries;
    this.ttlMs = ttlMs;
  }

  /** True when `key` was recorded and has not expired by `nowMs`; otherwise records it and returns false. */
  seen(key: string, nowMs: number): boolean {
    this.expire(nowMs);
    const expiresAt = this.expiries.get(key);
    if (expiresAt !== undefined && expiresAt > nowMs) return true;
    this.expiries.delete(key);
    this.expiries.set(key, nowMs + this.ttlMs);
    if (this.expiries.size > this.maxEntries) {
      const oldest = this.expiries.keys().next().value as string;
      this.expiries.delete(oldest);
      this.evictedLive += 1;
    }
    return false;
  }

  /** How many keys are remembered now. */
  get size(): number {
    return this.expiries.size;
  }

  /**
   * How many keys were forgotten before they expired because the cache was full. Each one could
   * be replayed until it would have expired, so a rising count means `maxEntries` is too small.
   */
  get evictedBeforeExpiry(): number {
    return this.evictedLive;
  }

  private expire(nowMs: number): void {
    for (const [key, expiresAt] of this.expiries) {
      if (expiresAt > nowMs) return;
      this.expiries.delete(key);
    }
  }
}
