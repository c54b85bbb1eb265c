import { KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { AppError } from '@aispm/errors';
import { readEventLog } from '../src/event-log';

/** What KafkaJS throws for a topic not yet in the broker's metadata, after its own retries. */
const notHostedYet = () =>
  new KafkaJSNumberOfRetriesExceeded(
    new KafkaJSProtocolError('This server does not host this topic-partition', { retriable: true }),
    { retryCount: 3, retryTime: 1000 },
  );

describe('readEventLog', () => {
  it('reads again while a new topic settles', async () => {
    let attempts = 0;
    const offsets = await readEventLog(async () => {
      attempts += 1;
      if (attempts < 3) throw notHostedYet();
      return [{ partition: 0, offset: '7' }];
    });
    expect([attempts, offsets]).toEqual([3, [{ partition: 0, offset: '7' }]]);
  });

  it('answers 503 GW_KAFKA_UNAVAILABLE, with the cause, when the log never answers', async () => {
    let attempts = 0;
    const failure = await readEventLog(() => {
      attempts += 1;
      return Promise.reject(notHostedYet());
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ code: 'GW_KAFKA_UNAVAILABLE', status: 503 });
    expect((failure as AppError).cause).toBeInstanceOf(KafkaJSNumberOfRetriesExceeded);
    expect(attempts).toBe(5);
  });

  it('does not read again after an error that waiting cannot cure', async () => {
    let attempts = 0;
    const failure = await readEventLog(() => {
      attempts += 1;
      return Promise.reject(new KafkaJSProtocolError('Topic authorization failed', { retriable: false }));
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'GW_KAFKA_UNAVAILABLE' });
    expect(attempts).toBe(1);
  });
});
