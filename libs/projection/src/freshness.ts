/**
 * Owns the freshness watermark of DESIGN §10: "events accepted up to time T are all projected",
 * with the lag of each stage. Pure: the caller reads end and committed offsets from Kafka and
 * feeds them here with the time it read them.
 *
 * A partition is caught up when no stage has lag on it. Stages are FIFO per partition, and the
 * message key (session) maps to the same partition number at every stage, so when partition p is
 * caught up at time t, every event accepted into p before t has been projected. The watermark is
 * the minimum over partitions of the last time each was seen caught up: exact when everything is
 * caught up, a lower bound otherwise, and null until every partition has been seen caught up once.
 */

/** Offsets of one stage's input topic, per partition. */
export interface StageOffsets {
  /** The stage's consumer, by its input topic's stage name (raw, redacted, normalized). */
  readonly stage: string;
  readonly partitions: readonly {
    readonly partition: number;
    /** End offset of the partition. Stages commit past transaction markers, so a drained
     * transactional topic has no lag either. */
    readonly end: number;
    /** The group's committed offset, or the earliest offset when it has committed nothing. */
    readonly committed: number;
  }[];
}

/** The freshness section of the dashboard's `control_plane` and of the stream. */
export interface Freshness {
  readonly watermark_ms: number | null;
  readonly watermark: string | null;
  readonly observed_ms: number;
  readonly stages: { stage: string; lag: number }[];
}

/** Remembers, per tenant and partition, when it was last seen caught up. */
export class FreshnessTracker {
  private readonly caughtUp = new Map<string, Map<number, number>>();

  /** Folds one observation, read at `observedMs` (taken before the offsets were read). */
  observe(tenant: string, stages: readonly StageOffsets[], observedMs: number): Freshness {
    const seen = this.caughtUp.get(tenant) ?? new Map<number, number>();
    this.caughtUp.set(tenant, seen);
    const lagging = new Set<number>();
    const partitions = new Set<number>();
    for (const stage of stages) {
      for (const { partition, end, committed } of stage.partitions) {
        partitions.add(partition);
        if (end > committed) lagging.add(partition);
      }
    }
    for (const partition of partitions) {
      if (!lagging.has(partition)) seen.set(partition, Math.max(seen.get(partition) ?? 0, observedMs));
    }
    const times = [...partitions].map((partition) => seen.get(partition));
    const watermark =
      times.length === 0 || times.some((t) => t === undefined) ? null : Math.min(...(times as number[]));
    return {
      watermark_ms: watermark,
      watermark: watermark === null ? null : new Date(watermark).toISOString(),
      observed_ms: observedMs,
      stages: stages.map((stage) => ({
        stage: stage.stage,
        lag: stage.partitions.reduce((total, p) => total + Math.max(0, p.end - p.committed), 0),
      })),
    };
  }
}
