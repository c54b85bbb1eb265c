-- What `aispm verify` needs to rebuild each canonical record from its row and check the
-- normalized topic's hash chain in ClickHouse (DESIGN §8): the record's version, the parts of the
-- redaction report and risk the row did not keep, the chain hashes, and the record's position
-- (chain_partition, chain_offset) in the normalized topic.
ALTER TABLE {database}.events
    ADD COLUMN schema_version String AFTER tenant,
    ADD COLUMN derived_risk_classification String AFTER risk_classification,
    ADD COLUMN redactor String AFTER redaction_counts,
    ADD COLUMN redaction_pointers Array(String) AFTER redactor,
    ADD COLUMN prev_hash String,
    ADD COLUMN record_hash String,
    ADD COLUMN chain_partition UInt32,
    ADD COLUMN chain_offset UInt64;
