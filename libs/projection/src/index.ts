/**
 * Owns how canonical events become ClickHouse rows, and the posture model over them. Pure.
 */
import type { NormalizedEvent } from '@aispm/contracts';

/** A row of the `events` table (libs/clickhouse/migrations/0001_events.up.sql). */
export type EventRow = Omit<
  NormalizedEvent,
  'schema_version' | 'signature_verified' | 'redaction' | 'source'
> & {
  signature_verified: number;
  redaction_counts: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
  projected_ms: number;
};

/** The `events` row of a canonical event, projected at `nowMs`. */
export function toEventRow(event: NormalizedEvent, nowMs: number): EventRow {
  const { schema_version: _version, signature_verified, redaction, source, ...columns } = event;
  return {
    ...columns,
    signature_verified: signature_verified ? 1 : 0,
    redaction_counts: JSON.stringify(redaction.counts),
    source_topic: source.topic,
    source_partition: source.partition,
    source_offset: source.offset,
    projected_ms: nowMs,
  };
}

/** A row of the `event_lookup` table (migration 0030): event id to the events primary key. */
export interface EventLookupRow {
  tenant: string;
  event_id: string;
  idempotency_key: string;
  session_id: string;
  occurred_ms: number;
  projected_ms: number;
}

/** The `event_lookup` row of an `events` row. */
export function toLookupRow(row: EventRow): EventLookupRow {
  const { tenant, event_id, idempotency_key, session_id, occurred_ms, projected_ms } = row;
  return { tenant, event_id, idempotency_key, session_id, occurred_ms, projected_ms };
}

export * from './posture';
export * from './freshness';
export * from './posture-delta';
export * from './watermark';
