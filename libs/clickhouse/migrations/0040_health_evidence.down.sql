DROP TABLE IF EXISTS {database}.health_evidence;
