import { FetchPacer } from '../src/idle-fetch';

const asked = { maxWaitTime: 100, minBytes: 131_072, isolationLevel: 1 };

function answer(...recordsPerPartition: number[]) {
  return {
    responses: [
      {
        topicName: 'aispm.t.raw',
        partitions: recordsPerPartition.map((records) => ({
          messages: new Array<unknown>(records).fill({}),
        })),
      },
    ],
  };
}

function observeEmpty(pacer: FetchPacer, times: number): void {
  for (let i = 0; i < times; i += 1) pacer.observe(answer(0, 0));
}

describe('FetchPacer', () => {
  it('sends the first fetch as asked', () => {
    expect(new FetchPacer(1000, 3).next(asked)).toBe(asked);
  });

  it('still batches after fewer empty answers in a row than the quiet spell', () => {
    const pacer = new FetchPacer(1000, 3);
    observeEmpty(pacer, 2);
    expect(pacer.next(asked)).toBe(asked);
  });

  it('after a quiet spell asks for the first byte and waits up to the idle wait', () => {
    const pacer = new FetchPacer(1000, 3);
    observeEmpty(pacer, 3);
    expect(pacer.next(asked)).toEqual({ maxWaitTime: 1000, minBytes: 1, isolationLevel: 1 });
  });

  it('batches again as soon as a fetch brings records, and counts the next quiet spell afresh', () => {
    const pacer = new FetchPacer(1000, 3);
    observeEmpty(pacer, 5);
    pacer.observe(answer(0, 3));
    expect(pacer.next(asked)).toBe(asked);
    observeEmpty(pacer, 2);
    expect(pacer.next(asked)).toBe(asked);
  });

  it('never waits less than asked', () => {
    const pacer = new FetchPacer(50, 1);
    pacer.observe(answer());
    expect(pacer.next(asked).maxWaitTime).toBe(100);
  });
});
