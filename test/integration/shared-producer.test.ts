/**
 * Concurrent callers of the shared producer on the real Kafka: their messages go in fewer Produce
 * requests than there are callers, the offset each caller is given is the offset its message has
 * in the log (the gateway's receipts name it as the replay index), and a topic deleted under them
 * fails only its own callers.
 */
import { createKafka, SharedProducer } from '@aispm/kafka';
import { createLogger } from '@aispm/observability';
import { eventually, KAFKA_BROKERS, uniqueSuffix } from '../support/platform';

jest.setTimeout(120_000);

const CALLERS = 60;
const suffix = uniqueSuffix();
const topics = Array.from({ length: 4 }, (_, i) => `aispm-test-shared-${suffix}-${i}`);
const kafka = createKafka(
  { brokers: KAFKA_BROKERS.split(','), clientId: 'shared-producer-test', requestTimeoutMs: 30_000 },
  createLogger('test', 'shared-producer', 'silent'),
);
const admin = kafka.admin();
const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 3 } });
const consumer = kafka.consumer({ groupId: `shared-producer-${suffix}`, maxWaitTimeInMs: 100 });
let produceRequests = 0;

beforeAll(async () => {
  await Promise.all([admin.connect(), producer.connect(), consumer.connect()]);
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: 2 })),
    waitForLeaders: true,
  });
  producer.on(producer.events.REQUEST, ({ payload }) => {
    if (payload.apiName === 'Produce') produceRequests += 1;
  });
});

afterAll(async () => {
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  await admin.deleteTopics({ topics });
  await admin.disconnect();
});

it('gathers concurrent callers into shared requests and gives each message its offset in the log', async () => {
  const shared = new SharedProducer(producer);
  // The first write teaches the producer the topics, so the callers below go out together.
  await Promise.all(
    topics.map((topic) => shared.send(topic, [{ partition: 0, value: Buffer.from('warm') }])),
  );
  produceRequests = 0;

  const sends = Array.from({ length: CALLERS }, (_, caller) => ({
    topic: topics[caller % topics.length]!,
    values: [`${caller}-a`, `${caller}-b`],
    // Every topic gets callers on both partitions, in one shared request.
    partition: Math.floor(caller / topics.length) % 2,
  }));
  const given = await Promise.all(
    sends.map(({ topic, values, partition }) =>
      shared.send(
        topic,
        values.map((value) => ({ partition, value: Buffer.from(value) })),
      ),
    ),
  );
  expect(produceRequests).toBeLessThanOrEqual(CALLERS / 4);

  const expected = new Map<string, string>();
  sends.forEach(({ topic, values, partition }, caller) =>
    values.forEach((value, i) => expected.set(value, `${topic}/${partition}/${given[caller]![i]}`)),
  );
  const logged = new Map<string, string>();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      logged.set(String(message.value), `${topic}/${partition}/${message.offset}`);
    },
  });
  await eventually('every message read back', async () =>
    [...expected.keys()].every((value) => logged.has(value)) ? true : undefined,
  );
  for (const [value, place] of expected)
    expect(`${value} at ${logged.get(value)}`).toBe(`${value} at ${place}`);
});

it('fails only the callers of a topic deleted under them', async () => {
  const gone = `aispm-test-shared-gone-${suffix}`;
  await admin.createTopics({ topics: [{ topic: gone, numPartitions: 1 }], waitForLeaders: true });
  const shared = new SharedProducer(producer);
  const write = (topic: string) => shared.send(topic, [{ partition: 0, value: Buffer.from(topic) }]);
  await Promise.all([write(gone), write(topics[0]!)]);
  await admin.deleteTopics({ topics: [gone] });
  await eventually('the topic to be gone', async () =>
    (await admin.listTopics()).includes(gone) ? undefined : true,
  );

  const outcomes = await Promise.allSettled([
    write(topics[0]!),
    write(topics[0]!),
    write(gone),
    write(topics[1]!),
    write(gone),
    write(topics[2]!),
  ]);
  expect(outcomes.map(({ status }) => status)).toEqual([
    'fulfilled',
    'fulfilled',
    'rejected',
    'fulfilled',
    'rejected',
    'fulfilled',
  ]);
});
