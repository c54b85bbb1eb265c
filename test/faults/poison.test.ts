/**
 * Poison (DESIGN §15): a message no stage can use goes to the tenant's DLQ with a reason, and the
 * partition moves on. Each stage's input topic gets the same poison: bytes that are not in the
 * wire format, a schema id the registry does not know, and a well-formed message of another
 * schema (which, decoded as input, would make the stage's core throw). An event sent after them
 * must still be projected.
 */
import { randomBytes } from 'node:crypto';
import { SCHEMA_NAMES, tenantTopic, TOPIC_SCHEMAS, type DlqRecord, type TenantStage } from '@aispm/contracts';
import { StageCodec } from '@aispm/kafka';
import { LocalKms, RawEncryptor } from '@aispm/kms';
import { Kafka, logLevel } from 'kafkajs';
import {
  eventually,
  KAFKA_BROKERS,
  postToGateway,
  SCHEMA_REGISTRY_URL,
  startPipeline,
  type Pipeline,
} from '../support/platform';
import { projectedIds, streamEnvelope } from './support/load';
import { Proof } from './support/proof';

jest.setTimeout(300_000);

/** The stage reading each topic: where its poison must be dead-lettered. */
const STAGES: readonly { input: TenantStage; service: string }[] = [
  { input: 'raw', service: 'redactor' },
  { input: 'redacted', service: 'normalizer' },
  { input: 'normalized', service: 'projector' },
];

/** The kinds of poison, each as bytes, and the DLQ code it must get. */
async function poisons(codec: StageCodec): Promise<{ name: string; value: Buffer; code: string }[]> {
  const wire = (id: number, json: object) => {
    const header = Buffer.alloc(5);
    header.writeUInt32BE(id, 1);
    return Buffer.concat([header, Buffer.from(JSON.stringify(json))]);
  };
  const otherSchema: DlqRecord = {
    schema_version: 'aispm.dlq_record.v1',
    service: 'poison-test',
    code: 'TEST',
    message: 'a valid message of the wrong schema',
    source: { topic: 'nowhere', partition: 0, offset: '0' },
    original_base64: '',
    failed_ms: Date.now(),
  };
  return [
    {
      name: 'undecodable bytes',
      value: Buffer.from('\u0000\u0001not the wire format'),
      code: 'KAFKA_DECODE_FAILED',
    },
    { name: 'unknown schema id', value: wire(0x7fff_fff0, { any: 'thing' }), code: 'KAFKA_DECODE_FAILED' },
    {
      name: 'another schema',
      value: await codec.encode(TOPIC_SCHEMAS.dlq, otherSchema),
      code: 'KAFKA_DECODE_FAILED',
    },
  ];
}

const proof = new Proof('poison');
let pipeline: Pipeline;
const kafka = new Kafka({
  clientId: 'poison-test',
  brokers: KAFKA_BROKERS.split(','),
  logLevel: logLevel.NOTHING,
});

beforeAll(async () => {
  pipeline = await startPipeline();
});

afterAll(async () => {
  proof.write();
  await pipeline?.stop();
});

it('dead-letters poison with a reason at every stage, and the partition moves on', async () => {
  const codec = new StageCodec(SCHEMA_REGISTRY_URL);
  await codec.register(SCHEMA_NAMES);
  const kinds = await poisons(codec);
  const producer = kafka.producer();
  await producer.connect();
  // Raw values are encrypted by the gateway; poison wrapped the same way reaches the decoder, which
  // is what this suite proves (a plaintext value would stop earlier, as RAW_NOT_ENCRYPTED).
  const encryptor = new RawEncryptor(
    LocalKms.fromFile(String(pipeline.env.AISPM_KMS_MASTER_KEY_FILE), { create: false }),
  );
  // Into every partition, before any event, undecodable bytes last: whichever partition the next
  // event takes, the normalizer resumes its chain from a normalized partition that ends in poison.
  const admin = kafka.admin();
  await admin.connect();
  const partitions = (await admin.fetchTopicOffsets(tenantTopic(pipeline.tenant, 'raw'))).map(
    (p) => p.partition,
  );
  await admin.disconnect();
  const faults = [];
  for (const { input, service } of STAGES) {
    for (const kind of [...kinds].reverse()) {
      faults.push(proof.injected(`poison (${kind.name}) for the ${service}`));
      await producer.send({
        topic: tenantTopic(pipeline.tenant, input),
        messages: await Promise.all(
          partitions.map(async (partition) => ({
            partition,
            key: `poison-${randomBytes(3).toString('hex')}`,
            value: input === 'raw' ? await encryptor.encrypt(pipeline.tenant, kind.value) : kind.value,
          })),
        ),
        acks: -1,
      });
    }
  }
  await producer.disconnect();

  const after = `evt_after_poison_${randomBytes(4).toString('hex')}`;
  const answer = await postToGateway(
    pipeline.gatewayUrl,
    '/enterprise/aispm/events',
    pipeline.apiKey,
    streamEnvelope(pipeline, after),
    { secret: pipeline.signingSecret },
  );
  expect(answer.status).toBe(202);
  await eventually(
    'the event sent after the poison to be projected',
    async () => ((await projectedIds(pipeline)).has(after) ? true : undefined),
    120_000,
  );

  const letters = await readDlq(pipeline.tenant, STAGES.length * kinds.length * partitions.length);
  const seen = letters.map((l) => [l.service, parseTopicStage(l.source.topic), l.code]).sort();
  const expected = STAGES.flatMap(({ input, service }) =>
    kinds.flatMap((k) => partitions.map(() => [service, input, k.code])),
  ).sort();
  expect(seen).toEqual(expected);
  for (const letter of letters) {
    expect(letter.message.length).toBeGreaterThan(0);
    expect(letter.original_base64.length).toBeGreaterThan(0);
  }
  proof.survived(...faults);
});

function parseTopicStage(topic: string): string {
  return topic.split('.').pop()!;
}

/** Reads `count` records from the tenant's DLQ, decoded. */
async function readDlq(tenant: string, count: number): Promise<DlqRecord[]> {
  const codec = new StageCodec(SCHEMA_REGISTRY_URL);
  const consumer = kafka.consumer({ groupId: `poison-reader-${randomBytes(4).toString('hex')}` });
  const records: DlqRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [tenantTopic(tenant, 'dlq')], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        records.push(await codec.decode<DlqRecord>(message.value));
      },
    });
    await eventually(
      `${count} dead letters`,
      async () => (records.length >= count ? true : undefined),
      60_000,
    );
    return records;
  } finally {
    await consumer.disconnect();
  }
}
