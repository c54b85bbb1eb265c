-- Back to partitions by tenant and month. The copy may span more than 100 tenants in one block,
-- which the old layout needs the partition limit lifted for.
CREATE OR REPLACE TABLE {database}.events
(
    tenant String,
    schema_version String,
    event_id String,
    idempotency_key String,
    content_hash String,
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
    derived_risk_classification String,
    control_surface String,
    policy_pack String,
    evidence_refs Array(String),
    payload_ref String,
    payload_handling String,
    signature_verified UInt8,
    hash_algorithm String,
    payload_hash String,
    redaction_counts String,
    redactor String,
    redaction_pointers Array(String),
    source_topic String,
    source_partition UInt32,
    source_offset UInt64,
    projected_ms UInt64,
    prev_hash String,
    record_hash String,
    chain_partition UInt32,
    chain_offset UInt64
)
ENGINE = ReplacingMergeTree(projected_ms)
PARTITION BY (tenant, toYYYYMM(occurred_at))
ORDER BY (tenant, session_id, occurred_ms, idempotency_key)
AS SELECT * FROM {database}.events
SETTINGS max_partitions_per_insert_block = 0;
CREATE OR REPLACE TABLE {database}.event_lookup
(
    tenant String,
    event_id String,
    idempotency_key String,
    session_id String,
    occurred_ms UInt64,
    occurred_at DateTime MATERIALIZED toDateTime(intDiv(occurred_ms, 1000)),
    projected_ms UInt64
)
ENGINE = ReplacingMergeTree(projected_ms)
PARTITION BY (tenant, toYYYYMM(occurred_at))
ORDER BY (tenant, event_id, idempotency_key)
AS SELECT * FROM {database}.event_lookup
SETTINGS max_partitions_per_insert_block = 0;
