/**
 * Shows that the servers the suites run against are the real ones the project started: Kafka
 * 4.1's cluster id and API versions, ClickHouse's own version, and a subject registered in and
 * fetched back from Apicurio. It also proves what DESIGN §3 only checked on paper: KafkaJS 2.2.4
 * runs a classic consumer group and a transactional produce that sends offsets on this broker.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { StageCodec } from '@aispm/kafka';
import {
  exampleEnvelope,
  clickhouse,
  eventually,
  KAFKA_BROKERS,
  REPO,
  SCHEMA_REGISTRY_URL,
  uniqueSuffix,
} from '../support/platform';

jest.setTimeout(120_000);

const dataDir = process.env.AISPM_DATA_DIR ?? path.join(REPO, '.data');
const kafka = new Kafka({
  clientId: 'real-servers-test',
  brokers: KAFKA_BROKERS.split(','),
  logLevel: logLevel.NOTHING,
});

function infra(...args: string[]): string {
  return execFileSync('bash', [path.join(REPO, 'deploy/local/infra.sh'), ...args], { encoding: 'utf8' });
}

describe('the data dir', () => {
  it('is readable by its owner only: it holds keys, logs and the servers’ data', () => {
    expect((statSync(dataDir).mode & 0o777).toString(8)).toBe('700');
  });
});

describe('Kafka', () => {
  it('is the KRaft cluster our scripts formatted', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { clusterId, brokers } = await admin.describeCluster();
      expect(clusterId).toBe(readFileSync(path.join(dataDir, 'kafka/cluster.id'), 'utf8').trim());
      expect(brokers.length).toBeGreaterThanOrEqual(1);
    } finally {
      await admin.disconnect();
    }
  });

  it('answers ApiVersions as Kafka 4.1', () => {
    const versions = infra(
      'kafka-tool',
      'org.apache.kafka.tools.BrokerApiVersionsCommand',
      '--bootstrap-server',
      KAFKA_BROKERS.split(',')[0]!,
    );
    // Fetch starting at v4 (KIP-896 removed v0-3) and Produce up to v12+ are what Kafka 4.x advertises.
    expect(versions).toMatch(/Produce\(0\): \d+ to 1[2-9]/);
    expect(versions).toMatch(/Fetch\(1\): 4 to \d+/);
    expect(versions).toMatch(/JoinGroup\(11\)/);
    expect(versions).toMatch(/AddOffsetsToTxn\(25\)/);
  });

  it('runs a classic consumer group and a transactional produce that sends offsets', async () => {
    const suffix = uniqueSuffix();
    const input = `proof.${suffix}.in`;
    const output = `proof.${suffix}.out`;
    const groupId = `proof-${suffix}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: input }, { topic: output }], waitForLeaders: true });
    const plain = kafka.producer();
    const transactional = kafka.producer({
      transactionalId: `proof-${suffix}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    const consumer = kafka.consumer({ groupId });
    try {
      await Promise.all([plain.connect(), transactional.connect(), consumer.connect()]);
      await plain.send({ topic: input, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
      await consumer.subscribe({ topics: [input], fromBeginning: true });
      const seen: string[] = [];
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const txn = await transactional.transaction();
              await txn.send({ topic: output, messages: batch.messages.map((m) => ({ value: m.value })) });
              const last = batch.messages[batch.messages.length - 1]!.offset;
              await txn.sendOffsets({
                consumerGroupId: groupId,
                topics: [
                  {
                    topic: batch.topic,
                    partitions: [{ partition: batch.partition, offset: String(Number(last) + 1) }],
                  },
                ],
              });
              await txn.commit();
              seen.push(...batch.messages.map((m) => String(m.value)));
              if (seen.length >= 3) resolve();
            },
          })
          .catch(reject);
      });
      expect(seen).toEqual(['a', 'b', 'c']);
      // The coordinator materializes transactional offsets once the commit marker is written,
      // which finishes shortly after EndTxn returns.
      const committed = await eventually('the transactional offset commit', async () => {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [input] });
        const offset = offsets!.partitions[0]!.offset;
        return offset === '-1' ? undefined : offset;
      });
      expect(committed).toBe('3');
      const ends = await admin.fetchTopicOffsets(output);
      // Three records plus the transaction's commit marker.
      expect(Number(ends[0]!.high)).toBe(4);
    } finally {
      await consumer.disconnect();
      await Promise.all([plain.disconnect(), transactional.disconnect()]);
      await admin.deleteTopics({ topics: [input, output] });
      await admin.disconnect();
    }
  });
});

describe('ClickHouse', () => {
  it('is current ClickHouse (26.x), the release docker-compose pins', async () => {
    const ch = clickhouse();
    try {
      const [row] = await ch.query<{ version: string }>('SELECT version() AS version');
      expect(row!.version).toMatch(/^26\./);
    } finally {
      await ch.close();
    }
  });
});

describe('schema registry', () => {
  it('registers a subject and serves it back by id', async () => {
    const subject = `proof-${uniqueSuffix()}-value`;
    const schema = JSON.stringify({ type: 'object', properties: { n: { type: 'integer' } } });
    const registered = await fetch(`${SCHEMA_REGISTRY_URL}/subjects/${subject}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schemaType: 'JSON', schema }),
    });
    expect(registered.status).toBe(200);
    const { id } = (await registered.json()) as { id: number };
    const fetched = (await (await fetch(`${SCHEMA_REGISTRY_URL}/schemas/ids/${id}`)).json()) as {
      schema: string;
      schemaType: string;
    };
    expect(JSON.parse(fetched.schema)).toEqual(JSON.parse(schema));
    expect(fetched.schemaType).toBe('JSON');
  });

  it('is Apicurio Registry 3', async () => {
    const base = new URL(SCHEMA_REGISTRY_URL);
    const info = (await (await fetch(`${base.origin}/apis/registry/v3/system/info`)).json()) as {
      name: string;
      version: string;
    };
    expect(info.name).toMatch(/Apicurio Registry/i);
    expect(info.version).toMatch(/^3\./);
  });
});

describe('stage codec', () => {
  it('decodes messages written under two versions of one schema (same $id)', async () => {
    const subject = `evolution-${uniqueSuffix()}`;
    const versions = [
      { type: 'object', properties: { a: { type: 'string' } } },
      { type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } } },
    ].map((schema) => ({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'https://aispm-ingest.dev/test/evolving.json',
      ...schema,
    }));
    const ids: number[] = [];
    for (const schema of versions) {
      const response = await fetch(`${SCHEMA_REGISTRY_URL}/subjects/${subject}/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify(schema) }),
      });
      ids.push(((await response.json()) as { id: number }).id);
    }
    const wire = (id: number, value: object) => {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(id, 1);
      return Buffer.concat([header, Buffer.from(JSON.stringify(value))]);
    };
    const codec = new StageCodec(SCHEMA_REGISTRY_URL);
    expect(await codec.decode(wire(ids[0]!, { a: 'old' }))).toEqual({ a: 'old' });
    expect(await codec.decode(wire(ids[1]!, { a: 'new', b: 2 }))).toEqual({ a: 'new', b: 2 });
  });

  it('writes the same bytes without validating again as with validating', async () => {
    const codec = new StageCodec(SCHEMA_REGISTRY_URL);
    await codec.register(['envelope.v1']);
    const envelope = exampleEnvelope();
    envelope.event.target_summary = 'non-ASCII: café ✓';
    const validated = await codec.encode('envelope.v1', envelope);
    expect(codec.encodeValidated('envelope.v1', envelope)).toEqual(validated);
    expect(await codec.decode(validated, 'envelope.v1')).toEqual(envelope);
  });
});
