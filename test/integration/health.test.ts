/**
 * Ingestion-health evidence against the real servers (DESIGN §13): each condition is forced — a
 * rejection, a dead letter, a stale collector, a ClickHouse outage — and seen in
 * `GET /enterprise/aispm/ingestion/health` and in the `health_evidence` table. The pipeline runs on
 * a ClickHouse of this suite's own (own data dir and ports), so stopping it disturbs no other suite.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClickHouse } from '@aispm/clickhouse';
import { Kafka, logLevel } from 'kafkajs';
import { newEventOf } from '../support/fixtures';
import {
  eventually,
  freePort,
  KAFKA_BROKERS,
  postToGateway,
  REPO,
  SERVICES,
  startPipeline,
  type Pipeline,
  type ServiceName,
} from '../support/platform';

jest.setTimeout(300_000);

const EVENTS = '/enterprise/aispm/events';
const HEALTH = '/enterprise/aispm/ingestion/health';

/** This suite's ClickHouse: `infra.sh` with a data dir and ports of its own. */
class OwnClickHouse {
  readonly dataDir = mkdtempSync(path.join(os.tmpdir(), 'aispm-health-ch-'));
  private env: NodeJS.ProcessEnv = {};
  url = '';

  async init(): Promise<void> {
    const [http, tcp] = [await freePort(), await freePort()];
    this.url = `http://127.0.0.1:${http}`;
    this.env = {
      ...process.env,
      AISPM_DATA_DIR: this.dataDir,
      CLICKHOUSE_HTTP_PORT: String(http),
      CLICKHOUSE_TCP_PORT: String(tcp),
      CLICKHOUSE_URL: this.url,
    };
  }

  infra(action: 'start' | 'stop'): void {
    // Only ever this suite's instance: its pid file lives in its own data dir.
    if (this.env.AISPM_DATA_DIR !== this.dataDir) throw new Error('not this suite’s ClickHouse');
    execFileSync('bash', [path.join(REPO, 'deploy/local/infra.sh'), action, 'clickhouse'], {
      env: this.env,
      stdio: 'pipe',
    });
  }

  client(): ClickHouse {
    return new ClickHouse({ url: this.url, username: 'default', password: '' });
  }
}

type Health = {
  status: string;
  stages: { service: string; lag: number }[] | null;
  rejections: { total: number; by_reason: Record<string, number> };
  retries: { total: number; by_operation: Record<string, number> };
  dlq: { depth: number | null; added: number; by_code: Record<string, number> };
  storage: { status: string; failures: number };
  freshness: { watermark_ms: number | null; caught_up: boolean };
  collectors: { total: number; stale: { collector_id: string; last_seen_ms: number | null }[] };
};

const clickhouse = new OwnClickHouse();
let pipeline: Pipeline;
let viewerKey: string;

beforeAll(async () => {
  await clickhouse.init();
  clickhouse.infra('start');
  pipeline = await startPipeline({
    CLICKHOUSE_URL: clickhouse.url,
    AISPM_HEALTH_INTERVAL_MS: '500',
  });
  const reader = await pipeline.admin('POST', '/readers', { tenant: pipeline.tenant, role: 'viewer' });
  viewerKey = String(reader.body.api_key);
});

afterAll(async () => {
  await pipeline?.stop();
  clickhouse.infra('stop');
  rmSync(clickhouse.dataDir, { recursive: true, force: true });
});

const envelope = () => newEventOf(pipeline.tenantRef);

async function send(body: object, key = pipeline.apiKey, secret = pipeline.signingSecret) {
  return postToGateway(pipeline.gatewayUrl, EVENTS, key, body, { secret });
}

async function getHealth(key = viewerKey, query = ''): Promise<{ status: number; body: Health }> {
  const response = await fetch(`${pipeline.apiUrl}${HEALTH}${query}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return { status: response.status, body: (await response.json()) as Health };
}

/** Polls the health document until `accept` holds for it. */
async function healthWhere(what: string, accept: (health: Health) => boolean, timeoutMs = 60_000) {
  return eventually(
    what,
    async () => {
      const { body } = await getHealth();
      return accept(body) ? body : undefined;
    },
    timeoutMs,
  );
}

const lagOf = (health: Health, service: string) => health.stages?.find((s) => s.service === service)?.lag;

describe('GET /enterprise/aispm/ingestion/health', () => {
  it('answers readers of the tenant and operators naming it, and no one else', async () => {
    expect((await getHealth()).status).toBe(200);
    expect((await getHealth(pipeline.operatorKey, `?tenant=${pipeline.tenant}`)).status).toBe(200);
    expect((await getHealth(pipeline.operatorKey)).status).toBe(400);
    expect((await getHealth(pipeline.apiKey)).status).toBe(403);
    expect((await getHealth(viewerKey, '?tenant=some-other-tenant')).status).toBe(403);
  });

  it('shows a caught-up pipeline with working storage, and a watermark past an accepted event', async () => {
    const sentAt = Date.now();
    expect((await send(envelope())).status).toBe(202);
    const health = await healthWhere(
      'the event to be projected',
      (h) => h.storage.status === 'ok' && h.freshness.caught_up && (h.freshness.watermark_ms ?? 0) > sentAt,
    );
    expect(health.stages?.map((s) => [s.service, s.lag])).toEqual([
      ['redactor', 0],
      ['normalizer', 0],
      ['projector', 0],
    ]);
  });

  it('is backed by the Prometheus metrics of every service: lag per partition, latency, requests by tenant', async () => {
    const scrape = async (service: ServiceName) =>
      (await fetch(`${pipeline.opsUrls.get(service)}/metrics`)).text();
    for (const service of SERVICES) {
      const text = await scrape(service);
      expect([service, text]).toEqual([
        service,
        expect.stringContaining('# HELP aispm_consumer_lag_messages '),
      ]);
    }
    const t = pipeline.tenant;
    // The gauge is set each health interval, so it may trail the live lag by one interval.
    const drained = (text: string) => {
      const lags = [
        ...text.matchAll(
          new RegExp(
            `aispm_consumer_lag_messages\\{group="[^"]+-projector",topic="aispm\\.${t}\\.normalized",partition="\\d+"[^}]*\\} (\\d+)\n`,
            'g',
          ),
        ),
      ];
      return lags.length > 0 && lags.every((lag) => lag[1] === '0');
    };
    const projector = await eventually('the lag gauge to drain', async () => {
      const text = await scrape('projector');
      return drained(text) ? text : undefined;
    });
    // Label order differs between metric types (default labels first in histograms), so each
    // label is matched on its own.
    const series = (name: string, labels: string[], value: string) =>
      new RegExp(`${name}\\{${labels.map((l) => `(?=[^}]*${l})`).join('')}[^}]*\\} ${value}`);
    expect(projector).toMatch(series('aispm_end_to_end_latency_ms_count', [`tenant="${t}"`], '[1-9]'));
    expect(projector).toMatch(series('aispm_storage_up', ['store="clickhouse"'], '1'));
    expect(await scrape('ingest-gateway')).toMatch(
      series(
        'aispm_ingest_requests_total',
        [`tenant="${t}"`, 'route="/enterprise/aispm/events"', 'status="202"'],
        '[1-9]',
      ),
    );
  });

  it('reports rejections by reason, and stores them as evidence in ClickHouse', async () => {
    const bad = envelope() as Partial<ReturnType<typeof envelope>>;
    delete bad.event;
    const answer = await send(bad);
    expect([answer.status, answer.body.code]).toEqual([400, 'GW_SCHEMA_INVALID']);
    const health = await healthWhere(
      'the rejection',
      (h) => (h.rejections.by_reason.GW_SCHEMA_INVALID ?? 0) >= 1,
    );
    expect(health.rejections.total).toBeGreaterThanOrEqual(1);
    const ch = clickhouse.client();
    try {
      await eventually('the rejection in health_evidence', async () => {
        const rows = await ch.query<{ total: number }>(
          `SELECT sum(value) AS total FROM ${pipeline.database}.health_evidence FINAL ` +
            `WHERE tenant = '${pipeline.tenant}' AND metric = 'rejected.GW_SCHEMA_INVALID'`,
        );
        return Number(rows[0]?.total) >= 1 ? true : undefined;
      });
    } finally {
      await ch.close();
    }
  });

  it('reports a dead letter: the DLQ depth and its code', async () => {
    const kafka = new Kafka({
      clientId: 'health-test',
      brokers: KAFKA_BROKERS.split(','),
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    // Not an encrypted raw value (nor the wire format): the redactor refuses it to the DLQ.
    await producer.send({
      topic: `aispm.${pipeline.tenant}.raw`,
      acks: -1,
      messages: [{ key: 'poison', value: Buffer.from('not an envelope') }],
    });
    await producer.disconnect();
    const health = await healthWhere('the dead letter', (h) => (h.dlq.depth ?? 0) >= 1 && h.dlq.added >= 1);
    expect(health.dlq.by_code).toEqual({ RAW_NOT_ENCRYPTED: 1 });
    expect(health.status).toBe('degraded');
  });

  it('lists a collector not seen for longer than its expected interval as stale', async () => {
    const created = await pipeline.admin('POST', '/collectors', {
      tenant: pipeline.tenant,
      require_signature: true,
      expected_interval_s: 1,
    });
    const id = String(created.body.collector_id);
    expect(
      (await send(envelope(), String(created.body.api_key), String(created.body.signing_secret))).status,
    ).toBe(202);
    const health = await healthWhere('the collector to go stale', (h) =>
      h.collectors.stale.some((s) => s.collector_id === id),
    );
    expect(health.collectors.stale.find((s) => s.collector_id === id)!.last_seen_ms).toEqual(
      expect.any(Number),
    );
    // The suite's own collector keeps the default interval (24 h) and is not stale.
    expect(health.collectors.stale.map((s) => s.collector_id)).not.toContain(pipeline.collectorId);
  });

  it('reports a ClickHouse outage as failing storage with growing lag, and recovers after it', async () => {
    clickhouse.infra('stop');
    try {
      expect((await send(envelope())).status).toBe(202);
      // Down until the projector has tried to write the event and been refused: its write waits
      // for a fetch and a flush interval, and the ping alone can report the outage first.
      const down = await healthWhere(
        'the outage to show',
        (h) =>
          h.storage.status === 'failing' &&
          (lagOf(h, 'projector') ?? 0) >= 1 &&
          (h.retries.by_operation.projector_batch ?? 0) >= 1,
      );
      expect(down.status).toBe('degraded');
      expect(down.storage.failures).toBeGreaterThanOrEqual(1);
      expect(down.freshness.caught_up).toBe(false);
    } finally {
      clickhouse.infra('start');
    }
    const back = await healthWhere(
      'the projector to catch up',
      (h) => h.storage.status === 'ok' && lagOf(h, 'projector') === 0,
      180_000,
    );
    expect(back.retries.by_operation.projector_batch).toBeGreaterThanOrEqual(1);
  });
});
