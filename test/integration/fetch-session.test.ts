/**
 * A stage's consumer fetches in an incremental fetch session on the real Kafka: once it has read
 * up, the broker's answers name no partition that has nothing new, however many partitions the
 * consumer holds, and every record still arrives once, in order.
 */
import { createKafka, tuneStageFetches } from '@aispm/kafka';
import { createLogger } from '@aispm/observability';
import { eventually, KAFKA_BROKERS, uniqueSuffix } from '../support/platform';

jest.setTimeout(120_000);

/** Topics the consumer holds: a full answer lists each of them, about 60 bytes apiece. */
const TOPICS = 100;
/** An answer naming no partition is about 20 bytes; one naming all of them is over 5 KB. */
const MOST_BYTES_OF_AN_EMPTY_ANSWER = 500;

const suffix = uniqueSuffix();
const topics = Array.from({ length: TOPICS }, (_, i) => `aispm-test-session-${suffix}-${i}`);
const kafka = createKafka(
  { brokers: KAFKA_BROKERS.split(','), clientId: 'fetch-session-test', requestTimeoutMs: 30_000 },
  createLogger('test', 'fetch-session', 'silent'),
);
const admin = kafka.admin();
const producer = kafka.producer({ allowAutoTopicCreation: false });
const consumer = kafka.consumer({
  groupId: `fetch-session-${suffix}`,
  minBytes: 131_072,
  maxWaitTimeInMs: 100,
});
const received = new Map<string, string[]>();
let answers: number[] = [];

beforeAll(async () => {
  await Promise.all([admin.connect(), producer.connect()]);
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: 1 })),
    waitForLeaders: true,
  });
  tuneStageFetches(consumer);
  consumer.on(consumer.events.REQUEST, ({ payload }) => {
    if (payload.apiName === 'Fetch') answers.push(payload.size);
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: TOPICS,
    eachMessage: async ({ topic, message }) => {
      received.set(topic, [...(received.get(topic) ?? []), String(message.value)]);
    },
  });
});

afterAll(async () => {
  await consumer.disconnect();
  await producer.disconnect();
  await admin.deleteTopics({ topics });
  await admin.disconnect();
});

const sendTo = (topic: string, values: string[]) =>
  producer.send({ topic, messages: values.map((value) => ({ value })) });

it('answers with only what is new once read up, and delivers every record once, in order', async () => {
  await Promise.all(topics.map((topic) => sendTo(topic, ['first'])));
  await eventually('a record of every topic', async () => (received.size === TOPICS ? true : undefined));

  answers = [];
  await eventually('a few fetches after reading up', async () => (answers.length >= 3 ? true : undefined));
  expect(Math.max(...answers)).toBeLessThan(MOST_BYTES_OF_AN_EMPTY_ANSWER);

  const busy = topics.slice(0, 3);
  for (const round of ['a', 'b', 'c'])
    await Promise.all(busy.map((topic) => sendTo(topic, [`${round}1`, `${round}2`])));
  await eventually('the later records', async () =>
    busy.every((topic) => received.get(topic)!.length === 7) ? true : undefined,
  );
  for (const topic of busy)
    expect(received.get(topic)).toEqual(['first', 'a1', 'a2', 'b1', 'b2', 'c1', 'c2']);
  for (const topic of topics.slice(3)) expect(received.get(topic)).toEqual(['first']);
});
