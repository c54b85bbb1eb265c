#!/usr/bin/env node
/**
 * `npm run check:chdb`: runs every migration and the reader endpoints' query shapes against a
 * current ClickHouse engine in-process (chDB, `pip install chdb`), the "and current ClickHouse"
 * half of DESIGN §3 that the local 18.16 server cannot show. Also inserts redelivered copies and
 * checks that FINAL counts each idempotency key once. Runs on the built dist/.
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..');
const { loadMigrations } = require(path.join(REPO, 'libs/clickhouse/dist'));
const { toEventRow, toLookupRow } = require(path.join(REPO, 'libs/projection/dist'));
const queries = require(path.join(REPO, 'services/ingest-gateway/dist/read-queries'));

const DB = 'aispm_chdb';
const event = (i) => ({
  schema_version: 'aispm.normalized_event.v1',
  tenant: 'acme',
  event_id: `e${i}`,
  idempotency_key: `k${i}`,
  content_hash: 'c',
  session_id: 's1',
  agent_id: 'a1',
  connector_type: 'codex',
  connector_id: 'c1',
  event_type: 'tool_call',
  occurred_ms: 1781164800000 + i,
  received_ms: 1781164800000 + i,
  ingested_ms: 1781164800000 + i,
  repository: 'o/r',
  environment: 'dev',
  region: '',
  tool_name: 't',
  action_type: 'run_command',
  target_summary: 'npm test',
  decision: i % 2 ? 'block' : 'warn',
  severity: 'high',
  risk_classification: '',
  control_surface: 'runtime_commands',
  policy_pack: 'p',
  evidence_refs: ['signed://x'],
  payload_ref: '',
  payload_handling: 'metadata_only',
  signature_verified: false,
  hash_algorithm: 'sha256',
  payload_hash: '',
  redaction: { counts: {}, pointers: [] },
  source: { topic: 'aispm.acme.raw', partition: 0, offset: String(i) },
});

const statements = [`CREATE DATABASE IF NOT EXISTS ${DB}`];
for (const migration of loadMigrations(DB)) statements.push(...migration.up);
// Three events, each delivered twice (a redelivery after a crash).
for (let copy = 0; copy < 2; copy += 1) {
  const rows = [0, 1, 2].map((i) => toEventRow(event(i), 1000 + copy));
  statements.push(
    `INSERT INTO ${DB}.events FORMAT JSONEachRow ${rows.map((r) => JSON.stringify(r)).join('\n')}`,
  );
  statements.push(
    `INSERT INTO ${DB}.event_lookup FORMAT JSONEachRow ${rows.map((r) => JSON.stringify(toLookupRow(r))).join('\n')}`,
  );
}
const shapes = queries.dashboardQueries(DB, 'acme', { repository: 'O/R', since: '2026-01-01T00:00:00Z' });
const checks = [
  ...Object.values(shapes).map((sql) => ({ sql })),
  { sql: queries.eventLookupQuery(DB, 'acme', 'e1') },
  {
    sql: queries.eventQuery(DB, 'acme', {
      session_id: 's1',
      occurred_ms: 1781164800001,
      idempotency_key: 'k1',
    }),
  },
  { sql: queries.replayQuery(DB, 'acme', 's1') },
  { sql: shapes.sessions.replace('uniqExact(session_id)', 'count()'), expect: '{"sessions":3}' },
];

const python = `
import json, sys
from chdb import session
s = session.Session()
work = json.load(sys.stdin)
print("chDB engine", s.query("SELECT version()", "TSV").data().strip())
for st in work["statements"]:
    s.query(st)
for check in work["checks"]:
    out = s.query(check["sql"], "JSONEachRow").data().strip()
    if "expect" in check and out != check["expect"]:
        sys.exit("unexpected result of %s: %s" % (check["sql"][:120], out))
    print("ok:", check["sql"][:100])
`;
execFileSync('python3', ['-c', python], {
  input: JSON.stringify({ statements, checks }),
  stdio: ['pipe', 'inherit', 'inherit'],
});
