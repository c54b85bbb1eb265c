-- The audit trail (admin actions, replays, auditor accesses), chained in aispm.audit order:
-- record_hash = sha256(prev_hash, canonical record). `position` is the offset in aispm.audit;
-- a redelivered record rewrites the same position with the same hashes.
CREATE TABLE IF NOT EXISTS {database}.audit_log
(
    position UInt64,
    at_ms UInt64,
    at DateTime MATERIALIZED toDateTime(intDiv(at_ms, 1000)),
    tenant String,
    action String,
    actor_kind String,
    actor_id String,
    record String,
    prev_hash String,
    record_hash String,
    written_ms UInt64
)
ENGINE = ReplacingMergeTree(written_ms)
ORDER BY position;
