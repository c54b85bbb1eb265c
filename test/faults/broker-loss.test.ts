/**
 * Broker loss (DESIGN §15): on three Kafka brokers of the suite's own (replication factor 3,
 * min.insync.replicas=2), the broker leading the tenant's raw topic is SIGKILLed under load. No
 * acknowledged event may be lost; the broker is then started again and must rejoin: listed by
 * the cluster and back in every in-sync replica set of the tenant's topics.
 */
import { tenantTopic, TENANT_STAGES } from '@aispm/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { eventually, startPipeline, type Pipeline } from '../support/platform';
import { PrivateInfra } from '../support/private-infra';
import { EventStream, settle } from './support/load';
import { Proof } from './support/proof';

jest.setTimeout(900_000);

const EVENTS = Number(process.env.AISPM_FAULTS_BROKER_EVENTS ?? 400);
const proof = new Proof('broker-loss');
let infra: PrivateInfra;
let pipeline: Pipeline;

beforeAll(async () => {
  infra = await PrivateInfra.start(['kafka'], 3);
  pipeline = await startPipeline({ KAFKA_BROKERS: infra.kafkaBrokers, AISPM_TOPIC_REPLICATION: '3' });
});

afterAll(async () => {
  proof.write();
  await pipeline?.stop().catch(() => undefined);
  await infra?.destroy();
});

function admin() {
  return new Kafka({
    clientId: 'broker-loss',
    brokers: infra.kafkaBrokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
}

/** The leader of partition 0 of `topic`, and the in-sync replica sets of every partition. */
async function describe(topics: string[]): Promise<{ brokers: number; leader: number; isr: number[][] }> {
  const client = admin();
  await client.connect();
  try {
    const cluster = await client.describeCluster();
    const metadata = await client.fetchTopicMetadata({ topics });
    const partitions = metadata.topics.flatMap((t) => t.partitions);
    return {
      brokers: cluster.brokers.length,
      leader: metadata.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader,
      isr: partitions.map((p) => p.isr),
    };
  } finally {
    await client.disconnect();
  }
}

it('loses no acknowledged event when a broker dies under load, and the broker rejoins', async () => {
  const topics = TENANT_STAGES.map((stage) => tenantTopic(pipeline.tenant, stage));
  const stream = new EventStream(pipeline, { count: EVENTS, concurrency: 4, giveUpMs: 600_000 });
  const sending = stream.run();
  const reach = (count: number) =>
    Promise.race([
      eventually(
        `${count} acknowledgements`,
        async () => (stream.acknowledged >= count ? true : undefined),
        300_000,
      ),
      sending.then(() => {
        throw new Error(`the stream ended after ${stream.acknowledged} acknowledgements`);
      }),
    ]);
  await reach(Math.floor(EVENTS / 3));
  const { leader } = await describe(topics);
  const fault = proof.injected(`SIGKILL of broker ${leader} (raw topic leader) of 3 under load`);
  infra.killKafkaNode(leader);
  // Two in-sync copies remain: writes go on.
  await reach(Math.floor((EVENTS * 2) / 3));
  await infra.infra('start', 'kafka');
  await sending;
  const tally = await settle(pipeline, stream.events);
  proof.events(tally);

  expect(tally).toMatchObject({
    sent: EVENTS,
    acknowledged: EVENTS,
    projected: EVENTS,
    lost: 0,
    duplicated: 0,
  });
  const rejoined = await eventually(
    `broker ${leader} back in every in-sync replica set`,
    async () => {
      const state = await describe(topics);
      return state.brokers === 3 && state.isr.every((isr) => isr.includes(leader)) ? state : undefined;
    },
    180_000,
  );
  expect(rejoined.brokers).toBe(3);
  proof.survived(fault);
});
