import { Pacer } from '../src';

function clock() {
  let now = 1000;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
    advance: (ms: number) => (now += ms),
    slept,
  };
}

describe('Pacer', () => {
  it('does not wait without a rate', async () => {
    const c = clock();
    const pacer = new Pacer(undefined, c.now, c.sleep);
    await pacer.take(1_000_000);
    expect(c.slept).toEqual([]);
    expect(pacer.chunkSize()).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('releases records on a schedule from the start', async () => {
    const c = clock();
    const pacer = new Pacer(100, c.now, c.sleep);
    expect(pacer.chunkSize()).toBe(10);
    for (let i = 0; i < 5; i += 1) await pacer.take(10);
    // 50 records at 100/s: the fifth chunk of ten goes out 400 ms after the first.
    expect(c.slept).toEqual([100, 100, 100, 100]);
  });

  it('does not wait when the reader is slower than the rate', async () => {
    const c = clock();
    const pacer = new Pacer(10, c.now, c.sleep);
    await pacer.take(1);
    c.advance(500);
    await pacer.take(1);
    expect(c.slept).toEqual([]);
    expect(pacer.chunkSize()).toBe(1);
  });
});
