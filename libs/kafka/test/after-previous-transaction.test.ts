import { afterPreviousTransaction } from '../src/offsets';

/** What KafkaJS throws once its own retries of CONCURRENT_TRANSACTIONS are spent. */
const concurrent = () =>
  Object.assign(new Error('Number of retries exceeded'), {
    name: 'KafkaJSNumberOfRetriesExceeded',
    cause: Object.assign(new Error('another concurrent operation'), { type: 'CONCURRENT_TRANSACTIONS' }),
  });

describe('afterPreviousTransaction', () => {
  it('sends again while the previous transaction is finishing, then goes on', async () => {
    let attempts = 0;
    await afterPreviousTransaction(async () => {
      attempts += 1;
      if (attempts < 3) throw concurrent();
    });
    expect(attempts).toBe(3);
  });

  it('fails at once on any other error', async () => {
    let attempts = 0;
    const fenced = Object.assign(new Error('fenced'), { type: 'INVALID_PRODUCER_EPOCH' });
    await expect(
      afterPreviousTransaction(async () => {
        attempts += 1;
        throw fenced;
      }),
    ).rejects.toBe(fenced);
    expect(attempts).toBe(1);
  });

  it('gives up once the wait has passed', async () => {
    const now = jest.spyOn(Date, 'now');
    let clock = 0;
    now.mockImplementation(() => clock);
    let attempts = 0;
    try {
      await expect(
        afterPreviousTransaction(async () => {
          attempts += 1;
          clock += 10;
          throw concurrent();
        }, 20),
      ).rejects.toThrow('Number of retries exceeded');
    } finally {
      now.mockRestore();
    }
    expect(attempts).toBe(2);
  });
});
