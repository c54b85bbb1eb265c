/**
 * Owns GitHub webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`
 * over the exact body bytes, as GitHub documents for webhook deliveries.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '@aispm/errors';
import type { HeaderValue } from './signature';

/** The header GitHub signs a delivery with. */
export const HUB_SIGNATURE_HEADER = 'X-Hub-Signature-256';

/** The header value for `body` under `secret`. */
export function hubSignature(secret: string, body: Uint8Array | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Refuses (GW_SIGNATURE_INVALID) unless `header` is the signature of `body` under `secret`. */
export function verifyHubSignature(secret: string, body: Uint8Array | string, header: HeaderValue): void {
  if (typeof header !== 'string')
    throw new AppError('GW_SIGNATURE_INVALID', `${HUB_SIGNATURE_HEADER} must be sent exactly once`);
  const offered = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim())?.[1];
  if (!offered)
    throw new AppError('GW_SIGNATURE_INVALID', `${HUB_SIGNATURE_HEADER} must be sha256=<64 hex digits>`);
  const expected = Buffer.from(hubSignature(secret, body).slice('sha256='.length), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(offered, 'hex')))
    throw new AppError('GW_SIGNATURE_INVALID', `${HUB_SIGNATURE_HEADER} does not match the body`);
}
