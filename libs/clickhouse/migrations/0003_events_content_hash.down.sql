ALTER TABLE {database}.events DROP COLUMN content_hash;
