/**
 * Fixtures shared by unit and integration tests: the public contract's own example, from the
 * repository's copy of the CAVRA contracts (schemas/cavra/).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PUBLIC_EXAMPLE_PATH, type Envelope } from '@aispm/contracts';

/** A fresh copy of the public contract's example envelope. */
export function publicExampleEnvelope(): Envelope {
  return JSON.parse(readFileSync(PUBLIC_EXAMPLE_PATH, 'utf8')) as Envelope;
}

/** The public example as a new event of the tenant `tenantRef`: a fresh event id and idempotency key. */
export function newEventOf(tenantRef: string): Envelope {
  const envelope = publicExampleEnvelope();
  envelope.tenant.tenant_ref = tenantRef;
  envelope.event.event_id = `evt_${randomBytes(6).toString('hex')}`;
  envelope.transport.idempotency_key = envelope.event.event_id;
  return envelope;
}
