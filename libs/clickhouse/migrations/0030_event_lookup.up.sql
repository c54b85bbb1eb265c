-- Event-id lookups (GET /enterprise/aispm/events/{event_id}, DESIGN §9): `events` is ordered for
-- a session's timeline, so an event id alone would scan the tenant's partitions. This projection
-- maps (tenant, event id) to the events primary key. Partitioned like `events`, so retention drops
-- the same partitions here; ReplacingMergeTree on the same idempotency key, so a redelivered
-- event is one row once merged (read with FINAL).
CREATE TABLE IF NOT EXISTS {database}.event_lookup
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
ORDER BY (tenant, event_id, idempotency_key);
