/**
 * The normalizer's exactly-once processing and integrity chain against the real servers: 10,000
 * events flow through the pipeline while the normalizer is SIGKILLed and restarted; the
 * normalized topic (read_committed) then holds each event exactly once and its chain verifies
 * with no gap and no fork. `aispm verify` agrees over the topic and ClickHouse, and reports a
 * ClickHouse row changed behind its back.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { identifier, sql } from '@aispm/clickhouse';
import { tenantTopic, type NormalizedEvent } from '@aispm/contracts';
import { committedRanges, readCommitted, StageCodec } from '@aispm/kafka';
import { verifyEventChains, type StoredRecord } from '@aispm/normalization';
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

/** Every committed record of the tenant's normalized topic. */
async function normalizedRecords(): Promise<StoredRecord[]> {
  const topic = tenantTopic(pipeline.tenant, 'normalized');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ranges = await committedRanges(admin, topic);
    const records: StoredRecord[] = [];
    await readCommitted(
      kafka,
      topic,
      ranges.map(({ partition, low, end }) => ({ partition, from: low, to: end })),
      async (partition, message) => {
        records.push({
          partition,
          offset: message.offset,
          event: await codec.decode<NormalizedEvent>(message.value),
        });
      },
    );
    return records;
  } finally {
    await admin.disconnect();
  }
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
function verify(): { code: number; out: string } {
  try {
    const out = execFileSync(
      process.execPath,
      [path.join(REPO, 'libs/cli/bin/aispm.js'), 'verify', '--tenant', pipeline.tenant],
      { env: pipeline.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return { code: 0, out };
  } catch (error) {
    const failed = error as { status: number; stdout: string; stderr: string };
    return { code: failed.status, out: `${failed.stdout}${failed.stderr}` };
  }
}

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
          return found.length >= TOTAL ? found : undefined;
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
              `SELECT uniqExact(event_id) AS n FROM ${identifier(pipeline.database)}.events WHERE ` +
                sql`tenant = ${pipeline.tenant}`,
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
          `SELECT chain_partition, chain_offset FROM ${identifier(pipeline.database)}.events WHERE ` +
            sql`tenant = ${pipeline.tenant} AND event_id = ${tampered}`,
        );
        await ch.command(
          `ALTER TABLE ${identifier(pipeline.database)}.events UPDATE decision = 'allow' WHERE ` +
            sql`tenant = ${pipeline.tenant} AND event_id = ${tampered}`,
        );
        await eventually('the mutation to finish', async () => {
          const [row] = await ch.query<{ decision: string }>(
            `SELECT decision FROM ${identifier(pipeline.database)}.events WHERE ` +
              sql`tenant = ${pipeline.tenant} AND event_id = ${tampered}`,
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
