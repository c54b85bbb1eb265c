/**
 * Owns one pattern the gateway uses twice (its Kafka writes and its idempotency lookups): many
 * concurrent callers, each with a little work, served by calls that cost about the same whatever
 * they carry. Up to `maxInFlight` calls run at once; the callers that come meanwhile wait and go
 * together in the next call, so under load a call carries what came during another's round trip
 * and at rest a caller goes out at once.
 */

/** Each item's outcome of one call, in the items' order. */
export type Outcomes<R> = PromiseSettledResult<R>[];

export interface GathererOptions<I> {
  /** Calls under way at once. */
  readonly maxInFlight: number;
  /** Most weight one call carries; a caller heavier than this alone still goes, alone. */
  readonly maxWeight: number;
  readonly weight: (item: I) => number;
}

interface Waiting<I, R> {
  readonly items: I[];
  weight: number;
  readonly outcomes: Promise<Outcomes<R>>;
  settle(outcomes: Promise<Outcomes<R>>): void;
}

function waiting<I, R>(): Waiting<I, R> {
  let settle!: Waiting<I, R>['settle'];
  const outcomes = new Promise<Outcomes<R>>((resolve) => {
    settle = resolve;
  });
  return { items: [], weight: 0, outcomes, settle };
}

export class Gatherer<I, R> {
  private readonly queue: Waiting<I, R>[] = [];
  private inFlight = 0;

  /**
   * `call` serves the items of one call: an outcome per item, or a rejection that fails them
   * all.
   */
  constructor(
    private readonly call: (items: readonly I[]) => Promise<Outcomes<R>>,
    private readonly options: GathererOptions<I>,
  ) {
    if (!(options.maxInFlight >= 1))
      throw new RangeError(`maxInFlight must be at least 1, got ${options.maxInFlight}`);
  }

  /** The outcome of `item`, from the call it joins. */
  async run(item: I): Promise<R> {
    const weight = this.options.weight(item);
    let last = this.queue.at(-1);
    if (!last || (last.items.length > 0 && last.weight + weight > this.options.maxWeight)) {
      last = waiting();
      this.queue.push(last);
    }
    const index = last.items.push(item) - 1;
    last.weight += weight;
    if (this.inFlight < this.options.maxInFlight) this.next();
    const outcome = (await last.outcomes)[index]!;
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  }

  private next(): void {
    const batch = this.queue.shift();
    if (!batch) return;
    this.inFlight += 1;
    const outcomes = Promise.resolve()
      .then(() => this.call(batch.items))
      .then((answered) => {
        if (answered.length !== batch.items.length)
          throw new Error(`A call of ${batch.items.length} items answered ${answered.length} outcomes`);
        return answered;
      });
    batch.settle(
      outcomes.catch((reason: unknown) => batch.items.map(() => ({ status: 'rejected' as const, reason }))),
    );
    void outcomes
      .catch(() => undefined)
      .finally(() => {
        this.inFlight -= 1;
        this.next();
      });
  }
}
