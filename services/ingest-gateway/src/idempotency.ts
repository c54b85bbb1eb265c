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
export type Lookup = (tenant: string, sessionId: string, key: string) => Promise<string | undefined>;

export class IdempotencyIndex {
  private readonly recent = new Map<string, string>();

  constructor(
    private readonly lookup: Lookup,
    private readonly maxEntries: number,
  ) {}

  /** The content hash stored for the key, if any is known. */
  async previous(tenant: string, sessionId: string, key: string): Promise<string | undefined> {
    const local = this.recent.get(`${tenant}\u0000${key}`);
    if (local !== undefined) return local;
    return this.lookup(tenant, sessionId, key);
  }

  /** Remembers a key once Kafka has acknowledged it. */
  remember(tenant: string, key: string, hash: string): void {
    const id = `${tenant}\u0000${key}`;
    this.recent.delete(id);
    this.recent.set(id, hash);
    if (this.recent.size > this.maxEntries) this.recent.delete(this.recent.keys().next().value!);
  }
}
