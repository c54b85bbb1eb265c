/**
 * Owns what "the work is moving" means for a stage (DESIGN §15). A partition's batch is busy
 * from the moment the stage first takes it up until it succeeds; a batch that fails is retried
 * and stays busy from its first attempt, and so does one whose produce retries without end (a
 * topic deleted under it). A stage whose oldest busy batch has been busy longer than the stall
 * time is stalled: it holds back every partition it owns, since it works on one batch at a time.
 * Idle partitions are never busy, so a stage with nothing to do is never stalled. Pure.
 */
export class BatchProgress {
  private readonly busySince = new Map<string, number>();

  /** A batch of `partition` is taken up (again) at `nowMs`. */
  started(partition: string, nowMs: number): void {
    if (!this.busySince.has(partition)) this.busySince.set(partition, nowMs);
  }

  /** The batch of `partition` is durable and committed, or no longer to be done here. */
  settled(partition: string): void {
    this.busySince.delete(partition);
  }

  /** Keeps only the partitions still owned, e.g. after a rebalance moved the others away. */
  retain(owned: ReadonlySet<string>): void {
    for (const partition of [...this.busySince.keys()]) {
      if (!owned.has(partition)) this.busySince.delete(partition);
    }
  }

  /** How long the oldest busy batch has been busy at `nowMs`; 0 when none is. */
  busyForMs(nowMs: number): number {
    let oldest = nowMs;
    for (const since of this.busySince.values()) oldest = Math.min(oldest, since);
    return nowMs - oldest;
  }
}

/**
 * Owns what "alive" means for a consume loop (PostHog's `isHealthy`): the loop made progress
 * within `boundMs`, where progress is a fetch or heartbeat that completed, a round attempt that
 * ended (a failing round retried with backoff is the loop at work: the stall shows in readiness,
 * see BatchProgress), or a subscription that found nothing to consume. A loop that stopped turning
 * (a consumer KafkaJS gave up on and that cannot reconnect, a hung request) stops beating. Pure.
 */
export class LoopLiveness {
  private lastBeatMs: number;

  constructor(
    private readonly boundMs: number,
    nowMs: number,
  ) {
    this.lastBeatMs = nowMs;
  }

  /** The loop made progress at `nowMs`. */
  beat(nowMs: number): void {
    this.lastBeatMs = Math.max(this.lastBeatMs, nowMs);
  }

  /** Whether the loop made progress within the bound before `nowMs`. */
  alive(nowMs: number): boolean {
    return nowMs - this.lastBeatMs < this.boundMs;
  }
}

/**
 * How long a consume loop may go without progress before it is not alive: longer than its longest
 * single step, a round attempt whose requests each retry for up to a minute (KafkaJS's 5 retries
 * of a 10 s request with up to 5 s between them), with room for a slow rebalance.
 */
export const LIVENESS_MS = 180_000;
