/**
 * Owns the gateway's answer to "have I seen this idempotency key?" (DESIGN §6): recent keys of
 * this instance in a bounded in-memory index, older ones (or ones another instance took) in
 * ClickHouse's projected events. A key never seen is produced; the same key and content is a
 * duplicate; the same key with other content is a conflict.
 *
 * The guarantee that counts is downstream: every projection counts a key once, however often it
 * is produced. So when ClickHouse cannot answer, or a retry races its first copy through the
 * pipeline, the gateway fails open and produces again rather than refuse good data.
 */
/** Looks keys of one tenant up in storage: key → content hash, for those that are stored. */
export type Lookup = (tenant: string, keys: readonly KeyRef[]) => Promise<Map<string, string>>;

export interface KeyRef {
  readonly sessionId: string;
  readonly key: string;
}

/** Most keys in one storage query: their literals must stay well under ClickHouse's 256 KiB. */
export const MAX_KEYS_PER_LOOKUP = 1000;

/** Keys of one tenant waiting for the next storage query, and the promise of its answer. */
interface PendingLookup {
  readonly keys: KeyRef[];
  readonly answer: Promise<Map<string, string>>;
  settle(result: Promise<Map<string, string>>): void;
}

function pendingLookup(): PendingLookup {
  let settle!: PendingLookup['settle'];
  const answer = new Promise<Map<string, string>>((resolve) => {
    settle = resolve;
  });
  return { keys: [], answer, settle };
}

export class IdempotencyIndex {
  private readonly recent = new Map<string, string>();
  /**
   * Per tenant, the lookups waiting while one is in flight. Concurrent requests of a tenant then
   * share one storage query instead of one each: under load the single-event endpoint otherwise
   * paid a ClickHouse round trip per event.
   */
  private readonly waiting = new Map<string, PendingLookup[]>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly lookup: Lookup,
    private readonly maxEntries: number,
  ) {}

  /** The content hashes known for the keys of one request. */
  async previous(tenant: string, keys: readonly KeyRef[]): Promise<Map<string, string>> {
    const known = new Map<string, string>();
    const unknown: KeyRef[] = [];
    for (const item of keys) {
      const local = this.recent.get(`${tenant}\u0000${item.key}`);
      if (local !== undefined) known.set(item.key, local);
      else unknown.push(item);
    }
    if (unknown.length > 0) {
      const stored = await this.lookUp(tenant, unknown);
      for (const { key } of unknown) {
        const hash = stored.get(key);
        if (hash !== undefined) known.set(key, hash);
      }
    }
    return known;
  }

  /** Remembers a key once Kafka has acknowledged it. */
  remember(tenant: string, key: string, hash: string): void {
    const id = `${tenant}\u0000${key}`;
    this.recent.delete(id);
    this.recent.set(id, hash);
    if (this.recent.size > this.maxEntries) this.recent.delete(this.recent.keys().next().value!);
  }

  /** Joins the tenant's next storage query (a new one when it is full), and starts it if idle. */
  private lookUp(tenant: string, keys: readonly KeyRef[]): Promise<Map<string, string>> {
    const queue = this.waiting.get(tenant) ?? [];
    this.waiting.set(tenant, queue);
    let last = queue.at(-1);
    if (!last || (last.keys.length > 0 && last.keys.length + keys.length > MAX_KEYS_PER_LOOKUP)) {
      last = pendingLookup();
      queue.push(last);
    }
    last.keys.push(...keys);
    if (!this.inFlight.has(tenant)) this.next(tenant);
    return last.answer;
  }

  private next(tenant: string): void {
    const queue = this.waiting.get(tenant);
    const pending = queue?.shift();
    if (queue?.length === 0) this.waiting.delete(tenant);
    if (!pending) return;
    this.inFlight.add(tenant);
    const result = this.lookup(tenant, pending.keys);
    pending.settle(result);
    void result
      .catch(() => undefined)
      .finally(() => {
        this.inFlight.delete(tenant);
        this.next(tenant);
      });
  }
}
