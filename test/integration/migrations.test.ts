/**
 * ClickHouse migrations and retention against the real server. Migration 0050 moves `events` and
 * `event_lookup` from partitions by tenant and month to partitions by month, keeping every row and
 * its derived `occurred_at`, so one write may span more than 100 tenants (the old layout refused
 * it); running it twice changes nothing, and its down file brings the old layout back. Retention
 * deletes a tenant's rows before its cutoff, and all rows of a deleted tenant, from both tables.
 */
import {
  applyRetention,
  dropTenantRows,
  loadMigrations,
  migrate,
  name,
  planRetention,
  sql,
  tenantEvents,
  trusted,
  type ClickHouse,
} from '@aispm/clickhouse';
import { clickhouse, uniqueSuffix } from '../support/platform';

// Mutations rewrite parts on a shared 2-core machine: seconds, not the default 5.
jest.setTimeout(120_000);

const database = `aispm_migrations_${uniqueSuffix()}`;
const TENANTS = 150;
const DAY_MS = 24 * 3600 * 1000;
let ch: ClickHouse;

/** Runs the `up` or `down` statements of migration `version`. */
async function run(version: number, direction: 'up' | 'down'): Promise<void> {
  const migration = loadMigrations(database).find((m) => m.version === version)!;
  for (const statement of migration[direction]) await ch.command(trusted(statement));
}

async function partitionKey(table: string): Promise<string> {
  const [row] = await ch.query<{ partition_key: string }>(
    sql`SELECT partition_key FROM system.tables WHERE database = ${database} AND name = ${table}`,
  );
  return row!.partition_key;
}

/** Per table, the rows of each tenant and their oldest `occurred_at`, in a stable text. */
async function contents(): Promise<string[]> {
  const db = name(database);
  const rows = await ch.query<Record<string, string>>(
    sql`SELECT 'events' AS t, tenant, count() AS n, min(occurred_at) AS oldest FROM ${db}.events GROUP BY tenant
        UNION ALL
        SELECT 'event_lookup' AS t, tenant, count() AS n, min(occurred_at) AS oldest FROM ${db}.event_lookup GROUP BY tenant`,
  );
  return rows.map((row) => `${row.t} ${row.tenant} ${row.n} ${row.oldest}`).sort();
}

/** `count` events over all tenants, one a day back from now, written in one insert each table. */
async function writeSpanningTenants(count: number, prefix: string): Promise<void> {
  const now = Date.now();
  const rows = Array.from({ length: count }, (_, i) => ({
    tenant: `t-${i % TENANTS}`,
    event_id: `${prefix}-${i}`,
    idempotency_key: `${prefix}-${i}`,
    session_id: `s-${i}`,
    occurred_ms: now - (i % 40) * DAY_MS,
    projected_ms: now,
  }));
  await ch.insert(`${database}.events`, rows);
  await ch.insert(`${database}.event_lookup`, rows);
}

beforeAll(async () => {
  ch = clickhouse();
  await migrate(ch, database);
});

afterAll(async () => {
  await ch.command(sql`DROP DATABASE IF EXISTS ${name(database)}`);
  await ch.close();
});

it('builds a new database partitioned by month', async () => {
  expect(await partitionKey('events')).toBe('toYYYYMM(occurred_at)');
  expect(await partitionKey('event_lookup')).toBe('toYYYYMM(occurred_at)');
  await writeSpanningTenants(2 * TENANTS, 'fresh');
  expect(await contents()).toHaveLength(2 * TENANTS);
});

it('moves a database of the old layout to partitions by month, keeping every row', async () => {
  await run(50, 'down');
  expect(await partitionKey('events')).toBe('(tenant, toYYYYMM(occurred_at))');
  const before = await contents();
  expect(before).toHaveLength(2 * TENANTS);
  // The old layout refuses a write that spans more than 100 tenants.
  await expect(writeSpanningTenants(2 * TENANTS, 'old')).rejects.toThrow(/partitions/i);

  await run(50, 'up');
  expect(await partitionKey('events')).toBe('toYYYYMM(occurred_at)');
  expect(await partitionKey('event_lookup')).toBe('toYYYYMM(occurred_at)');
  expect(await contents()).toEqual(before);
  await run(50, 'up');
  expect(await contents()).toEqual(before);
  await writeSpanningTenants(2 * TENANTS, 'after');
});

it('deletes rows before a tenant cutoff, and every row of a deleted tenant', async () => {
  const tenants = Array.from({ length: TENANTS }, (_, i) => ({
    slug: `t-${i}`,
    retentionDays: 30,
    deleted: i === 1,
    onLegalHold: i === 2,
  }));
  const plan = planRetention(await tenantEvents(ch, database), [], tenants, Date.now());
  await applyRetention(ch, database, plan);
  const db = name(database);
  for (const table of ['events', 'event_lookup']) {
    const rows = await ch.query<{ tenant: string; n: string; oldest: string }>(
      sql`SELECT tenant, count() AS n, min(occurred_ms) AS oldest FROM ${db}.${name(table)} GROUP BY tenant`,
    );
    const byTenant = new Map(rows.map((row) => [row.tenant, row]));
    expect(byTenant.has('t-1')).toBe(false);
    // t-2, under its hold, keeps its event of 32 days ago; t-3 loses its event of 33 days ago.
    expect(Number(byTenant.get('t-2')!.oldest)).toBeLessThan(Date.now() - 31 * DAY_MS);
    expect(Number(byTenant.get('t-3')!.oldest)).toBeGreaterThan(Date.now() - 30 * DAY_MS);
  }
  await dropTenantRows(ch, database, 't-3');
  expect((await tenantEvents(ch, database)).map((t) => t.tenant)).not.toContain('t-3');
});
