/**
 * Owns the freshness watermark of DESIGN §10: "events accepted up to time T are all projected",
 * with the lag of each stage. It is the one definition of freshness: the posture document, the
 * live stream (the projector's `watermark` deltas) and the ingestion-health document all fold
 * their offset readings through it. Pure: the caller reads every stage's lag per partition from
 * Kafka, in flow order (`pipelineOffsets` in libs/kafka), and feeds it here with the time it
 * started reading.
 *
 * A partition is caught up when no stage has lag on it. Stages are FIFO per partition, and the
 * message key (session) maps to the same partition number at every stage, so when partition p is
 * caught up at time t, every event accepted into p before t has been projected (the projector
 * commits only after its ClickHouse insert; a dead-lettered event is committed past, so it holds
 * nothing back). The watermark is the minimum over partitions of the last time each was seen
 * caught up: exact when everything is caught up, a lower bound otherwise, and null until every
 * partition has been seen caught up once. Each observer (a gateway, a projector) keeps its own
 * memory, so two may differ by when they looked; each is a lower bound.
 */

/** What the watermark needs of one stage: the lag of each partition of its input topic. */
export interface StageLag {
  /** The tenant stage the consumer reads (raw, redacted, normalized). */
  readonly input: string;
  readonly partitions: readonly { readonly partition: number; readonly lag: bigint }[];
}

/** The freshness section of the dashboard's `control_plane` and of the stream. */
export interface Freshness {
  readonly watermark_ms: number | null;
  readonly watermark: string | null;
  readonly observed_ms: number;
  /** No stage has lag on any partition. */
  readonly caught_up: boolean;
  readonly stages: { stage: string; lag: number }[];
}

/** Remembers, per tenant and partition, when it was last seen caught up (undefined: never yet). */
export class FreshnessTracker {
  private readonly caughtUp = new Map<string, Map<number, number | undefined>>();

  /** Folds one observation, read from `observedMs` on (the time taken before the first read). */
  observe(tenant: string, stages: readonly StageLag[], observedMs: number): Freshness {
    const seen = this.caughtUp.get(tenant) ?? new Map<number, number | undefined>();
    this.caughtUp.set(tenant, seen);
    const lagging = new Set<number>();
    const partitions = new Set<number>();
    for (const stage of stages) {
      for (const { partition, lag } of stage.partitions) {
        partitions.add(partition);
        if (lag > 0n) lagging.add(partition);
      }
    }
    for (const partition of partitions) {
      const last = seen.get(partition);
      seen.set(partition, lagging.has(partition) ? last : Math.max(last ?? 0, observedMs));
    }
    const watermark = this.watermarkOf(tenant);
    return {
      watermark_ms: watermark,
      watermark: watermark === null ? null : new Date(watermark).toISOString(),
      observed_ms: observedMs,
      caught_up: lagging.size === 0,
      stages: stages.map((stage) => ({
        stage: stage.input,
        lag: Number(stage.partitions.reduce((total, p) => total + p.lag, 0n)),
      })),
    };
  }

  /** The watermark from what was observed so far, without a new reading (the broker unreadable). */
  watermarkOf(tenant: string): number | null {
    const times = [...(this.caughtUp.get(tenant)?.values() ?? [])];
    if (times.length === 0 || times.some((time) => time === undefined)) return null;
    return Math.min(...(times as number[]));
  }

  /** Forgets a tenant (deleted). */
  forget(tenant: string): void {
    this.caughtUp.delete(tenant);
  }
}
