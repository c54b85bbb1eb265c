/**
 * Owns how reader endpoints read a tenant's topics (offsets, a stream's consumer). A tenant
 * created a moment ago may not have a partition leader in the broker's metadata yet, so a read
 * is tried again for a few seconds; an event log that still cannot answer is a 503 with
 * Retry-After, as for ingestion, not a 500.
 */
import { AppError } from '@aispm/errors';
import { whileTopicsSettle } from '@aispm/kafka';

const ATTEMPTS = 5;

export async function readEventLog<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await whileTopicsSettle(read, ATTEMPTS);
  } catch (cause) {
    throw new AppError('GW_KAFKA_UNAVAILABLE', 'The event log cannot be read right now', { cause });
  }
}
