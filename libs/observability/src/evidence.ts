/**
 * Owns how a process's metrics become health evidence (DESIGN §13): per tenant, the counts of one
 * reporting interval (differences of the Prometheus counters) and the current gauge values, as a
 * flat map of named numbers. The Metrics registry stays the only place anything is counted.
 *
 * Evidence keys: `accepted`, `duplicate`, `rejected.<code>`, `processed`, `dlq.<code>`,
 * `retries.<operation>` and `storage_failures` are counts within the interval; `lag_messages`,
 * `storage_up` and `collector_last_seen_ms.<collector_id>` are current values.
 */
import type { Metrics } from './index';

/** Cumulative counter readings, by tenant then evidence key; tenant '' holds process-wide ones. */
export type CounterReadings = Map<string, Map<string, number>>;

/** What one sample of the registry holds. */
export interface Readings {
  readonly counters: CounterReadings;
  /** Current values by tenant (per-tenant gauges such as a collector's last-seen time). */
  readonly gauges: Map<string, Map<string, number>>;
  /** Current process-wide values (e.g. `storage_up`), copied into every tenant's record. */
  readonly processGauges: Map<string, number>;
}

/** Evidence keys that are current values rather than counts within an interval. */
export function isGaugeKey(key: string): boolean {
  return key === 'lag_messages' || key === 'storage_up' || key.startsWith('collector_last_seen_ms.');
}

function add(into: Map<string, Map<string, number>>, tenant: string, key: string, value: number): void {
  let keys = into.get(tenant);
  if (!keys) into.set(tenant, (keys = new Map()));
  keys.set(key, (keys.get(key) ?? 0) + value);
}

/** Reads the registry's per-tenant counters and gauges. */
export async function readEvidence(metrics: Metrics): Promise<Readings> {
  const counters: CounterReadings = new Map();
  const gauges = new Map<string, Map<string, number>>();
  const processGauges = new Map<string, number>();
  for (const { labels, value } of (await metrics.ingestItems.get()).values) {
    const key = labels.outcome === 'rejected' ? `rejected.${labels.reason}` : String(labels.outcome);
    add(counters, String(labels.tenant), key, value);
  }
  for (const { labels, value } of (await metrics.stageMessages.get()).values) {
    if (labels.outcome === 'ok') add(counters, String(labels.tenant), 'processed', value);
  }
  for (const { labels, value } of (await metrics.dlqMessages.get()).values) {
    add(counters, String(labels.tenant), `dlq.${labels.code}`, value);
  }
  for (const { labels, value } of (await metrics.retries.get()).values) {
    add(counters, String(labels.tenant ?? ''), `retries.${labels.operation}`, value);
  }
  for (const { value } of (await metrics.storageFailures.get()).values) {
    add(counters, '', 'storage_failures', value);
  }
  for (const { labels, value } of (await metrics.collectorLastSeen.get()).values) {
    add(gauges, String(labels.tenant), `collector_last_seen_ms.${labels.collector}`, value);
  }
  for (const { labels, value } of (await metrics.storageUp.get()).values) {
    if (labels.store === 'clickhouse') processGauges.set('storage_up', value);
  }
  return { counters, gauges, processGauges };
}

/**
 * The evidence of one interval, per tenant: counts since `previous` (only non-zero ones), the
 * tenant's gauges, process-wide counts and gauges, and `extra` values (e.g. lag) for `tenants`
 * that must report even when nothing happened to them.
 */
export function evidenceSince(
  previous: Readings | undefined,
  current: Readings,
  tenants: Iterable<string>,
  extra: ReadonlyMap<string, Readonly<Record<string, number>>> = new Map(),
): Map<string, Record<string, number>> {
  const deltas = (tenant: string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [key, value] of current.counters.get(tenant) ?? []) {
      const delta = value - (previous?.counters.get(tenant)?.get(key) ?? 0);
      if (delta > 0) out[key] = delta;
    }
    return out;
  };
  const processWide = { ...deltas(''), ...Object.fromEntries(current.processGauges) };
  const out = new Map<string, Record<string, number>>();
  const active = new Set(tenants);
  for (const tenant of current.counters.keys()) {
    if (tenant !== '' && Object.keys(deltas(tenant)).length > 0) active.add(tenant);
  }
  for (const tenant of current.gauges.keys()) active.add(tenant);
  for (const tenant of active) {
    out.set(tenant, {
      ...processWide,
      ...deltas(tenant),
      ...Object.fromEntries(current.gauges.get(tenant) ?? []),
      ...extra.get(tenant),
    });
  }
  return out;
}
