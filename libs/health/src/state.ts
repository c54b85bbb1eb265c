/**
 * Owns the folded view of `aispm.health`: per tenant, the latest record of every reporting
 * instance, the interval counts of a sliding window, and when each collector was last seen by any
 * gateway. Pure: records go in, answers come out, time is passed in.
 */
import type { HealthEvidence } from '@aispm/contracts';
import { isGaugeKey } from '@aispm/observability';

/** The latest record of one instance of one service. */
export interface InstanceReport {
  readonly service: string;
  readonly instance: string;
  readonly observedMs: number;
  readonly metrics: Readonly<Record<string, number>>;
}

interface TenantFold {
  readonly latest: Map<string, InstanceReport>;
  /** Interval counts: [observed_ms, key, value]. */
  counts: [number, string, number][];
  /** Records already counted (`<service>/<instance>@<observed_ms>`), with their time. */
  counted: Map<string, number>;
  readonly collectorsSeenMs: Map<string, number>;
}

const SEEN_PREFIX = 'collector_last_seen_ms.';

/** The fold of health evidence over a window. */
export class HealthState {
  private readonly tenants = new Map<string, TenantFold>();

  constructor(readonly windowMs: number) {}

  /** Applies one record; records older than the window still update last-seen times. */
  apply(record: HealthEvidence, nowMs: number): void {
    if (!record.tenant) return;
    let fold = this.tenants.get(record.tenant);
    if (!fold) {
      fold = { latest: new Map(), counts: [], counted: new Map(), collectorsSeenMs: new Map() };
      this.tenants.set(record.tenant, fold);
    }
    const metrics = record.metrics ?? {};
    const id = `${record.service}/${record.instance}`;
    const previous = fold.latest.get(id);
    if (!previous || previous.observedMs <= record.observed_ms) {
      fold.latest.set(id, {
        service: record.service,
        instance: record.instance,
        observedMs: record.observed_ms,
        metrics,
      });
    }
    // A record can arrive twice (a producer retry, or the follower's start-up seek back over a
    // record it has just read); counting it twice would inflate every count.
    const recordId = `${id}@${record.observed_ms}`;
    const counted = fold.counted.has(recordId);
    if (!counted && record.observed_ms > nowMs - this.windowMs)
      fold.counted.set(recordId, record.observed_ms);
    for (const [key, value] of Object.entries(metrics)) {
      if (key.startsWith(SEEN_PREFIX)) {
        const collector = key.slice(SEEN_PREFIX.length);
        fold.collectorsSeenMs.set(collector, Math.max(fold.collectorsSeenMs.get(collector) ?? 0, value));
      } else if (!counted && !isGaugeKey(key) && record.observed_ms > nowMs - this.windowMs) {
        fold.counts.push([record.observed_ms, key, value]);
      }
    }
    // Pruning is a full pass (records of several instances arrive out of time order), so apply
    // does it only now and then; every query prunes first.
    if (fold.counts.length % 512 === 0) this.prune(fold, nowMs);
  }

  /** Sums of the counts within the window whose key starts with `prefix`, by the rest of the key. */
  counts(tenant: string, prefix: string, nowMs: number): Record<string, number> {
    const fold = this.tenants.get(tenant);
    const out: Record<string, number> = {};
    if (!fold) return out;
    this.prune(fold, nowMs);
    for (const [, key, value] of fold.counts) {
      if (key.startsWith(prefix))
        out[key.slice(prefix.length)] = (out[key.slice(prefix.length)] ?? 0) + value;
    }
    return out;
  }

  /** The latest record of every instance of `service` that reported for the tenant within `maxAgeMs`. */
  latest(tenant: string, service: string, nowMs: number, maxAgeMs: number): InstanceReport[] {
    return [...(this.tenants.get(tenant)?.latest.values() ?? [])].filter(
      (report) => report.service === service && report.observedMs >= nowMs - maxAgeMs,
    );
  }

  /** When any gateway last saw the collector, as far as the evidence read tells. */
  collectorSeenMs(tenant: string, collectorId: string): number | undefined {
    return this.tenants.get(tenant)?.collectorsSeenMs.get(collectorId);
  }

  private prune(fold: TenantFold, nowMs: number): void {
    const cutoff = nowMs - this.windowMs;
    fold.counts = fold.counts.filter(([observedMs]) => observedMs > cutoff);
    for (const [recordId, observedMs] of fold.counted)
      if (observedMs <= cutoff) fold.counted.delete(recordId);
  }
}
