-- events and event_lookup partitioned by month alone (they were by tenant and month): a write
-- that spans many tenants made one part per tenant in each table, which ClickHouse has to merge,
-- and above 100 tenants in one write it refused the insert (max_partitions_per_insert_block).
-- Both tables are ordered by tenant first, which is what keeps a tenant's reads narrow; retention
-- and tenant deletion delete rows instead of dropping partitions (libs/clickhouse/src/retention.ts).
-- Each table is rebuilt from its own rows in one atomic replace, so a second run of this file
-- changes nothing. Rows another projector writes while a table is copied are not in the copy:
-- upgrade with the projectors stopped, or replay the normalized topic over the upgrade's window
-- (docs/replay.md).
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
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, session_id, occurred_ms, idempotency_key)
AS SELECT * FROM {database}.events;
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
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, event_id, idempotency_key)
AS SELECT * FROM {database}.event_lookup;
