/**
 * Owns a replay's rate limit: records are released on a fixed schedule from the start, so the
 * average never exceeds the rate however the log delivers them. Pure apart from the injected
 * clock and sleep.
 */

/** Waits before each chunk of records so that no more than `rate` per second go out. */
export class Pacer {
  private startedMs: number | undefined;
  private released = 0;

  constructor(
    private readonly rate: number | undefined,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  /**
   * The largest chunk to release at once: about a tenth of a second's worth, so a slow rate
   * trickles rather than bursting a whole fetched batch.
   */
  chunkSize(): number {
    return this.rate === undefined ? Number.MAX_SAFE_INTEGER : Math.max(1, Math.floor(this.rate / 10));
  }

  /** Resolves when `count` more records may go out. */
  async take(count: number): Promise<void> {
    if (this.rate === undefined) return;
    this.startedMs ??= this.now();
    // The chunk goes out when the records before it have had their time.
    const dueMs = this.startedMs + (this.released / this.rate) * 1000;
    this.released += count;
    const wait = dueMs - this.now();
    if (wait > 0) await this.sleep(wait);
  }
}
