-- The canonical events, one row per normalized record (DESIGN §9). ReplacingMergeTree keyed by
-- (tenant, session, occurred time, idempotency key): redelivered copies of one idempotency key
-- carry the same key columns and collapse on merge; reads use FINAL so they never count twice.
-- Times are UInt64 milliseconds plus a DateTime derived from them for partitioning and time
-- filters; MATERIALIZED, so no insert can set it to anything else.
CREATE TABLE IF NOT EXISTS {database}.events
(
    tenant String,
    event_id String,
    idempotency_key String,
    session_id String,
    agent_id String,
    connector_type String,
    connector_id String,
    event_type String,
    occurred_ms UInt64,
    received_ms UInt64,
    ingested_ms UInt64,
    occurred_at DateTime MATERIALIZED toDateTime(intDiv(occurred_ms, 1000)),
    repository String,
    environment String,
    region String,
    tool_name String,
    action_type String,
    target_summary String,
    decision String,
    severity String,
    risk_classification String,
    control_surface String,
    policy_pack String,
    evidence_refs Array(String),
    payload_ref String,
    payload_handling String,
    signature_verified UInt8,
    hash_algorithm String,
    payload_hash String,
    redaction_counts String,
    source_topic String,
    source_partition UInt32,
    source_offset UInt64,
    projected_ms UInt64
)
ENGINE = ReplacingMergeTree(projected_ms)
PARTITION BY (tenant, toYYYYMM(occurred_at))
ORDER BY (tenant, session_id, occurred_ms, idempotency_key);
