DROP TABLE IF EXISTS {database}.audit_log;
