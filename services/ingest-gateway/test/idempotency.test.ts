import { IdempotencyIndex, keyId, MAX_KEYS_PER_LOOKUP, type KeyRef } from '../src/idempotency';

const ref = (key: string): Omit<KeyRef, 'tenant'> => ({ sessionId: 'sess_1', key });

/** A storage that answers when told to, and records each query; `stored` keys hold for every tenant. */
function storage(stored: Record<string, string>) {
  const queries: { keys: string[]; answer: () => void; fail: () => void }[] = [];
  const lookup = (keys: readonly KeyRef[]) =>
    new Promise<Map<string, string>>((resolve, reject) => {
      queries.push({
        keys: keys.map((k) => `${k.tenant}/${k.key}`),
        answer: () =>
          resolve(
            new Map(keys.filter((k) => k.key in stored).map((k) => [keyId(k.tenant, k.key), stored[k.key]!])),
          ),
        fail: () => reject(new Error('ClickHouse is down')),
      });
    });
  return { queries, lookup };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('IdempotencyIndex', () => {
  it('answers from memory what this instance produced, and asks storage for the rest', async () => {
    const { queries, lookup } = storage({ b: 'hash-b' });
    const index = new IdempotencyIndex(lookup, 10);
    index.remember('t1', 'a', 'hash-a');
    const answer = index.previous('t1', [ref('a'), ref('b'), ref('c')]);
    await settled();
    expect(queries.map((q) => q.keys)).toEqual([['t1/b', 't1/c']]);
    queries[0]!.answer();
    expect(await answer).toEqual(
      new Map([
        ['a', 'hash-a'],
        ['b', 'hash-b'],
      ]),
    );
  });

  it('sends the lookups that arrive while one is in flight as one query, whatever their tenants', async () => {
    const { queries, lookup } = storage({ b: 'hash-b', d: 'hash-d' });
    const index = new IdempotencyIndex(lookup, 10);
    const first = index.previous('t1', [ref('a')]);
    const second = index.previous('t1', [ref('b')]);
    const third = index.previous('t1', [ref('c'), ref('d')]);
    const otherTenant = index.previous('t2', [ref('b')]);
    await settled();
    expect(queries.map((q) => q.keys)).toEqual([['t1/a']]);
    queries[0]!.answer();
    await settled();
    expect(queries.map((q) => q.keys)[1]).toEqual(['t1/b', 't1/c', 't1/d', 't2/b']);
    queries[1]!.answer();
    // Each request sees its own tenant's keys only.
    expect(await first).toEqual(new Map());
    expect(await second).toEqual(new Map([['b', 'hash-b']]));
    expect(await third).toEqual(new Map([['d', 'hash-d']]));
    expect(await otherTenant).toEqual(new Map([['b', 'hash-b']]));
  });

  it("never answers one tenant's key with another tenant's", async () => {
    const lookup = async (keys: readonly KeyRef[]) =>
      new Map(keys.filter((k) => k.tenant === 't1').map((k) => [keyId(k.tenant, k.key), 'hash-t1']));
    const index = new IdempotencyIndex(lookup, 10);
    const [mine, theirs] = await Promise.all([
      index.previous('t1', [ref('a')]),
      index.previous('t2', [ref('a')]),
    ]);
    expect(mine).toEqual(new Map([['a', 'hash-t1']]));
    expect(theirs).toEqual(new Map());
  });

  it('fails only the requests of a failed query, and the next query still goes out', async () => {
    const { queries, lookup } = storage({ b: 'hash-b' });
    const index = new IdempotencyIndex(lookup, 10);
    const first = index.previous('t1', [ref('a')]);
    const second = index.previous('t1', [ref('b')]);
    await settled();
    queries[0]!.fail();
    await expect(first).rejects.toThrow('ClickHouse is down');
    await settled();
    queries[1]!.answer();
    expect(await second).toEqual(new Map([['b', 'hash-b']]));
  });

  it(`puts at most ${MAX_KEYS_PER_LOOKUP} keys in one query, unless one request alone has more`, async () => {
    const { queries, lookup } = storage({});
    const index = new IdempotencyIndex(lookup, 10);
    const keys = (prefix: string, count: number) =>
      Array.from({ length: count }, (_, i) => ref(`${prefix}${i}`));
    const requests = [
      index.previous('t1', keys('a', 1)),
      index.previous('t1', keys('b', MAX_KEYS_PER_LOOKUP - 2)),
      index.previous('t1', keys('c', 2)),
      index.previous('t1', keys('d', MAX_KEYS_PER_LOOKUP + 5)),
    ];
    for (let i = 0; i < 3; i += 1) {
      await settled();
      queries.at(-1)!.answer();
    }
    await Promise.all(requests);
    expect(queries.map((q) => q.keys.length)).toEqual([1, MAX_KEYS_PER_LOOKUP, MAX_KEYS_PER_LOOKUP + 5]);
  });

  it('reports how long a request waited for storage, and nothing for one answered from memory', async () => {
    const { queries, lookup } = storage({});
    const waits: number[] = [];
    const index = new IdempotencyIndex(lookup, 10, (ms) => waits.push(ms));
    index.remember('t1', 'a', 'hash-a');
    await index.previous('t1', [ref('a')]);
    expect(waits).toEqual([]);
    const asked = index.previous('t1', [ref('b')]);
    await settled();
    queries[0]!.answer();
    await asked;
    expect(waits).toHaveLength(1);
  });
});
