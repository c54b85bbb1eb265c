import { Gatherer, type Outcomes } from '../src';

/** A call that settles when told to, recording the items of each call. */
function recordingCall() {
  const calls: { items: string[]; answer: () => void; fail: (reason: Error) => void }[] = [];
  const call = (items: readonly string[]) =>
    new Promise<Outcomes<string>>((resolve, reject) => {
      calls.push({
        items: [...items],
        answer: () =>
          resolve(
            items.map((item) =>
              item.startsWith('bad')
                ? { status: 'rejected', reason: new Error(`${item} refused`) }
                : { status: 'fulfilled', value: `${item}!` },
            ),
          ),
        fail: reject,
      });
    });
  return { calls, call };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));
const options = { maxInFlight: 1, maxWeight: 100, weight: (item: string) => item.length };

describe('Gatherer', () => {
  it('calls at once when idle, and gathers the callers that come meanwhile into the next call', async () => {
    const { calls, call } = recordingCall();
    const gatherer = new Gatherer(call, options);
    const first = gatherer.run('a');
    const later = ['b', 'c', 'd'].map((item) => gatherer.run(item));
    await settled();
    expect(calls.map(({ items }) => items)).toEqual([['a']]);
    calls[0]!.answer();
    expect(await first).toBe('a!');
    await settled();
    expect(calls.map(({ items }) => items)).toEqual([['a'], ['b', 'c', 'd']]);
    calls[1]!.answer();
    expect(await Promise.all(later)).toEqual(['b!', 'c!', 'd!']);
  });

  it('keeps as many calls in flight as allowed before callers wait', async () => {
    const { calls, call } = recordingCall();
    const gatherer = new Gatherer(call, { ...options, maxInFlight: 2 });
    const runs = ['a', 'b', 'c', 'd'].map((item) => gatherer.run(item));
    await settled();
    expect(calls.map(({ items }) => items)).toEqual([['a'], ['b']]);
    calls[1]!.answer();
    await settled();
    expect(calls.map(({ items }) => items)).toEqual([['a'], ['b'], ['c', 'd']]);
    calls[0]!.answer();
    calls[2]!.answer();
    expect(await Promise.all(runs)).toEqual(['a!', 'b!', 'c!', 'd!']);
  });

  it('starts another call when the waiting callers would pass the weight bound, and sends a heavy caller alone', async () => {
    const { calls, call } = recordingCall();
    const gatherer = new Gatherer(call, { ...options, maxWeight: 4 });
    const runs = ['a', 'bb', 'cc', 'dddddd', 'e'].map((item) => gatherer.run(item));
    for (let i = 0; i < 4; i += 1) {
      await settled();
      calls.at(-1)!.answer();
    }
    await Promise.all(runs);
    expect(calls.map(({ items }) => items)).toEqual([['a'], ['bb', 'cc'], ['dddddd'], ['e']]);
  });

  it('gives each caller its own outcome, and fails every caller of a call that fails', async () => {
    const { calls, call } = recordingCall();
    const gatherer = new Gatherer(call, options);
    const first = gatherer.run('a');
    const good = gatherer.run('b');
    const bad = gatherer.run('bad');
    await settled();
    calls[0]!.fail(new Error('unreachable'));
    await expect(first).rejects.toThrow('unreachable');
    await settled();
    calls[1]!.answer();
    expect(await good).toBe('b!');
    await expect(bad).rejects.toThrow('bad refused');
  });

  it('fails the callers of a call that throws at once or answers for the wrong number of items, and goes on', async () => {
    let calls = 0;
    const gatherer = new Gatherer<string, string>((items) => {
      calls += 1;
      if (calls === 1) throw new Error('thrown before any promise');
      if (calls === 2) return Promise.resolve([]);
      return Promise.resolve(items.map((item) => ({ status: 'fulfilled' as const, value: item })));
    }, options);
    await expect(gatherer.run('a')).rejects.toThrow('thrown before any promise');
    await expect(gatherer.run('b')).rejects.toThrow('answered 0 outcomes');
    expect(await gatherer.run('c')).toBe('c');
  });

  it('refuses a bound that would leave every caller waiting', () => {
    expect(() => new Gatherer(async () => [], { ...options, maxInFlight: 0 })).toThrow('maxInFlight');
  });
});
