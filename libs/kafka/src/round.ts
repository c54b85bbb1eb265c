/**
 * Owns the gathering of one fetch's partition batches into one round of work. KafkaJS hands the
 * batches of a fetch to concurrent `eachBatch` calls and fetches again only when all of them have
 * returned; each call joins the open round and waits for it. The round closes once the calls
 * started by the same fetch have joined (the turn of the event loop they run in has ended), and
 * is then done as one unit: one transaction per shard, one insert, one commit. Rounds run one
 * after another, never side by side. Pure apart from the event loop.
 */
export class RoundGate<T> {
  private open: { item: T; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private closing = false;
  private previous: Promise<void> = Promise.resolve();

  constructor(private readonly work: (items: T[]) => Promise<void>) {}

  /** Adds `item` to the open round; resolves when that round's work is done, or fails with it. */
  join(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.open.push({ item, resolve, reject });
      if (this.closing) return;
      this.closing = true;
      setImmediate(() => this.close());
    });
  }

  private close(): void {
    const round = this.open;
    this.open = [];
    this.closing = false;
    this.previous = this.previous.then(async () => {
      try {
        await this.work(round.map(({ item }) => item));
        for (const member of round) member.resolve();
      } catch (error) {
        for (const member of round) member.reject(error);
      }
    });
  }

  /** Resolves when every round closed so far is done. */
  settled(): Promise<void> {
    return this.previous;
  }
}
