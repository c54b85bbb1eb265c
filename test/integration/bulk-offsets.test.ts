/**
 * Consumer lag over many topics against the real Kafka: one OffsetFetch and one ListOffsets per
 * broker for each end of the log, however many topics, with each partition's figures right and
 * a topic that does not exist left out. KafkaJS's own admin reads took two ListOffsets requests
 * per topic and, past a few hundred topics, timed out on its client-wide lock.
 */
import { consumerLag, createKafka } from '@aispm/kafka';
import { createLogger } from '@aispm/observability';
import { Kafka, logLevel } from 'kafkajs';
import { KAFKA_BROKERS, uniqueSuffix } from '../support/platform';

jest.setTimeout(120_000);

const suffix = uniqueSuffix();
const single = Array.from({ length: 200 }, (_, i) => `aispm-test-bulk-${suffix}-${i}`);
const spread = `aispm-test-bulk-${suffix}-spread`;
const group = `bulk-offsets-${suffix}`;
const plain = new Kafka({
  clientId: 'bulk-offsets-test',
  brokers: KAFKA_BROKERS.split(','),
  logLevel: logLevel.NOTHING,
});
const setup = plain.admin();
const kafka = createKafka(
  { brokers: KAFKA_BROKERS.split(','), clientId: 'bulk-offsets-test', requestTimeoutMs: 30_000 },
  createLogger('test', 'bulk-offsets', 'silent'),
);
const admin = kafka.admin();

beforeAll(async () => {
  await Promise.all([setup.connect(), admin.connect()]);
  await setup.createTopics({
    topics: [...single.map((topic) => ({ topic, numPartitions: 1 })), { topic: spread, numPartitions: 3 }],
    waitForLeaders: true,
  });
  const producer = plain.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.sendBatch({
    topicMessages: [
      ...single.slice(0, 50).map((topic) => ({ topic, messages: [{ value: 'one' }] })),
      {
        topic: spread,
        messages: [0, 0, 1, 1, 2].map((partition) => ({ partition, value: `to ${partition}` })),
      },
    ],
  });
  await producer.disconnect();
  await setup.setOffsets({ groupId: group, topic: single[0]!, partitions: [{ partition: 0, offset: '1' }] });
  await setup.setOffsets({ groupId: group, topic: spread, partitions: [{ partition: 0, offset: '1' }] });
});

afterAll(async () => {
  await setup.deleteGroups([group]).catch(() => undefined);
  await setup.deleteTopics({ topics: [...single, spread] });
  await Promise.all([setup.disconnect(), admin.disconnect()]);
});

it('reads the lag of 201 topics in one offsets request and two log-offset requests', async () => {
  const requests = new Map<string, number>();
  const counting = admin.on(admin.events.REQUEST, ({ payload }) =>
    requests.set(payload.apiName, (requests.get(payload.apiName) ?? 0) + 1),
  );
  const missing = `aispm-test-bulk-${suffix}-missing`;
  const lags = await consumerLag(admin, group, [...single, spread, missing]);
  counting();

  expect(lags).toHaveLength(203);
  expect(lags.some((lag) => lag.topic === missing)).toBe(false);
  // The same figures as KafkaJS's own reads, one topic at a time.
  for (const topic of [single[0]!, single[1]!, single[199]!, spread]) {
    const [committed] = await setup.fetchOffsets({ groupId: group, topics: [topic] });
    const expected = (await setup.fetchTopicOffsets(topic)).map(({ partition, low, high }) => {
      const done = BigInt(committed!.partitions.find((p) => p.partition === partition)!.offset);
      return { topic, partition, committed: done, start: BigInt(low), end: BigInt(high) };
    });
    expected.sort((a, b) => a.partition - b.partition);
    expect(lags.filter((lag) => lag.topic === topic)).toMatchObject(expected);
  }
  const lagOf = new Map(lags.map((lag) => [`${lag.topic}:${lag.partition}`, lag.lag]));
  expect(lagOf.get(`${single[199]}:0`)).toBe(0n);
  expect(lagOf.get(`${single[1]}:0`)).toBeGreaterThan(0n);
  // One broker here: one request for each end of the log, and one for what the group committed.
  expect(requests.get('ListOffsets') ?? 0).toBeLessThanOrEqual(2 * KAFKA_BROKERS.split(',').length);
  expect(requests.get('OffsetFetch') ?? 0).toBe(1);
});

it('reads again from the metadata it has, without asking the broker about every topic each time', async () => {
  const known = [...single, spread];
  await consumerLag(admin, group, known);
  let metadataRequests = 0;
  const counting = admin.on(admin.events.REQUEST, ({ payload }) => {
    if (payload.apiName === 'Metadata') metadataRequests += 1;
  });
  for (let read = 0; read < 5; read += 1) expect(await consumerLag(admin, group, known)).toHaveLength(203);
  counting();
  // KafkaJS's admin refreshes on every lookup: two Metadata requests per read, for all 201 topics.
  expect(metadataRequests).toBe(0);
});
