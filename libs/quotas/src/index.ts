/**
 * Owns per-tenant quotas (DESIGN §4): a token bucket per key on two dimensions, events and
 * bytes, so one noisy tenant cannot starve the rest. Pure: the caller passes the time, and
 * memory is bounded by evicting the least recently used key.
 */
import { AppError } from '@aispm/errors';

/** The limits every key gets. */
export interface QuotaLimits {
  /** Events added to a bucket per second, continuously. */
  readonly eventsPerSecond: number;
  /** The most events a bucket holds, and so the largest request that can ever pass. */
  readonly eventBurst: number;
  /** Bytes added to a bucket per second, continuously. */
  readonly bytesPerSecond: number;
  /** The most bytes a bucket holds, and so the largest request that can ever pass. */
  readonly byteBurst: number;
  /** The most keys tracked at once; the least recently used is dropped beyond it. */
  readonly maxKeys: number;
}

/** The dimension a request ran out of. */
export type QuotaDimension = 'events' | 'bytes';

/**
 * The outcome of {@link TenantQuotas.take}. A refusal either can pass later (`tooLarge: false`,
 * retry after `retryAfterSeconds`) or never can (`tooLarge: true`: it exceeds the burst, so the
 * caller should split it rather than retry).
 */
export type QuotaDecision =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly tooLarge: false;
      readonly dimension: QuotaDimension;
      /** Whole seconds until both dimensions hold enough, at least 1 (for `Retry-After`). */
      readonly retryAfterSeconds: number;
    }
  | { readonly ok: false; readonly tooLarge: true; readonly dimension: QuotaDimension };

interface Bucket {
  events: number;
  bytes: number;
  updatedMs: number;
}

// TRICKY: continuous refill adds a fraction at every call, and float sums drift: a thousand 1 ms
// refills at 10/s make 9.99999999999983, not 10. A shortfall under a billionth of the burst
// counts as none, so a request right at the boundary passes; the slack given away is nil.
const SLACK = 1e-9;

/** How much `wanted` exceeds what the bucket `holds`, or 0 within float drift. */
function shortfall(wanted: number, holds: number, burst: number): number {
  const short = wanted - holds;
  return short > burst * SLACK ? short : 0;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new AppError('CONFIG_INVALID', `quota ${name} must be a positive number, got ${value}`);
  return value;
}

/** Token buckets on events and bytes, one per key (a tenant), with at most `maxKeys` in memory. */
export class TenantQuotas {
  private readonly limits: QuotaLimits;
  // A Map iterates in insertion order; re-inserting on every use keeps the least recent first.
  private readonly buckets = new Map<string, Bucket>();

  constructor(limits: QuotaLimits) {
    positive(limits.eventsPerSecond, 'eventsPerSecond');
    positive(limits.eventBurst, 'eventBurst');
    positive(limits.bytesPerSecond, 'bytesPerSecond');
    positive(limits.byteBurst, 'byteBurst');
    if (!Number.isSafeInteger(limits.maxKeys) || limits.maxKeys < 1)
      throw new AppError('CONFIG_INVALID', `quota maxKeys must be a positive integer, got ${limits.maxKeys}`);
    this.limits = { ...limits };
  }

  /**
   * Takes `events` and `bytes` from `key`'s buckets at `nowMs`, both or neither. A key not seen
   * before (or evicted since) starts with full buckets.
   */
  take(key: string, events: number, bytes: number, nowMs: number): QuotaDecision {
    if (!(Number.isFinite(events) && events >= 0 && Number.isFinite(bytes) && bytes >= 0))
      throw new RangeError(`quota take needs non-negative amounts, got ${events} events, ${bytes} bytes`);
    const { eventBurst, byteBurst, eventsPerSecond, bytesPerSecond } = this.limits;
    if (events > eventBurst) return { ok: false, tooLarge: true, dimension: 'events' };
    if (bytes > byteBurst) return { ok: false, tooLarge: true, dimension: 'bytes' };

    const bucket = this.touch(key, nowMs);
    const eventWait = shortfall(events, bucket.events, eventBurst) / eventsPerSecond;
    const byteWait = shortfall(bytes, bucket.bytes, byteBurst) / bytesPerSecond;
    if (eventWait > 0 || byteWait > 0) {
      // All or nothing: the request needs both, so it waits for the slower of the two.
      const dimension = eventWait >= byteWait ? 'events' : 'bytes';
      const retryAfterSeconds = Math.max(1, Math.ceil(Math.max(eventWait, byteWait)));
      return { ok: false, tooLarge: false, dimension, retryAfterSeconds };
    }
    bucket.events = Math.max(0, bucket.events - events);
    bucket.bytes = Math.max(0, bucket.bytes - bytes);
    return { ok: true };
  }

  /** How many keys are tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  /** `key`'s bucket refilled to `nowMs`, marked most recently used; created full when absent. */
  private touch(key: string, nowMs: number): Bucket {
    const { eventBurst, byteBurst, eventsPerSecond, bytesPerSecond, maxKeys } = this.limits;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { events: eventBurst, bytes: byteBurst, updatedMs: nowMs };
      // TRICKY: an evicted key comes back with full buckets, a free burst. Keys are tenants,
      // which only an admin creates, so size maxKeys above the tenant count and none is evicted.
      if (this.buckets.size >= maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    } else {
      this.buckets.delete(key);
      // A clock that steps back refills nothing, and the bucket keeps its later time.
      const elapsedSeconds = Math.max(0, nowMs - bucket.updatedMs) / 1000;
      bucket.events = Math.min(eventBurst, bucket.events + elapsedSeconds * eventsPerSecond);
      bucket.bytes = Math.min(byteBurst, bucket.bytes + elapsedSeconds * bytesPerSecond);
      bucket.updatedMs = Math.max(bucket.updatedMs, nowMs);
    }
    this.buckets.set(key, bucket);
    return bucket;
  }
}
