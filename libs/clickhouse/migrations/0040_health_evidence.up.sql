-- Health evidence (DESIGN §13): one row per number of a record on aispm.health, so auditors can
-- query lag, rejections, retries, dead letters and storage failures over time with plain SQL
-- (long format: one row per number, so a new metric needs no schema change). Counts (`rejected.*`, `dlq.*`, `retries.*`,
-- `storage_failures`, ...) cover one reporting interval and add up; `lag_messages`, `storage_up`
-- and `collector_last_seen_ms.*` are values at `observed_ms`. A redelivered record rewrites the same
-- key, which the ReplacingMergeTree collapses. Partitioned by month only, not by tenant: evidence
-- rows are small and many tenants report every interval.
CREATE TABLE IF NOT EXISTS {database}.health_evidence
(
    tenant String,
    service String,
    instance String,
    observed_ms UInt64,
    observed_at DateTime MATERIALIZED toDateTime(intDiv(observed_ms, 1000)),
    metric String,
    value Float64,
    inserted_ms UInt64
)
ENGINE = ReplacingMergeTree(inserted_ms)
PARTITION BY toYYYYMM(observed_at)
ORDER BY (tenant, metric, observed_ms, service, instance);
