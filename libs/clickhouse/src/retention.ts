/**
 * Owns data expiry in ClickHouse (DESIGN §9): a tenant's rows older than its retention are
 * deleted from its events, event lookups and health evidence by lightweight DELETEs, which hide
 * them at once and leave their removal to merges. A tenant on legal hold loses nothing; a
 * deleted tenant loses everything, by a mutation that rewrites the parts holding its rows rather
 * than masking them. Planning is pure; `applyRetention` runs the plan.
 *
 * Rows, not partitions: the tables are partitioned by month for every tenant together (a write
 * spanning many tenants would otherwise make a part per tenant, migration 0050), so there is no
 * partition of one tenant to drop.
 *
 * Not TTL: a TTL rule runs in merges without reading the control plane, so a legal hold set after
 * the rows were written could not stop it, and each tenant has its own retention. The job reads
 * the control topic to its end before every run instead, which is what makes a hold strict.
 */
import type { ClickHouse } from './client';
import { inList, name, sql, type Sql } from './sql';

/** What retention needs to know of a tenant. */
export interface TenantRetention {
  readonly slug: string;
  readonly retentionDays: number;
  readonly deleted: boolean;
  readonly onLegalHold: boolean;
}

/** The time of the oldest row a tenant has in a table. */
export interface TenantOldest {
  readonly tenant: string;
  readonly oldestMs: number;
}

/** Rows of one tenant to delete: those before `cutoffMs`, or all of them without it. */
export interface Trim {
  readonly tenant: string;
  readonly cutoffMs?: number;
}

/** What to delete, from the event tables and from the health evidence. */
export interface RetentionPlan {
  readonly events: Trim[];
  readonly evidence: Trim[];
}

const cutoffOf = (tenant: TenantRetention, nowMs: number) => nowMs - tenant.retentionDays * 24 * 3600 * 1000;

/** The trims of one table, from each tenant's oldest row in it. */
function trims(oldest: readonly TenantOldest[], bySlug: Map<string, TenantRetention>, nowMs: number): Trim[] {
  const planned: Trim[] = [];
  for (const { tenant: slug, oldestMs } of oldest) {
    const tenant = bySlug.get(slug);
    if (!tenant || tenant.onLegalHold) continue;
    const cutoffMs = cutoffOf(tenant, nowMs);
    if (tenant.deleted) planned.push({ tenant: slug });
    else if (oldestMs < cutoffMs) planned.push({ tenant: slug, cutoffMs });
  }
  return planned;
}

/**
 * The rows to delete at `nowMs`, given each tenant's oldest event and oldest health evidence.
 * Tenants not in `tenants` are left alone.
 */
export function planRetention(
  events: readonly TenantOldest[],
  evidence: readonly TenantOldest[],
  tenants: readonly TenantRetention[],
  nowMs: number,
): RetentionPlan {
  const bySlug = new Map(tenants.map((tenant) => [tenant.slug, tenant]));
  return { events: trims(events, bySlug, nowMs), evidence: trims(evidence, bySlug, nowMs) };
}

/** Whether a plan changes anything. */
export function isEmptyPlan(plan: RetentionPlan): boolean {
  return plan.events.length + plan.evidence.length === 0;
}

/** The tables of events by tenant and occurrence time, which retention trims alike. */
export const TENANT_EVENT_TABLES = ['events', 'event_lookup'] as const;

async function oldestByTenant(clickhouse: ClickHouse, table: Sql, timeColumn: Sql): Promise<TenantOldest[]> {
  const rows = await clickhouse.query<{ tenant: string; oldest_ms: string | number }>(
    sql`SELECT tenant, min(${timeColumn}) AS oldest_ms FROM ${table} GROUP BY tenant`,
  );
  return rows.map((row) => ({ tenant: row.tenant, oldestMs: Number(row.oldest_ms) }));
}

/** Each tenant's oldest event in `database`. */
export function tenantEvents(clickhouse: ClickHouse, database: string): Promise<TenantOldest[]> {
  return oldestByTenant(clickhouse, sql`${name(database)}.events`, sql`occurred_ms`);
}

/** Each tenant's oldest row in `database`'s health evidence. */
export function tenantEvidence(clickhouse: ClickHouse, database: string): Promise<TenantOldest[]> {
  return oldestByTenant(clickhouse, sql`${name(database)}.health_evidence`, sql`observed_ms`);
}

/**
 * Deletes the trims' rows from `table`, one statement for the tenants that share a cutoff (most
 * share their retention). All of a tenant's rows go by a mutation that rewrites their parts,
 * waited for so the next run does not find them again and start another.
 */
async function trimRows(clickhouse: ClickHouse, table: Sql, timeColumn: Sql, planned: readonly Trim[]) {
  const byCutoff = new Map<number | undefined, string[]>();
  for (const { tenant, cutoffMs } of planned)
    byCutoff.set(cutoffMs, [...(byCutoff.get(cutoffMs) ?? []), tenant]);
  for (const [cutoffMs, tenants] of byCutoff) {
    await clickhouse.command(
      cutoffMs === undefined
        ? sql`ALTER TABLE ${table} DELETE WHERE tenant IN ${inList(tenants)} SETTINGS mutations_sync = 1`
        : sql`DELETE FROM ${table} WHERE tenant IN ${inList(tenants)} AND ${timeColumn} < ${cutoffMs}`,
    );
  }
}

/** Runs a plan against `database`. */
export async function applyRetention(
  clickhouse: ClickHouse,
  database: string,
  plan: RetentionPlan,
): Promise<void> {
  for (const table of TENANT_EVENT_TABLES) {
    await trimRows(clickhouse, sql`${name(database)}.${name(table)}`, sql`occurred_ms`, plan.events);
  }
  await trimRows(clickhouse, sql`${name(database)}.health_evidence`, sql`observed_ms`, plan.evidence);
}

/** Deletes every row a deleted tenant has: its events, their lookups and its health evidence. */
export async function dropTenantRows(
  clickhouse: ClickHouse,
  database: string,
  tenant: string,
): Promise<void> {
  await applyRetention(clickhouse, database, { events: [{ tenant }], evidence: [{ tenant }] });
}
