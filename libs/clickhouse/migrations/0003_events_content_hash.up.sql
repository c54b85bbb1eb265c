-- The content hash of each event, so the gateway can tell a retry (same key, same content) from
-- a conflict (same key, other content) after its in-memory index is gone.
ALTER TABLE {database}.events ADD COLUMN content_hash String AFTER idempotency_key;
