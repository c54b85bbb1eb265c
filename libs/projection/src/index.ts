/**
 * Owns how canonical events become ClickHouse rows, how a row is read back into the canonical
 * event it came from (so the integrity chain can be checked in storage), and the posture model
 * over them. Pure.
 */
import type { NormalizedEvent } from '@aispm/contracts';

/** Where a record sits in the normalized topic: its place in the chain. */
export interface ChainPosition {
  readonly partition: number;
  readonly offset: string;
}

/** A row of the `events` table (libs/clickhouse/migrations/0001_events.up.sql and later). */
export type EventRow = Omit<NormalizedEvent, 'signature_verified' | 'redaction' | 'source'> & {
  signature_verified: number;
  redaction_counts: string;
  redactor: string;
  redaction_pointers: string[];
  source_topic: string;
  source_partition: number;
  source_offset: string;
  chain_partition: number;
  chain_offset: string;
  projected_ms: number;
};

/** The `events` row of a canonical event read at `position`, projected at `nowMs`. */
export function toEventRow(event: NormalizedEvent, position: ChainPosition, nowMs: number): EventRow {
  const { signature_verified, redaction, source, ...columns } = event;
  return {
    ...columns,
    signature_verified: signature_verified ? 1 : 0,
    redaction_counts: JSON.stringify(redaction.counts),
    redactor: redaction.redactor,
    redaction_pointers: redaction.pointers,
    source_topic: source.topic,
    source_partition: source.partition,
    source_offset: source.offset,
    chain_partition: position.partition,
    chain_offset: position.offset,
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

/** The columns `fromEventRow` reads, for a SELECT. */
export const EVENT_RECORD_COLUMNS = [
  'schema_version',
  'tenant',
  'event_id',
  'idempotency_key',
  'content_hash',
  'session_id',
  'agent_id',
  'connector_type',
  'connector_id',
  'event_type',
  'occurred_ms',
  'received_ms',
  'ingested_ms',
  'repository',
  'environment',
  'region',
  'tool_name',
  'action_type',
  'target_summary',
  'decision',
  'severity',
  'risk_classification',
  'derived_risk_classification',
  'control_surface',
  'policy_pack',
  'evidence_refs',
  'payload_ref',
  'payload_handling',
  'signature_verified',
  'hash_algorithm',
  'payload_hash',
  'redaction_counts',
  'redactor',
  'redaction_pointers',
  'source_topic',
  'source_partition',
  'source_offset',
  'prev_hash',
  'record_hash',
  'chain_partition',
  'chain_offset',
] as const;

type StoredRow = Readonly<Record<(typeof EVENT_RECORD_COLUMNS)[number], unknown>>;

/**
 * The canonical event a stored row holds, as JSONEachRow returns it (64-bit integers as strings),
 * with its chain position. The inverse of `toEventRow` for every field the record_hash covers.
 */
export function fromEventRow(row: StoredRow): { event: NormalizedEvent; position: ChainPosition } {
  const text = (name: keyof StoredRow) => String(row[name]);
  const int = (name: keyof StoredRow) => Number(row[name]);
  const event = {
    schema_version: text('schema_version'),
    tenant: text('tenant'),
    event_id: text('event_id'),
    idempotency_key: text('idempotency_key'),
    content_hash: text('content_hash'),
    session_id: text('session_id'),
    agent_id: text('agent_id'),
    connector_type: text('connector_type'),
    connector_id: text('connector_id'),
    event_type: text('event_type'),
    occurred_ms: int('occurred_ms'),
    received_ms: int('received_ms'),
    ingested_ms: int('ingested_ms'),
    repository: text('repository'),
    environment: text('environment'),
    region: text('region'),
    tool_name: text('tool_name'),
    action_type: text('action_type'),
    target_summary: text('target_summary'),
    decision: text('decision'),
    severity: text('severity'),
    risk_classification: text('risk_classification'),
    derived_risk_classification: text('derived_risk_classification'),
    control_surface: text('control_surface'),
    policy_pack: text('policy_pack'),
    evidence_refs: (row.evidence_refs as string[]).map(String),
    payload_ref: text('payload_ref'),
    payload_handling: text('payload_handling'),
    signature_verified: int('signature_verified') === 1,
    hash_algorithm: text('hash_algorithm'),
    payload_hash: text('payload_hash'),
    redaction: {
      redactor: text('redactor'),
      counts: JSON.parse(text('redaction_counts')) as Record<string, number>,
      pointers: (row.redaction_pointers as string[]).map(String),
    },
    source: {
      topic: text('source_topic'),
      partition: int('source_partition'),
      offset: text('source_offset'),
    },
    prev_hash: text('prev_hash'),
    record_hash: text('record_hash'),
  } as NormalizedEvent;
  return { event, position: { partition: int('chain_partition'), offset: text('chain_offset') } };
}
