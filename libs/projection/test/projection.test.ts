import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { NormalizedEvent } from '@aispm/contracts';
import { EVENT_RECORD_COLUMNS, fromEventRow, toEventRow } from '../src';

const event: NormalizedEvent = {
  schema_version: 'aispm.normalized_event.v2',
  tenant: 'acme',
  event_id: 'e1',
  idempotency_key: 'k1',
  content_hash: 'c1',
  session_id: 's1',
  agent_id: 'a1',
  connector_type: 'codex',
  connector_id: 'c1',
  event_type: 'tool_call',
  occurred_ms: 1,
  received_ms: 2,
  ingested_ms: 3,
  repository: 'o/r',
  environment: 'dev',
  region: '',
  tool_name: 't',
  action_type: 'x',
  target_summary: 'y',
  decision: 'warn',
  severity: 'low',
  risk_classification: '',
  derived_risk_classification: 'medium',
  control_surface: 'general_policy',
  policy_pack: '',
  evidence_refs: ['r'],
  payload_ref: '',
  payload_handling: 'metadata_only',
  signature_verified: true,
  hash_algorithm: 'sha256',
  payload_hash: '',
  redaction: { redactor: 'aispm-redactor-v1', counts: { email: 2 }, pointers: ['/event/target_summary'] },
  source: { topic: 'aispm.acme.raw', partition: 0, offset: '7' },
  prev_hash: '0'.repeat(64),
  record_hash: 'f'.repeat(64),
};
const position = { partition: 3, offset: '12' };

describe('toEventRow', () => {
  it('fills exactly the insertable columns of the events table', () => {
    const migrations = path.resolve(__dirname, '../../clickhouse/migrations');
    const ddl = readFileSync(path.join(migrations, '0001_events.up.sql'), 'utf8');
    const body = ddl.slice(ddl.indexOf('\n(\n') + 3, ddl.indexOf('\n)\n'));
    const insertable = body
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('--') && !line.includes(' MATERIALIZED '))
      .map((line) => line.split(/\s+/)[0]);
    // Columns added by later migrations count too.
    const added = readdirSync(migrations)
      .filter((file) => file.endsWith('.up.sql'))
      .flatMap((file) =>
        [...readFileSync(path.join(migrations, file), 'utf8').matchAll(/ADD COLUMN (\w+)/g)].map(
          (m) => m[1]!,
        ),
      );
    expect(Object.keys(toEventRow(event, position, 9)).sort()).toEqual([...insertable, ...added].sort());
  });

  it('keeps the redaction counts, never values', () => {
    const row = toEventRow(event, position, 9);
    expect(JSON.parse(row.redaction_counts)).toEqual({ email: 2 });
    expect(row.signature_verified).toBe(1);
    expect(row.source_offset).toBe('7');
  });
});

describe('fromEventRow', () => {
  it('reads back, from a row as ClickHouse returns it, every field the record hash covers', () => {
    const row = toEventRow(event, position, 9);
    // JSONEachRow quotes 64-bit integers.
    const stored = Object.fromEntries(
      EVENT_RECORD_COLUMNS.map((name) => {
        const value = row[name];
        return [name, typeof value === 'number' ? String(value) : value];
      }),
    ) as Parameters<typeof fromEventRow>[0];
    expect(fromEventRow(stored)).toEqual({ event, position });
  });
});
