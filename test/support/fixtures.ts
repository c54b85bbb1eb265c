/**
 * Fixtures shared by unit and integration tests: the public contract's own example, read from
 * `../shared/contracts` (AISPM_SHARED_DIR overrides where shared/ lives).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Envelope } from '@aispm/contracts';

export const SHARED_DIR = process.env.AISPM_SHARED_DIR ?? path.resolve(__dirname, '../../../shared');

/** A fresh copy of the public contract's example envelope. */
export function publicExampleEnvelope(): Envelope {
  return JSON.parse(
    readFileSync(
      path.join(SHARED_DIR, 'contracts/enterprise-live-ingestion-envelope-public-contract.example.json'),
      'utf8',
    ),
  ) as Envelope;
}

/** The public example as a new event of the tenant `tenantRef`: a fresh event id and idempotency key. */
export function newEventOf(tenantRef: string): Envelope {
  const envelope = publicExampleEnvelope();
  envelope.tenant.tenant_ref = tenantRef;
  envelope.event.event_id = `evt_${randomBytes(6).toString('hex')}`;
  envelope.transport.idempotency_key = envelope.event.event_id;
  return envelope;
}
