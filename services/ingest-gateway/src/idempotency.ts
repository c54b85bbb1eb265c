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
import { inList, name, sql, type ClickHouse } from '@aispm/clickhouse';
import { Gatherer } from '@aispm/gather';

/**
 * Looks keys up in storage: for those that are stored, their content hash by
 * {@link keyId}(tenant, key). The keys may be of several tenants.
 */
export type Lookup = (keys: readonly KeyRef[]) => Promise<Map<string, string>>;

export interface KeyRef {
  readonly tenant: string;
  readonly sessionId: string;
  readonly key: string;
}

/** One tenant's key, as the index and a lookup's answer name it. */
export function keyId(tenant: string, key: string): string {
  return `${tenant}\u0000${key}`;
}

/** The lookup in the projected events of `database`. */
export function storedKeys(clickhouse: ClickHouse, database: string): Lookup {
  const events = sql`${name(database)}.events`;
  return async (keys) => {
    // Any stored row of a key will do: every row of one key carries the hash it was first
    // accepted with, so no FINAL; the tenants and session ids narrow the read to the primary
    // key, and the pairs keep one tenant's key from answering for another's.
    const rows = await clickhouse.query<{ tenant: string; idempotency_key: string; content_hash: string }>(
      sql`SELECT tenant, idempotency_key, any(content_hash) AS content_hash FROM ${events}
        WHERE tenant IN ${inList([...new Set(keys.map((k) => k.tenant))])}
        AND session_id IN ${inList([...new Set(keys.map((k) => k.sessionId))])}
        AND (tenant, idempotency_key) IN arrayZip(${keys.map((k) => k.tenant)}, ${keys.map((k) => k.key)})
        GROUP BY tenant, idempotency_key`,
    );
    return new Map(rows.map((row) => [keyId(row.tenant, row.idempotency_key), row.content_hash]));
  };
}

/** Most keys in one storage query: they travel as three array parameters in the request's URL, which ClickHouse caps at 1 MiB. */
export const MAX_KEYS_PER_LOOKUP = 1000;

/**
 * Storage queries in flight at once. One: at 1,000 tenants requests waited 108–140 ms on average
 * with one and 121–178 ms with two (pipeline benchmark, 8 Dec), the machine's CPU, not the queue,
 * setting the wait; a second query in flight only added ClickHouse work.
 */
const LOOKUPS_IN_FLIGHT = 1;

export class IdempotencyIndex {
  private readonly recent = new Map<string, string>();
  /**
   * Storage queries shared by the requests of the moment, of every tenant: under load the
   * single-event endpoint otherwise paid a ClickHouse round trip per event, and a hundred tenants
   * sending at once a hundred queries.
   */
  private readonly lookups: Gatherer<readonly KeyRef[], Map<string, string>>;

  /** `observeWait` hears how long each request that had to ask storage waited, in milliseconds. */
  constructor(
    lookup: Lookup,
    private readonly maxEntries: number,
    private readonly observeWait: (ms: number) => void = () => undefined,
  ) {
    this.lookups = new Gatherer(
      async (requests) => {
        const stored = await lookup(requests.flat());
        return requests.map(() => ({ status: 'fulfilled', value: stored }));
      },
      { maxInFlight: LOOKUPS_IN_FLIGHT, maxWeight: MAX_KEYS_PER_LOOKUP, weight: (keys) => keys.length },
    );
  }

  /** The content hashes known for the keys of one request of `tenant`. */
  async previous(tenant: string, keys: readonly Omit<KeyRef, 'tenant'>[]): Promise<Map<string, string>> {
    const known = new Map<string, string>();
    const unknown: KeyRef[] = [];
    for (const item of keys) {
      const local = this.recent.get(keyId(tenant, item.key));
      if (local !== undefined) known.set(item.key, local);
      else unknown.push({ tenant, ...item });
    }
    if (unknown.length > 0) {
      const started = Date.now();
      const stored = await this.lookups.run(unknown).finally(() => this.observeWait(Date.now() - started));
      for (const { key } of unknown) {
        const hash = stored.get(keyId(tenant, key));
        if (hash !== undefined) known.set(key, hash);
      }
    }
    return known;
  }

  /** Remembers a key once Kafka has acknowledged it. */
  remember(tenant: string, key: string, hash: string): void {
    const id = keyId(tenant, key);
    this.recent.delete(id);
    this.recent.set(id, hash);
    if (this.recent.size > this.maxEntries) this.recent.delete(this.recent.keys().next().value!);
  }
}
