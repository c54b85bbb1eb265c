/**
 * A stage's consumer against the real Kafka: once nothing has arrived for a while it fetches the
 * first byte and waits up to the idle wait, instead of asking every 100 ms for a batch that never
 * fills; a record produced meanwhile still reaches it.
 */
import { createKafka, EMPTY_FETCHES_BEFORE_IDLE, tuneStageFetches, IDLE_FETCH_WAIT_MS } from '@aispm/kafka';
import { createLogger } from '@aispm/observability';
import { eventually, KAFKA_BROKERS, uniqueSuffix } from '../support/platform';

jest.setTimeout(120_000);

/** How long the consumer is watched while idle. */
const WATCH_MS = 3000;
/** The stage settings' batching: a fetch returns at 128 KiB, or after 100 ms. */
const BATCH = { minBytes: 131_072, maxWaitTimeInMs: 100 };

const suffix = uniqueSuffix();
const topic = `aispm-test-idle-${suffix}`;
const kafka = createKafka(
  { brokers: KAFKA_BROKERS.split(','), clientId: 'idle-fetch-test', requestTimeoutMs: 30_000 },
  createLogger('test', 'idle-fetch', 'silent'),
);
const admin = kafka.admin();
const consumer = kafka.consumer({ groupId: `idle-fetch-${suffix}`, ...BATCH });

beforeAll(async () => {
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
});

afterAll(async () => {
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
});

it('fetches about once per idle wait while idle, and still gets a record produced meanwhile', async () => {
  tuneStageFetches(consumer);
  let fetches = 0;
  consumer.on(consumer.events.REQUEST, ({ payload }) => {
    if (payload.apiName === 'Fetch') fetches += 1;
  });
  const received: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      received.push(String(message.value));
    },
  });
  await eventually('the consumer to meet a quiet spell', async () =>
    fetches > EMPTY_FETCHES_BEFORE_IDLE + 1 ? true : undefined,
  );

  const before = fetches;
  await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
  // Asked as configured, that is one fetch per 100 ms: 30 here. A loaded machine only fetches less.
  expect(fetches - before).toBeLessThanOrEqual(WATCH_MS / IDLE_FETCH_WAIT_MS + 1);

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic, messages: [{ value: 'after a quiet spell' }] });
  await producer.disconnect();
  await eventually('the record to reach the consumer', async () =>
    received.includes('after a quiet spell') ? true : undefined,
  );
});
