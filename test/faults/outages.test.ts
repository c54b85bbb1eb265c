/**
 * Outages (DESIGN §15), each on a server of the suite's own (deploy/local/infra.sh with another
 * data dir and ports), never on the shared ones:
 * - Kafka stops under load: the gateway answers 503 with Retry-After, its readiness goes false,
 *   it acknowledges nothing it has not stored, and ingestion resumes after Kafka returns; so do
 *   the readers of shared topics KafkaJS may give up on while Kafka is away: the API's health
 *   view, the projector's health evidence sink and its audit chain writer.
 * - ClickHouse stops under load: the projector stays up and retries while its lag grows (read
 *   from Kafka: its committed offsets stop), the health endpoint shows the failing storage and
 *   the lag, and after ClickHouse returns the projector catches up with nothing lost.
 */
import { tenantTopic } from '@aispm/contracts';
import { stageGroupId } from '@aispm/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { name, sql, type Sql } from '@aispm/clickhouse';
import { clickhouse, eventually, startPipeline, type Pipeline } from '../support/platform';
import { PrivateInfra } from '../support/private-infra';
import { acknowledgements, EventStream, settle } from './support/load';
import { Proof } from './support/proof';

jest.setTimeout(900_000);

const EVENTS = Number(process.env.AISPM_FAULTS_OUTAGE_EVENTS ?? 300);
const proof = new Proof('outages');

afterAll(() => proof.write());

async function status(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(5000) })).status;
  } catch {
    return 0;
  }
}

describe('Kafka outage', () => {
  let infra: PrivateInfra;
  let pipeline: Pipeline;

  beforeAll(async () => {
    infra = await PrivateInfra.start(['kafka']);
    pipeline = await startPipeline({ KAFKA_BROKERS: infra.kafkaBrokers, AISPM_HEALTH_INTERVAL_MS: '1000' });
  });

  afterAll(async () => {
    await pipeline?.stop().catch(() => undefined);
    await infra?.destroy();
  });

  it('answers 503 with Retry-After, turns unready, loses nothing, and resumes after Kafka returns', async () => {
    const viewer = await pipeline.admin('POST', '/readers', { tenant: pipeline.tenant, role: 'viewer' });
    const stream = new EventStream(pipeline, { count: EVENTS, concurrency: 4, giveUpMs: 600_000 });
    const sending = stream.run();
    await acknowledgements(stream, sending, Math.floor(EVENTS / 4));
    const fault = proof.injected('Kafka stopped under load');
    await infra.infra('stop', 'kafka');
    await eventually(
      'the gateway to turn unready',
      async () => ((await status(`${pipeline.gatewayUrl}/readyz`)) === 503 ? true : undefined),
      120_000,
    );
    const refused = () => stream.events.flatMap((e) => e.refusals).filter((r) => r.startsWith('503 '));
    await eventually(
      'a 503 while Kafka is down',
      async () => (refused().length > 0 ? true : undefined),
      120_000,
    );
    const acknowledgedWhileDown = stream.acknowledged;
    // The dashboard needs the log's offsets for its freshness watermark: a 503 too, not a 500.
    const dashboard = await fetch(`${pipeline.apiUrl}/enterprise/aispm/dashboard`, {
      headers: { authorization: `Bearer ${String(viewer.body.api_key)}` },
    });
    const dashboardProblem = (await dashboard.json()) as { code?: string };
    await infra.infra('start', 'kafka');
    const returnedMs = Date.now();
    await eventually(
      'the gateway to be ready again',
      async () => ((await status(`${pipeline.gatewayUrl}/readyz`)) === 200 ? true : undefined),
      180_000,
    );
    await sending;
    const tally = await settle(pipeline, stream.events);
    proof.events(tally);

    expect(refused().every((r) => /^503 GW_KAFKA_UNAVAILABLE retry-after=[1-9]\d*$/.test(r))).toBe(true);
    expect([dashboard.status, dashboardProblem.code]).toEqual([503, 'GW_KAFKA_UNAVAILABLE']);
    expect(stream.acknowledged).toBeGreaterThan(acknowledgedWhileDown);
    expect(tally).toMatchObject({ sent: EVENTS, acknowledged: EVENTS, lost: 0, duplicated: 0, unknown: 0 });
    await everyReaderFollowsSince(returnedMs);
    proof.survived(fault);
  });

  /** The API's health view, the stored evidence and the audit chain all move past `sinceMs`. */
  async function everyReaderFollowsSince(sinceMs: number): Promise<void> {
    await eventually('the health endpoint to show a projector report from after the outage', async () => {
      const response = await fetch(
        `${pipeline.apiUrl}/enterprise/aispm/ingestion/health?tenant=${pipeline.tenant}`,
        { headers: { authorization: `Bearer ${pipeline.operatorKey}` } },
      );
      if (!response.ok) return undefined;
      const health = (await response.json()) as { storage: { reported_ms: number | null } };
      return (health.storage.reported_ms ?? 0) > sinceMs ? true : undefined;
    });
    const created = await pipeline.admin('POST', '/collectors', { tenant: pipeline.tenant });
    expect(created.status).toBe(201);
    const ch = clickhouse();
    try {
      const latest = async (query: Sql) =>
        Number((await ch.query<{ latest: string }>(query))[0]?.latest ?? 0);
      await eventually('health evidence observed after the outage stored', async () =>
        (await latest(
          sql`SELECT max(observed_ms) AS latest FROM ${name(pipeline.database)}.health_evidence WHERE tenant = ${pipeline.tenant}`,
        )) > sinceMs
          ? true
          : undefined,
      );
      await eventually('an audit record written after the outage chained', async () =>
        (await latest(sql`SELECT max(at_ms) AS latest FROM ${name(pipeline.database)}.audit_log`)) > sinceMs
          ? true
          : undefined,
      );
    } finally {
      await ch.close();
    }
  }
});

describe('ClickHouse outage', () => {
  let infra: PrivateInfra;
  let pipeline: Pipeline;

  beforeAll(async () => {
    infra = await PrivateInfra.start(['clickhouse']);
    pipeline = await startPipeline({
      CLICKHOUSE_URL: infra.clickhouseUrl,
      AISPM_HEALTH_INTERVAL_MS: '1000',
      AISPM_STALL_MS: '3000',
    });
  });

  afterAll(async () => {
    await pipeline?.stop().catch(() => undefined);
    await infra?.destroy();
  });

  /**
   * Offsets of the tenant's normalized topic past the projector's committed ones. TRICKY: the
   * normalizer writes in transactions, and each commit marker takes an offset no consumer ever
   * commits past, so a projector that is caught up still shows up to one per partition.
   */
  async function projectorLag(): Promise<{ lag: number; partitions: number }> {
    const admin = new Kafka({
      clientId: 'outage-lag',
      brokers: String(pipeline.env.KAFKA_BROKERS).split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const topic = tenantTopic(pipeline.tenant, 'normalized');
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({
        groupId: stageGroupId(String(pipeline.env.AISPM_GROUP_PREFIX), 'projector'),
        topics: [topic],
      });
      const lag = ends.reduce((sum, end) => {
        const done = committed!.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
        return sum + Number(end.high) - Math.max(0, Number(done));
      }, 0);
      return { lag, partitions: ends.length };
    } finally {
      await admin.disconnect();
    }
  }

  it('keeps the projector up while ClickHouse is down, then catches up with nothing lost', async () => {
    // Half before the outage, half while ClickHouse is down. TRICKY: a single stream finished
    // while ClickHouse was still shutting down, so nothing was left to fall behind on.
    const before = new EventStream(pipeline, { count: EVENTS / 2, concurrency: 4 });
    await before.run();
    const fault = proof.injected('ClickHouse stopped under load');
    await infra.infra('stop', 'clickhouse');
    const { lag: lagAtStop, partitions } = await projectorLag();
    // Ingestion does not need ClickHouse: these are acknowledged, and the projector falls behind.
    const stream = new EventStream(pipeline, { count: EVENTS / 2, concurrency: 4 });
    const sending = stream.run();
    // Events keep coming and nothing is committed: the lag grows past what markers explain.
    const lagWhileDown = await eventually('the projector to fall behind', async () => {
      const { lag } = await projectorLag();
      return lag > lagAtStop + partitions + 10 ? lag : undefined;
    });
    const projector = pipeline.processes.get('projector')!;
    expect(projector.exitCode).toBeNull();
    expect(await status(`${pipeline.opsUrls.get('projector')}/healthz`)).toBe(200);
    await eventually('the health endpoint to show the failing storage, the lag and the stall', async () => {
      const response = await fetch(
        `${pipeline.apiUrl}/enterprise/aispm/ingestion/health?tenant=${pipeline.tenant}`,
        { headers: { authorization: `Bearer ${pipeline.operatorKey}` } },
      );
      if (!response.ok) return undefined;
      const health = (await response.json()) as {
        status: string;
        stalled: { service: string }[];
        storage: { status: string };
        stages: { service: string; lag: number }[] | null;
      };
      const lag = health.stages?.find((s) => s.service === 'projector')?.lag ?? 0;
      return health.storage.status === 'failing' &&
        lag > 0 &&
        health.status === 'stalled' &&
        health.stalled.some((s) => s.service === 'projector')
        ? true
        : undefined;
    });
    // Ready means the work is moving: a projector that cannot store is up, but not ready.
    const readiness = await fetch(`${pipeline.opsUrls.get('projector')}/readyz`);
    expect(readiness.status).toBe(503);
    expect(((await readiness.json()) as { reason?: string }).reason).toMatch(/^stalled/);
    await infra.infra('start', 'clickhouse');
    await sending;
    const tally = await settle(pipeline, [...before.events, ...stream.events], {
      clickhouseUrl: infra.clickhouseUrl,
    });
    proof.events(tally);

    expect(lagWhileDown).toBeGreaterThan(lagAtStop);
    expect(projector.exitCode).toBeNull();
    expect(tally).toMatchObject({
      sent: EVENTS,
      acknowledged: EVENTS,
      projected: EVENTS,
      lost: 0,
      duplicated: 0,
    });
    await eventually('the projector to commit what it projected', async () => {
      const { lag } = await projectorLag();
      return lag <= partitions ? true : undefined;
    });
    await eventually('the projector to be ready again', async () =>
      (await status(`${pipeline.opsUrls.get('projector')}/readyz`)) === 200 ? true : undefined,
    );
    proof.survived(fault);
  });
});
