/**
 * Owns data expiry in ClickHouse (DESIGN §9): a tenant's data older than its retention is
 * dropped, whole monthly partitions at a time where possible, with a delete mutation for the rows
 * of the month that straddles the cutoff. A tenant on legal hold loses nothing; a deleted tenant
 * loses everything. Planning is pure; `applyRetention` runs the plan.
 */
import type { ClickHouse } from './client';
import { identifier, literal, sql } from './sql';

/** What retention needs to know of a tenant. */
export interface TenantRetention {
  readonly slug: string;
  readonly retentionDays: number;
  readonly deleted: boolean;
  readonly onLegalHold: boolean;
}

/** One partition of the events table. */
export interface EventPartition {
  readonly tenant: string;
  /** YYYYMM */
  readonly month: number;
}

/** What to drop. */
export interface RetentionPlan {
  readonly dropPartitions: EventPartition[];
  readonly deleteBefore: { tenant: string; cutoffMs: number }[];
}

const PARTITION = /^\('((?:[^'\\]|\\.)*)',(\d{6})\)$/;

/** The tenant and month of a `system.parts.partition` value such as `('acme',202606)`. */
export function parsePartition(partition: string): EventPartition | undefined {
  const match = PARTITION.exec(partition);
  if (!match) return undefined;
  return { tenant: match[1]!.replace(/\\(.)/g, '$1'), month: Number(match[2]) };
}

function monthOf(ms: number): number {
  const date = new Date(ms);
  return date.getUTCFullYear() * 100 + date.getUTCMonth() + 1;
}

/** The partitions and rows to drop at `nowMs`. Tenants not in `tenants` are left alone. */
export function planRetention(
  partitions: readonly EventPartition[],
  tenants: readonly TenantRetention[],
  nowMs: number,
): RetentionPlan {
  const bySlug = new Map(tenants.map((tenant) => [tenant.slug, tenant]));
  const dropPartitions: EventPartition[] = [];
  const straddling = new Map<string, number>();
  for (const partition of partitions) {
    const tenant = bySlug.get(partition.tenant);
    if (!tenant || tenant.onLegalHold) continue;
    if (tenant.deleted) {
      dropPartitions.push(partition);
      continue;
    }
    const cutoffMs = nowMs - tenant.retentionDays * 24 * 3600 * 1000;
    const cutoffMonth = monthOf(cutoffMs);
    if (partition.month < cutoffMonth) dropPartitions.push(partition);
    else if (partition.month === cutoffMonth) straddling.set(tenant.slug, cutoffMs);
  }
  return {
    dropPartitions,
    deleteBefore: [...straddling].map(([tenant, cutoffMs]) => ({ tenant, cutoffMs })),
  };
}

/** The events partitions present in `database`. */
export async function eventPartitions(clickhouse: ClickHouse, database: string): Promise<EventPartition[]> {
  const rows = await clickhouse.query<{ partition: string }>(
    sql`SELECT DISTINCT partition FROM system.parts WHERE database = ${database} AND table = 'events' AND active`,
  );
  return rows.map((row) => parsePartition(row.partition)).filter((p): p is EventPartition => p !== undefined);
}

/** The tables partitioned by (tenant, month of occurred_at), which retention trims alike. */
export const TENANT_MONTH_TABLES = ['events', 'event_lookup'] as const;

/** Runs a plan against `database`. */
export async function applyRetention(
  clickhouse: ClickHouse,
  database: string,
  plan: RetentionPlan,
): Promise<void> {
  for (const name of TENANT_MONTH_TABLES) {
    const table = `${identifier(database)}.${name}`;
    for (const { tenant, month } of plan.dropPartitions) {
      await clickhouse.command(`ALTER TABLE ${table} DROP PARTITION (${literal(tenant)}, ${literal(month)})`);
    }
    for (const { tenant, cutoffMs } of plan.deleteBefore) {
      await clickhouse.command(
        `ALTER TABLE ${table} DELETE WHERE ` + sql`tenant = ${tenant} AND occurred_ms < ${cutoffMs}`,
      );
    }
  }
}
