/**
 * Poison (DESIGN §15): a message no stage can use goes to the tenant's DLQ with a reason, and the
 * partition moves on. Each stage's input topic gets the same poison: bytes that are not in the
 * wire format, a schema id the registry does not know, and a well-formed message of another
 * schema (which, decoded as input, would make the stage's core throw). An event sent after them
 * must still be projected. The shared topics (control, audit, health) get the same poison, on a
 * Kafka of the suite's own: it goes to `aispm.dlq`, and every service stays ready and working.
 */
import { randomBytes } from 'node:crypto';
import {
  SCHEMA_NAMES,
  SHARED_TOPICS,
  tenantTopic,
  TOPIC_SCHEMAS,
  type DlqRecord,
  type TenantStage,
} from '@aispm/contracts';
import { StageCodec } from '@aispm/kafka';
import { LocalKms, RawEncryptor } from '@aispm/kms';
import { Kafka, logLevel } from 'kafkajs';
import {
  cli,
  eventually,
  KAFKA_BROKERS,
  postToGateway,
  SCHEMA_REGISTRY_URL,
  SERVICES,
  startPipeline,
  type Pipeline,
} from '../support/platform';
import { PrivateInfra } from '../support/private-infra';
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

  const letters = await readDlq(
    tenantTopic(pipeline.tenant, 'dlq'),
    STAGES.length * kinds.length * partitions.length,
  );
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

/** Reads `count` records from a dead-letter topic, decoded. */
async function readDlq(topic: string, count: number, from = kafka): Promise<DlqRecord[]> {
  const codec = new StageCodec(SCHEMA_REGISTRY_URL);
  const consumer = from.consumer({ groupId: `poison-reader-${randomBytes(4).toString('hex')}` });
  const records: DlqRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
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

describe('poison on the shared topics', () => {
  let infra: PrivateInfra;
  let shared: Pipeline;
  let sharedKafka: Kafka;

  beforeAll(async () => {
    infra = await PrivateInfra.start(['kafka']);
    sharedKafka = new Kafka({
      clientId: 'shared-poison-test',
      brokers: infra.kafkaBrokers.split(','),
      logLevel: logLevel.NOTHING,
    });
    shared = await startPipeline({ KAFKA_BROKERS: infra.kafkaBrokers, AISPM_HEALTH_INTERVAL_MS: '1000' });
  });

  afterAll(async () => {
    await shared?.stop();
    await infra?.destroy();
  });

  async function allReady(): Promise<boolean> {
    const answers = await Promise.all(
      SERVICES.map(async (service) => {
        const response = await fetch(`${shared.opsUrls.get(service)}/readyz`).catch(() => undefined);
        return response?.ok === true;
      }),
    );
    return answers.every(Boolean);
  }

  it('dead-letters it to aispm.dlq, and every service stays ready and goes on working', async () => {
    const codec = new StageCodec(SCHEMA_REGISTRY_URL);
    await codec.register(SCHEMA_NAMES);
    const kinds = await poisons(codec);
    const producer = sharedKafka.producer();
    await producer.connect();
    const poisoned: string[] = [];
    const faults = [];
    for (const topic of [SHARED_TOPICS.control, SHARED_TOPICS.audit, SHARED_TOPICS.health]) {
      for (const kind of kinds) {
        faults.push(proof.injected(`poison (${kind.name}) on ${topic}`));
        const [written] = await producer.send({
          topic,
          messages: [{ key: shared.tenant, value: kind.value }],
          acks: -1,
        });
        poisoned.push(`${topic}@${written!.baseOffset}`);
      }
    }
    await producer.disconnect();

    // The control plane still works: a tenant created after the poison takes events.
    const slug = `${shared.tenantPrefix}-after`;
    const created = await shared.admin('POST', '/tenants', { slug, tenant_ref: `tenant:${slug}` });
    expect(created.status).toBe(201);
    const after = `evt_after_shared_poison_${randomBytes(4).toString('hex')}`;
    const answer = await postToGateway(
      shared.gatewayUrl,
      '/enterprise/aispm/events',
      shared.apiKey,
      streamEnvelope(shared, after),
      { secret: shared.signingSecret },
    );
    expect(answer.status).toBe(202);
    await eventually(
      'the event sent after the poison to be projected',
      async () => ((await projectedIds(shared)).has(after) ? true : undefined),
      120_000,
    );
    expect(await allReady()).toBe(true);

    // Every poison is in aispm.dlq: control poison once per service (each control reader reports
    // what it found), audit and health poison once, from the projector.
    const expected = kinds.length * (SERVICES.length + 2);
    const letters = await readDlq(SHARED_TOPICS.deadLetters, expected, sharedKafka);
    const found = new Set(letters.map((l) => `${l.source.topic}@${l.source.offset}`));
    expect(poisoned.filter((p) => !found.has(p))).toEqual([]);
    for (const letter of letters) {
      expect(letter.code).toBe('KAFKA_DECODE_FAILED');
      expect(letter.message.length).toBeGreaterThan(0);
    }

    // The audit chain holds across the poison's positions, which it records as dead-lettered links.
    const lastAuditPoison = Math.max(
      ...poisoned.filter((p) => p.startsWith(SHARED_TOPICS.audit)).map((p) => Number(p.split('@')[1])),
    );
    const verdict = await eventually('the audit chain past the poison', async () => {
      const result = cli(['audit', 'verify', '--database', shared.database], shared.env);
      return Number(result.to) > lastAuditPoison ? result : undefined;
    });
    expect(verdict.holds).toBe(true);
    expect(await allReady()).toBe(true);
    proof.survived(...faults);
  });
});
