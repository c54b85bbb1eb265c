/**
 * Owns the tenant's ingestion-health document (`GET /enterprise/aispm/ingestion/health`, DESIGN
 * §13): live lag per stage and DLQ depth from the broker, rejections, retries, dead letters and
 * storage status from the evidence fold, the freshness watermark, and stale collectors. Pure.
 */
import type { ControlCollector } from '@aispm/contracts';
import { PIPELINE_STAGES, type StageOffsets } from '@aispm/kafka';
import type { HealthState } from './state';

/** A collector with no expected interval of its own is stale after this long without a request. */
export const DEFAULT_COLLECTOR_INTERVAL_S = 24 * 3600;

/** Everything the document is built from. */
export interface HealthInputs {
  readonly tenant: string;
  readonly nowMs: number;
  /** Stage offsets, or undefined when the broker could not be read. */
  readonly stages: readonly StageOffsets[] | undefined;
  readonly dlqDepth: bigint | undefined;
  readonly state: HealthState;
  /** A report older than this no longer counts as the instance's current state. */
  readonly reportMaxAgeMs: number;
  readonly collectors: readonly ControlCollector[];
  /** When this gateway itself last saw a collector (ahead of the evidence it has published). */
  readonly seenHere: (collectorId: string) => number | undefined;
  /** Reference time of a collector never seen and without a creation time. */
  readonly knownSinceMs: number;
  /** The freshness watermark (FreshnessTracker of libs/projection, fed the same offsets). */
  readonly freshness: { readonly watermark_ms: number | null; readonly caught_up: boolean };
}

const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

/** A collector not seen for longer than its expected interval. */
export interface StaleCollector {
  readonly collector_id: string;
  readonly last_seen_ms: number | null;
  readonly expected_interval_s: number;
  readonly silent_for_ms: number;
}

/** The collectors of `inputs.tenant` that are stale at `inputs.nowMs`. */
export function staleCollectors(inputs: HealthInputs): StaleCollector[] {
  return inputs.collectors
    .filter((collector) => !collector.revoked)
    .flatMap((collector) => {
      const seen = Math.max(
        inputs.state.collectorSeenMs(inputs.tenant, collector.collector_id) ?? 0,
        inputs.seenHere(collector.collector_id) ?? 0,
      );
      const since = seen > 0 ? seen : (collector.created_ms ?? inputs.knownSinceMs);
      const interval = collector.expected_interval_s ?? DEFAULT_COLLECTOR_INTERVAL_S;
      const silent = inputs.nowMs - since;
      return silent > interval * 1000
        ? [
            {
              collector_id: collector.collector_id,
              last_seen_ms: seen > 0 ? seen : null,
              expected_interval_s: interval,
              silent_for_ms: silent,
            },
          ]
        : [];
    });
}

/**
 * Storage status from the projector's latest reports: `failing` when any instance's last check
 * failed or it counted storage failures in its last interval, `ok` when all succeeded, `unknown`
 * when no projector reported recently.
 */
export function storageStatus(inputs: HealthInputs) {
  const reports = inputs.state.latest(inputs.tenant, 'projector', inputs.nowMs, inputs.reportMaxAgeMs);
  const failing = reports.filter((r) => r.metrics.storage_up === 0 || (r.metrics.storage_failures ?? 0) > 0);
  const status = reports.length === 0 ? 'unknown' : failing.length > 0 ? 'failing' : 'ok';
  return {
    status,
    failures: inputs.state.counts(inputs.tenant, 'storage_failures', inputs.nowMs)[''] ?? 0,
    reported_ms: reports.length > 0 ? Math.max(...reports.map((r) => r.observedMs)) : null,
  } as const;
}

/** A stage instance that reports itself stalled while the tenant has lag at that stage. */
export interface StalledStage {
  readonly service: string;
  readonly instance: string;
  readonly stalled_ms: number;
}

/**
 * The stages holding the tenant back: an instance stalled on a batch (its own report's
 * `stalled_ms`, see AISPM_STALL_MS) holds back every tenant it serves that has lag there.
 */
export function stalledStages(inputs: HealthInputs): StalledStage[] {
  return PIPELINE_STAGES.flatMap(({ service }) => {
    const lagging = inputs.stages
      ?.find((stage) => stage.service === service)
      ?.partitions.some((p) => p.lag > 0n);
    if (!lagging) return [];
    return inputs.state
      .latest(inputs.tenant, service, inputs.nowMs, inputs.reportMaxAgeMs)
      .filter((report) => (report.metrics.stalled_ms ?? 0) > 0)
      .map((report) => ({ service, instance: report.instance, stalled_ms: report.metrics.stalled_ms! }));
  });
}

/** The tenant's health document. */
export function tenantHealth(inputs: HealthInputs) {
  const { state, tenant, nowMs } = inputs;
  const rejections = state.counts(tenant, 'rejected.', nowMs);
  const retries = state.counts(tenant, 'retries.', nowMs);
  const deadLetters = state.counts(tenant, 'dlq.', nowMs);
  const storage = storageStatus(inputs);
  const stale = staleCollectors(inputs);
  const freshness = { watermark_ms: inputs.freshness.watermark_ms, caught_up: inputs.freshness.caught_up };
  const stalled = stalledStages(inputs);
  const degraded =
    storage.status === 'failing' || stale.length > 0 || inputs.stages === undefined || sum(deadLetters) > 0;
  return {
    tenant,
    observed_ms: nowMs,
    window_ms: state.windowMs,
    status: stalled.length > 0 ? 'stalled' : degraded ? 'degraded' : 'ok',
    stalled,
    stages:
      inputs.stages?.map((stage) => ({
        service: stage.service,
        topic: stage.topic,
        group: stage.group,
        lag: Number(stage.partitions.reduce((total, p) => total + p.lag, 0n)),
        partitions: stage.partitions.map((p) => ({
          partition: p.partition,
          committed: Number(p.committed),
          end: Number(p.end),
          lag: Number(p.lag),
        })),
      })) ?? null,
    rejections: { total: sum(rejections), by_reason: rejections },
    retries: { total: sum(retries), by_operation: retries },
    dlq: {
      depth: inputs.dlqDepth === undefined ? null : Number(inputs.dlqDepth),
      added: sum(deadLetters),
      by_code: deadLetters,
    },
    storage,
    freshness,
    collectors: { total: inputs.collectors.filter((c) => !c.revoked).length, stale },
  };
}
