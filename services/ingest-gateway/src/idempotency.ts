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
export type Lookup = (
  tenant: string,
  keys: readonly { sessionId: string; key: string }[],
) => Promise<Map<string, string>>;

export class IdempotencyIndex {
  private readonly recent = new Map<string, string>();

  constructor(
    private readonly lookup: Lookup,
    private readonly maxEntries: number,
  ) {}

  /**
   * The content hashes known for the keys of one request: one storage query for all the keys
   * this instance does not remember, not one per item.
   */
  async previous(
    tenant: string,
    keys: readonly { sessionId: string; key: string }[],
  ): Promise<Map<string, string>> {
    const known = new Map<string, string>();
    const unknown: { sessionId: string; key: string }[] = [];
    for (const item of keys) {
      const local = this.recent.get(`${tenant}\u0000${item.key}`);
      if (local !== undefined) known.set(item.key, local);
      else unknown.push(item);
    }
    if (unknown.length > 0)
      for (const [key, hash] of await this.lookup(tenant, unknown)) known.set(key, hash);
    return known;
  }

  /** Remembers a key once Kafka has acknowledged it. */
  remember(tenant: string, key: string, hash: string): void {
    const id = `${tenant}\u0000${key}`;
    this.recent.delete(id);
    this.recent.set(id, hash);
    if (this.recent.size > this.maxEntries) this.recent.delete(this.recent.keys().next().value!);
  }
}
