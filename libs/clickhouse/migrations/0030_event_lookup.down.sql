DROP TABLE IF EXISTS {database}.event_lookup;
