/**
 * Shares one kind of read (e.g. the control topic to its end) among callers that each need a read
 * that started after they asked: one that started earlier may have missed a record written just
 * before the caller came. At most one read is in flight and one queued, whatever the number of
 * callers, so a flood of them costs one read at a time.
 */
export class SharedReads {
  private current: { readonly startedNs: bigint; readonly done: Promise<void> } | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly read: () => Promise<void>,
    private readonly now: () => bigint = () => process.hrtime.bigint(),
  ) {}

  /** Resolves (or rejects) with a read that started at or after `sinceNs`. */
  startedAfter(sinceNs: bigint): Promise<void> {
    if (!this.current) return this.start();
    if (this.current.startedNs >= sinceNs) return this.current.done;
    this.queued ??= this.current.done
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  private start(): Promise<void> {
    const startedNs = this.now();
    const done = this.read().finally(() => {
      if (this.current?.done === done) this.current = undefined;
    });
    this.current = { startedNs, done };
    return done;
  }
}
