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
