/**
 * Owns how canonical events become ClickHouse rows (and, later, posture). Pure.
 */
import type { NormalizedEvent } from '@aispm/contracts';

/** A row of the `events` table (libs/clickhouse/migrations/0001_events.up.sql). */
export interface EventRow {
  tenant: string;
  event_id: string;
  idempotency_key: string;
  session_id: string;
  agent_id: string;
  connector_type: string;
  connector_id: string;
  event_type: string;
  occurred_ms: number;
  received_ms: number;
  ingested_ms: number;
  repository: string;
  environment: string;
  region: string;
  tool_name: string;
  action_type: string;
  target_summary: string;
  decision: string;
  severity: string;
  risk_classification: string;
  control_surface: string;
  policy_pack: string;
  evidence_refs: string[];
  payload_ref: string;
  payload_handling: string;
  signature_verified: number;
  hash_algorithm: string;
  payload_hash: string;
  redaction_counts: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
  projected_ms: number;
}

/** The `events` row of a canonical event, projected at `nowMs`. */
export function toEventRow(event: NormalizedEvent, nowMs: number): EventRow {
  return {
    tenant: event.tenant,
    event_id: event.event_id,
    idempotency_key: event.idempotency_key,
    session_id: event.session_id,
    agent_id: event.agent_id,
    connector_type: event.connector_type,
    connector_id: event.connector_id,
    event_type: event.event_type,
    occurred_ms: event.occurred_ms,
    received_ms: event.received_ms,
    ingested_ms: event.ingested_ms,
    repository: event.repository,
    environment: event.environment,
    region: event.region,
    tool_name: event.tool_name,
    action_type: event.action_type,
    target_summary: event.target_summary,
    decision: event.decision,
    severity: event.severity,
    risk_classification: event.risk_classification,
    control_surface: event.control_surface,
    policy_pack: event.policy_pack,
    evidence_refs: event.evidence_refs,
    payload_ref: event.payload_ref,
    payload_handling: event.payload_handling,
    signature_verified: event.signature_verified ? 1 : 0,
    hash_algorithm: event.hash_algorithm,
    payload_hash: event.payload_hash,
    redaction_counts: JSON.stringify(event.redaction.counts),
    source_topic: event.source.topic,
    source_partition: event.source.partition,
    source_offset: event.source.offset,
    projected_ms: nowMs,
  };
}
