/**
 * The normalizer against the real servers. Its semantic rules dead-letter with a reason code and
 * the partition moves on; v1 records written before the v2 schema existed are still read
 * (upcast) and precede the chain. Then 10,000 events flow through the pipeline while the
 * normalizer is SIGKILLed and restarted; the normalized topic (read_committed) holds each event
 * exactly once and its chain verifies with no gap and no fork. `aispm verify` agrees over the
 * topic and ClickHouse, and reports a ClickHouse row changed behind its back.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { name, sql } from '@aispm/clickhouse';
import { tenantTopic, type DlqRecord, type NormalizedEvent, type NormalizedEventV1 } from '@aispm/contracts';
import { committedRanges, readCommitted, StageCodec } from '@aispm/kafka';
import { normalize, verifyEventChains, type StoredRecord } from '@aispm/normalization';
import { Kafka, logLevel } from 'kafkajs';
import {
  awaitReady,
  clickhouse,
  eventually,
  exampleEnvelope,
  freePort,
  KAFKA_BROKERS,
  postToGateway,
  REPO,
  SCHEMA_REGISTRY_URL,
  spawnService,
  startPipeline,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(900_000);

const TOTAL = 10_000;
const BATCH = 500;

let pipeline: Pipeline;
const kafka = new Kafka({
  clientId: 'normalizer-chain-test',
  brokers: KAFKA_BROKERS.split(','),
  logLevel: logLevel.NOTHING,
});
const codec = new StageCodec(SCHEMA_REGISTRY_URL);

beforeAll(async () => {
  pipeline = await startPipeline();
});

afterAll(async () => {
  await pipeline?.stop();
});

/** Every committed value of a topic, decoded, with its position. */
async function committedValues<T>(topic: string): Promise<{ partition: number; offset: string; value: T }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ranges = await committedRanges(admin, topic);
    const values: { partition: number; offset: string; value: T }[] = [];
    await readCommitted(
      kafka,
      topic,
      ranges.map(({ partition, low, end }) => ({ partition, from: low, to: end })),
      async (partition, message) => {
        values.push({ partition, offset: message.offset, value: await codec.decode<T>(message.value) });
      },
      { groupPrefix: pipeline.env.AISPM_GROUP_PREFIX! },
    );
    return values;
  } finally {
    await admin.disconnect();
  }
}

/** Every committed record of a tenant's normalized topic. */
async function normalizedRecords(tenant = pipeline.tenant): Promise<StoredRecord[]> {
  const values = await committedValues<NormalizedEvent>(tenantTopic(tenant, 'normalized'));
  return values.map(({ partition, offset, value }) => ({ partition, offset, event: value }));
}

/** Creates another tenant of this suite, with a collector that needs no signatures. */
async function extraTenant(
  name: string,
  settings: object = {},
): Promise<{ slug: string; ref: string; key: string }> {
  const slug = `${pipeline.tenant}-${name}`;
  const ref = `${pipeline.tenantRef}-${name}`;
  const created = await pipeline.admin('POST', '/tenants', { slug, tenant_ref: ref, ...settings });
  expect(created.status).toBe(201);
  const collector = await pipeline.admin('POST', '/collectors', { tenant: slug });
  expect(collector.status).toBe(201);
  return { slug, ref, key: String(collector.body.api_key) };
}

/** An unsigned envelope of tenant `ref`. */
function unsigned(ref: string, id: string, over: (e: ReturnType<typeof exampleEnvelope>) => void = () => {}) {
  const e = exampleEnvelope();
  e.tenant.tenant_ref = ref;
  e.integrity.signature_required = false;
  e.event.event_id = id;
  e.transport.idempotency_key = id;
  over(e);
  return e;
}

/** How many records the normalized topic's partitions hold, committed or not. */
async function normalizedOffsets(): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ranges = await committedRanges(admin, tenantTopic(pipeline.tenant, 'normalized'));
    return ranges.reduce((sum, { end }) => sum + Number(end), 0);
  } finally {
    await admin.disconnect();
  }
}

function envelopes(from: number, count: number) {
  const example = exampleEnvelope();
  return Array.from({ length: count }, (_, i) => {
    const id = `evt_eos_${from + i}`;
    return {
      ...example,
      event: { ...example.event, event_id: id, session_id: `sess_${(from + i) % 97}` },
      tenant: { ...example.tenant, tenant_ref: pipeline.tenantRef },
      transport: { ...example.transport, idempotency_key: id },
    };
  });
}

async function send(from: number, count: number): Promise<void> {
  const response = await postToGateway(
    pipeline.gatewayUrl,
    '/enterprise/aispm/events/batch',
    pipeline.apiKey,
    envelopes(from, count),
    { secret: pipeline.signingSecret },
  );
  expect(response.status).toBe(202);
}

/** Runs `aispm verify`; returns its exit code and output. */
function verify(tenant = pipeline.tenant): { code: number; out: string } {
  try {
    const out = execFileSync(
      process.execPath,
      [path.join(REPO, 'libs/cli/bin/aispm.js'), 'verify', '--tenant', tenant],
      { env: pipeline.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return { code: 0, out };
  } catch (error) {
    const failed = error as { status: number; stdout: string; stderr: string };
    return { code: failed.status, out: `${failed.stdout}${failed.stderr}` };
  }
}

describe('semantic rules', () => {
  it('dead-letters an unknown collector version and a too old event with their codes, and moves on', async () => {
    const aged = await extraTenant('aged', { max_event_age_days: 30 });
    const old = new Date(Date.now() - 40 * 24 * 3600 * 1000).toISOString();
    const events = [
      unsigned(aged.ref, 'evt_too_old', (e) => {
        e.event.occurred_at = old;
        e.event.session_id = 'sess_rules';
      }),
      unsigned(aged.ref, 'evt_unknown_collector', (e) => {
        e.source.collector_version = '7.0.0';
        e.event.session_id = 'sess_rules';
      }),
      unsigned(aged.ref, 'evt_fine', (e) => {
        e.event.occurred_at = new Date().toISOString();
        e.event.session_id = 'sess_rules';
      }),
    ];
    const response = await postToGateway(
      pipeline.gatewayUrl,
      '/enterprise/aispm/events/batch',
      aged.key,
      events,
    );
    expect(response.status).toBe(202);

    const normalized = await eventually('the fine event normalized', async () => {
      const found = await normalizedRecords(aged.slug);
      return found.length > 0 ? found : undefined;
    });
    expect(normalized.map((record) => record.event.event_id)).toEqual(['evt_fine']);
    const dead = await committedValues<DlqRecord>(tenantTopic(aged.slug, 'dlq'));
    expect(dead.map(({ value }) => [value.service, value.code]).sort()).toEqual([
      ['normalizer', 'NORMALIZE_EVENT_TOO_OLD'],
      ['normalizer', 'NORMALIZE_UNKNOWN_COLLECTOR'],
    ]);
    // Same session key, same redacted partition, which the normalizer writes through to the same
    // normalized partition: the fine event came after both refusals.
    expect(new Set(dead.map(({ value }) => value.source.partition))).toEqual(
      new Set([normalized[0]!.partition]),
    );
  });
});

describe('schema evolution', () => {
  it('reads v1 records after the v2 schema exists, and starts the chain after them', async () => {
    const legacy = await extraTenant('legacy');
    const topic = tenantTopic(legacy.slug, 'normalized');
    // Records as a v1 normalizer wrote them, under the v1 schema in the registry, one per partition.
    await codec.register(['normalized-event.v1', 'normalized-event.v2']);
    expect(codec.schemaId('normalized-event.v1')).not.toBe(codec.schemaId('normalized-event.v2'));
    const envelope = unsigned(legacy.ref, 'evt_legacy');
    const {
      derived_risk_classification: derived,
      schema_version: _version,
      ...body
    } = normalize(
      {
        schema_version: 'aispm.redacted_envelope.v1',
        envelope,
        report: { redactor: 'aispm-redactor-v1', counts: {}, pointers: [] },
        source: { topic: tenantTopic(legacy.slug, 'raw'), partition: 0, offset: '0' },
        received_ms: Date.now(),
        content_hash: 'c',
      },
      legacy.slug,
      Date.now(),
    );
    const producer = kafka.producer();
    await producer.connect();
    const admin = kafka.admin();
    await admin.connect();
    const partitions = (await committedRanges(admin, topic)).map(({ partition }) => partition);
    await admin.disconnect();
    for (const partition of partitions) {
      const v1: NormalizedEventV1 = {
        ...body,
        schema_version: 'aispm.normalized_event.v1',
        event_id: `evt_legacy_${partition}`,
        idempotency_key: `evt_legacy_${partition}`,
      };
      await producer.send({
        topic,
        acks: -1,
        messages: [{ partition, key: v1.session_id, value: await codec.encode('normalized-event.v1', v1) }],
      });
    }
    await producer.disconnect();
    const sent = await postToGateway(pipeline.gatewayUrl, '/enterprise/aispm/events', legacy.key, envelope);
    expect(sent.status).toBe(202);

    const ch = clickhouse();
    try {
      const rows = await eventually('every row in ClickHouse', async () => {
        const found = await ch.query<{
          event_id: string;
          schema_version: string;
          derived_risk_classification: string;
          prev_hash: string;
          record_hash: string;
        }>(
          sql`SELECT event_id, schema_version, derived_risk_classification, prev_hash, record_hash FROM ${name(pipeline.database)}.events WHERE tenant = ${legacy.slug} ORDER BY event_id`,
        );
        return found.length > partitions.length ? found : undefined;
      });
      // The reader upcast the v1 records: a derived risk, and no claim of a chain.
      expect(rows.find((row) => row.event_id === 'evt_legacy_0')).toEqual({
        event_id: 'evt_legacy_0',
        schema_version: 'aispm.normalized_event.v2',
        derived_risk_classification: derived,
        prev_hash: '',
        record_hash: '',
      });
      // The first v2 record links to the genesis hash, since the v1 record before it has no hash.
      expect(rows.find((row) => row.event_id === 'evt_legacy')).toMatchObject({
        schema_version: 'aispm.normalized_event.v2',
        prev_hash: '0'.repeat(64),
      });
    } finally {
      await ch.close();
    }
    const result = verify(legacy.slug);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(
      /the chain holds from offset 1 to 1 \(1 records\), after 1 record\(s\) written before the chain/,
    );
  });
});

describe('the normalizer under SIGKILL', () => {
  it('writes each of 10,000 events exactly once, in one unbroken chain per partition', async () => {
    const normalizer = pipeline.processes.get('normalizer')!;
    let sent = 0;
    // Half the stream, then kill the normalizer while it is working through it.
    for (; sent < TOTAL / 2; sent += BATCH) await send(sent, BATCH);
    await eventually('the normalizer to be mid-stream', async () =>
      (await normalizedOffsets()) > 500 ? true : undefined,
    );
    normalizer.kill('SIGKILL');
    await new Promise((resolve) => normalizer.once('exit', resolve));
    const killedAt = await normalizedOffsets();
    for (; sent < TOTAL; sent += BATCH) await send(sent, BATCH);

    const port = await freePort();
    const restarted = spawnService('normalizer', { ...pipeline.env, AISPM_OPS_PORT: String(port) }, port);
    try {
      await awaitReady('normalizer', restarted.child, restarted.opsUrl);
      const records = await eventually(
        'all events in the normalized topic',
        async () => {
          const found = await normalizedRecords();
          // Distinct ids: a duplicate must not pass for an event still on its way.
          return new Set(found.map((record) => record.event.event_id)).size >= TOTAL ? found : undefined;
        },
        600_000,
      );
      expect(killedAt).toBeLessThan(TOTAL * 2);
      const ids = records.map((record) => record.event.event_id);
      expect(new Set(ids).size).toBe(TOTAL);
      expect(ids).toHaveLength(TOTAL);
      const verdicts = verifyEventChains(records);
      expect(verdicts.every((verdict) => verdict.ok)).toBe(true);
      expect(verdicts.reduce((sum, verdict) => sum + (verdict.ok ? verdict.links : 0), 0)).toBe(TOTAL);
      for (const verdict of verdicts) {
        // The chain of each partition starts at the genesis hash: nothing before it was lost.
        const first = records
          .filter((record) => record.partition === verdict.partition)
          .sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)))[0]!;
        expect(first.event.prev_hash).toBe('0'.repeat(64));
      }

      const ch = clickhouse();
      try {
        await eventually(
          'every event in ClickHouse',
          async () => {
            const [row] = await ch.query<{ n: string }>(
              sql`SELECT uniqExact(event_id) AS n FROM ${name(pipeline.database)}.events WHERE tenant = ${pipeline.tenant}`,
            );
            return Number(row!.n) >= TOTAL ? true : undefined;
          },
          300_000,
        );
        const holds = verify();
        expect(holds.code).toBe(0);
        expect(holds.out).toMatch(/clickhouse partition \d+: the chain holds from offset \d+ to \d+/);
        expect(holds.out).toMatch(/normalized partition \d+: the chain holds from offset 0 to \d+/);

        // Change one stored row the way someone with write access to ClickHouse could.
        const tampered = 'evt_eos_4242';
        const [target] = await ch.query<{ chain_partition: number; chain_offset: string }>(
          sql`SELECT chain_partition, chain_offset FROM ${name(pipeline.database)}.events WHERE tenant = ${pipeline.tenant} AND event_id = ${tampered}`,
        );
        await ch.command(
          sql`ALTER TABLE ${name(pipeline.database)}.events UPDATE decision = 'allow' WHERE tenant = ${pipeline.tenant} AND event_id = ${tampered}`,
        );
        await eventually('the mutation to finish', async () => {
          const [row] = await ch.query<{ decision: string }>(
            sql`SELECT decision FROM ${name(pipeline.database)}.events WHERE tenant = ${pipeline.tenant} AND event_id = ${tampered}`,
          );
          return row?.decision === 'allow' ? true : undefined;
        });
        const broken = verify();
        expect(broken.code).toBe(1);
        expect(broken.out).toContain(
          `clickhouse partition ${target!.chain_partition}: broken at offset ${target!.chain_offset}: record_hash does not match the record`,
        );
        // The topic itself is untouched.
        expect(broken.out).toMatch(/normalized partition \d+: the chain holds/);
      } finally {
        await ch.close();
      }
    } finally {
      restarted.child.kill('SIGTERM');
      await new Promise((resolve) => restarted.child.once('exit', resolve));
    }
  });
});
