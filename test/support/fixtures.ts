/**
 * Fixtures shared by unit and integration tests: the public contract's own example, read from
 * `../shared/contracts` (AISPM_SHARED_DIR overrides where shared/ lives).
 */
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
