/**
 * Owns what "the same content" means for idempotency (DESIGN §6): the SHA-256 of the envelope's
 * canonical JSON, leaving out the fields a collector legitimately changes when it retries.
 */
import { canonicalJson } from '@aispm/integrity';
import { createHash } from 'node:crypto';
import type { CAVRAAISPMEnterpriseLiveIngestionEnvelopePublicContract as Envelope } from './generated/envelope.v1';

/** The content hash of an envelope; equal for retries of one event. */
export function contentHash(envelope: Envelope): string {
  const { retry_count: _retry, ...transport } = envelope.transport;
  const { received_at: _received, ...event } = envelope.event;
  return createHash('sha256')
    .update(canonicalJson({ ...envelope, transport, event }))
    .digest('hex');
}
