/**
 * Owns data expiry in ClickHouse (DESIGN §9): a tenant's data older than its retention is
 * dropped, whole monthly partitions at a time where possible, with a lightweight DELETE for the
 * rows of the month that straddles the cutoff. Its health evidence (partitioned by month only, for
 * all tenants together) is trimmed by lightweight DELETEs alike. A tenant on legal hold loses
 * nothing; a deleted tenant loses everything, by a mutation that rewrites its evidence's parts
 * rather than masking the rows. Planning is pure; `applyRetention` runs the plan.
 *
 * Not TTL: a TTL rule runs in merges without reading the control plane, so a legal hold set after
 * the rows were written could not stop it, and each tenant has its own retention. The job reads
 * the control topic to its end before every run instead, which is what makes a hold strict.
 */
import type { ClickHouse } from './client';
import { name, sql } from './sql';

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

/** The oldest row a tenant has in `health_evidence`. */
export interface TenantEvidence {
  readonly tenant: string;
  readonly oldestMs: number;
}

/** What to drop. */
export interface RetentionPlan {
  readonly dropPartitions: EventPartition[];
  readonly deleteBefore: { tenant: string; cutoffMs: number }[];
  /** Health evidence rows to delete: observed before `cutoffMs`, or all of the tenant's without. */
  readonly trimEvidence: { tenant: string; cutoffMs?: number }[];
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

const cutoffOf = (tenant: TenantRetention, nowMs: number) => nowMs - tenant.retentionDays * 24 * 3600 * 1000;

/**
 * The partitions and rows to drop at `nowMs`, given the events partitions and each tenant's
 * oldest health evidence. Tenants not in `tenants` are left alone.
 */
export function planRetention(
  partitions: readonly EventPartition[],
  evidence: readonly TenantEvidence[],
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
    const cutoffMs = cutoffOf(tenant, nowMs);
    const cutoffMonth = monthOf(cutoffMs);
    if (partition.month < cutoffMonth) dropPartitions.push(partition);
    else if (partition.month === cutoffMonth) straddling.set(tenant.slug, cutoffMs);
  }
  const trimEvidence: RetentionPlan['trimEvidence'] = [];
  for (const { tenant: slug, oldestMs } of evidence) {
    const tenant = bySlug.get(slug);
    if (!tenant || tenant.onLegalHold) continue;
    const cutoffMs = cutoffOf(tenant, nowMs);
    if (tenant.deleted) trimEvidence.push({ tenant: slug });
    else if (oldestMs < cutoffMs) trimEvidence.push({ tenant: slug, cutoffMs });
  }
  return {
    dropPartitions,
    deleteBefore: [...straddling].map(([tenant, cutoffMs]) => ({ tenant, cutoffMs })),
    trimEvidence,
  };
}

/** Whether a plan changes anything. */
export function isEmptyPlan(plan: RetentionPlan): boolean {
  return plan.dropPartitions.length + plan.deleteBefore.length + plan.trimEvidence.length === 0;
}

/** The events partitions present in `database`. */
export async function eventPartitions(clickhouse: ClickHouse, database: string): Promise<EventPartition[]> {
  const rows = await clickhouse.query<{ partition: string }>(
    sql`SELECT DISTINCT partition FROM system.parts WHERE database = ${database} AND table = 'events' AND active`,
  );
  return rows.map((row) => parsePartition(row.partition)).filter((p): p is EventPartition => p !== undefined);
}

/** Each tenant's oldest row in `database`'s health evidence. */
export async function tenantEvidence(clickhouse: ClickHouse, database: string): Promise<TenantEvidence[]> {
  const rows = await clickhouse.query<{ tenant: string; oldest_ms: string | number }>(
    sql`SELECT tenant, min(observed_ms) AS oldest_ms FROM ${name(database)}.health_evidence GROUP BY tenant`,
  );
  return rows.map((row) => ({ tenant: row.tenant, oldestMs: Number(row.oldest_ms) }));
}

/** The tables partitioned by (tenant, month of occurred_at), which retention trims alike. */
export const TENANT_MONTH_TABLES = ['events', 'event_lookup'] as const;

/** Runs a plan against `database`. */
export async function applyRetention(
  clickhouse: ClickHouse,
  database: string,
  plan: RetentionPlan,
): Promise<void> {
  for (const table of TENANT_MONTH_TABLES) {
    const target = sql`${name(database)}.${name(table)}`;
    for (const { tenant, month } of plan.dropPartitions) {
      await clickhouse.command(sql`ALTER TABLE ${target} DROP PARTITION (${tenant}, ${month})`);
    }
    for (const { tenant, cutoffMs } of plan.deleteBefore) {
      await clickhouse.command(
        sql`DELETE FROM ${target} WHERE tenant = ${tenant} AND occurred_ms < ${cutoffMs}`,
      );
    }
  }
  const evidence = sql`${name(database)}.health_evidence`;
  for (const { tenant, cutoffMs } of plan.trimEvidence) {
    await clickhouse.command(
      cutoffMs === undefined
        ? sql`ALTER TABLE ${evidence} DELETE WHERE tenant = ${tenant}`
        : sql`DELETE FROM ${evidence} WHERE tenant = ${tenant} AND observed_ms < ${cutoffMs}`,
    );
  }
}

/** Drops every row a deleted tenant has: its events partitions and its health evidence. */
export async function dropTenantRows(
  clickhouse: ClickHouse,
  database: string,
  tenant: string,
): Promise<void> {
  const partitions = await eventPartitions(clickhouse, database);
  await applyRetention(clickhouse, database, {
    dropPartitions: partitions.filter((partition) => partition.tenant === tenant),
    deleteBefore: [],
    trimEvidence: [{ tenant }],
  });
}
