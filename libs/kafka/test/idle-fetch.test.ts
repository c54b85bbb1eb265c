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

describe('FetchPacer', () => {
  it('sends the first fetch as asked', () => {
    expect(new FetchPacer(1000).next(asked)).toBe(asked);
  });

  it('after an empty answer asks for the first byte and waits up to the idle wait', () => {
    const pacer = new FetchPacer(1000);
    pacer.observe(answer(0, 0));
    expect(pacer.next(asked)).toEqual({ maxWaitTime: 1000, minBytes: 1, isolationLevel: 1 });
  });

  it('batches again as soon as a fetch brings records', () => {
    const pacer = new FetchPacer(1000);
    pacer.observe(answer(0));
    pacer.observe(answer(0, 3));
    expect(pacer.next(asked)).toBe(asked);
  });

  it('never waits less than asked', () => {
    const pacer = new FetchPacer(50);
    pacer.observe(answer());
    expect(pacer.next(asked).maxWaitTime).toBe(100);
  });
});
