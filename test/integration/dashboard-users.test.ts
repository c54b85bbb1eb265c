/**
 * Direct dashboard access (DESIGN §9): `aispm reader create` yields a ClickHouse user per tenant
 * reader, and the real ClickHouse server enforces that it sees its own tenant's rows and nothing
 * else. Two tenants' users query each other's data every way we know of; any row of the other
 * tenant, or any answer from another database, fails the test.
 */
import { Kafka, logLevel } from 'kafkajs';
import { hashSecret } from '@aispm/auth';
import { ClickHouse } from '@aispm/clickhouse';
import { SHARED_TOPICS } from '@aispm/contracts';
import type { Envelope } from '@aispm/contracts';
import {
  CLICKHOUSE_USERS_DIR,
  cli,
  CLICKHOUSE_URL,
  eventually,
  exampleEnvelope,
  KAFKA_BROKERS,
  postToGateway,
  startPipeline,
  uniqueSuffix,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(240_000);

interface Tenant {
  /** A short name for ids. */
  label: string;
  slug: string;
  tenantRef: string;
  apiKey: string;
  secret: string;
  sessions: string[];
}

interface Credentials {
  reader_id: string;
  clickhouse: { user: string; password: string; database: string };
}

function envelopes(tenant: Tenant, count: number, tag: string): Envelope[] {
  // Short, low-entropy ids: the redactor masks high-entropy strings, ids included.
  return Array.from({ length: count }, (_, i) => {
    const envelope = exampleEnvelope();
    envelope.tenant.tenant_ref = tenant.tenantRef;
    envelope.event.event_id = `evt_${tenant.label}_${tag}_${i}`;
    envelope.event.session_id = `sess_${tenant.label}_${i % 3}`;
    envelope.transport.idempotency_key = envelope.event.event_id;
    return envelope;
  });
}

/** Every record on the control topic, as text. */
async function controlRecords(): Promise<string[]> {
  const kafka = new Kafka({
    clientId: 'dashboard-test',
    brokers: KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(SHARED_TOPICS.control);
  await admin.disconnect();
  // Compaction leaves gaps in the offsets, but never removes a partition's last record.
  const last = new Map(
    ends.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high) - 1]),
  );
  const consumer = kafka.consumer({ groupId: `dashboard-test-${uniqueSuffix()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: SHARED_TOPICS.control, fromBeginning: true });
  const records: string[] = [];
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      records.push(message.value?.toString('utf8') ?? '');
      if (Number(message.offset) >= (last.get(partition) ?? Infinity)) last.delete(partition);
    },
  });
  await eventually('the whole control topic', async () => (last.size === 0 ? true : undefined));
  await consumer.disconnect();
  return records;
}

describe('dashboard users in ClickHouse', () => {
  let pipeline: Pipeline;
  const tenants: Tenant[] = [];
  const users: Credentials[] = [];

  async function send(tenant: Tenant, count: number, tag: string) {
    const response = await postToGateway(
      pipeline.gatewayUrl,
      '/enterprise/aispm/events/batch',
      tenant.apiKey,
      envelopes(tenant, count, tag),
      { secret: tenant.secret },
    );
    expect(response.status).toBe(202);
  }

  function as(credentials: Credentials, password = credentials.clickhouse.password): ClickHouse {
    return new ClickHouse({ url: CLICKHOUSE_URL, username: credentials.clickhouse.user, password });
  }

  beforeAll(async () => {
    pipeline = await startPipeline({ CLICKHOUSE_USERS_DIR });
    tenants.push({
      slug: pipeline.tenant,
      label: 'a',
      tenantRef: pipeline.tenantRef,
      apiKey: pipeline.apiKey,
      secret: pipeline.signingSecret,
      sessions: [],
    });
    const slug = `${pipeline.tenant}-${uniqueSuffix()}`;
    expect((await pipeline.admin('POST', '/tenants', { slug, tenant_ref: `tenant:${slug}` })).status).toBe(
      201,
    );
    const collector = await pipeline.admin('POST', '/collectors', { tenant: slug, require_signature: true });
    tenants.push({
      slug,
      label: 'b',
      tenantRef: `tenant:${slug}`,
      apiKey: String(collector.body.api_key),
      secret: String(collector.body.signing_secret),
      sessions: [],
    });
    // Rows that exist before the dashboard user does must reach its database too.
    await send(tenants[0]!, 4, 'early');
    await send(tenants[1]!, 3, 'early');
    for (const tenant of tenants) {
      users.push(
        cli(['reader', 'create', '--tenant', tenant.slug, '--role', 'viewer'], {
          ...pipeline.env,
          AISPM_URL: pipeline.gatewayUrl,
          AISPM_ADMIN_KEY: pipeline.operatorKey,
        }) as unknown as Credentials,
      );
    }
    await send(tenants[0]!, 2, 'late');
    await send(tenants[1]!, 5, 'late');
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('gives each tenant reader a ClickHouse user that sees exactly its tenant rows', async () => {
    const expected = [6, 8];
    for (const [index, credentials] of users.entries()) {
      expect(credentials.clickhouse.database).toMatch(/__t_/);
      const ch = as(credentials);
      try {
        const rows = await eventually(
          `${tenants[index]!.slug}'s rows through its dashboard user`,
          async () => {
            const found = await ch.query<{ tenant: string; n: string }>(
              `SELECT tenant, count() AS n FROM ${credentials.clickhouse.database}.events FINAL GROUP BY tenant`,
            );
            if (found.length === 1 && Number(found[0]!.n) === expected[index]) return found;
            // Seen so far, for the timeout's message.
            throw new Error(`saw ${JSON.stringify(found)}`);
          },
        );
        expect(rows).toEqual([{ tenant: tenants[index]!.slug, n: String(expected[index]) }]);
        const databases = await ch.query<{ name: string }>('SELECT name FROM system.databases ORDER BY name');
        expect(databases.map((d) => d.name)).toEqual([credentials.clickhouse.database, 'system']);
      } finally {
        await ch.close();
      }
    }
  });

  it("refuses every way into the other tenant's rows and the live tables", async () => {
    for (const [index, credentials] of users.entries()) {
      const other = users[1 - index]!;
      const ch = as(credentials);
      try {
        for (const statement of [
          `SELECT count() FROM ${other.clickhouse.database}.events`,
          `SELECT count() FROM ${pipeline.database}.events`,
          `SELECT count() FROM ${pipeline.database}.event_lookup`,
          `SELECT count() FROM remote('127.0.0.1', ${other.clickhouse.database}.events, 'default', '')`,
          `SELECT count() FROM merge('${other.clickhouse.database}', '^events$')`,
          `SELECT * FROM url('${CLICKHOUSE_URL}/?query=SELECT%201', TSV, 'x String')`,
          `SELECT count() FROM ${other.clickhouse.database}.events SETTINGS readonly = 0`,
          `DROP TABLE ${credentials.clickhouse.database}.events`,
          `INSERT INTO ${credentials.clickhouse.database}.events (tenant) VALUES ('x')`,
        ]) {
          await expect(ch.query(statement)).rejects.toThrow(/Access denied|readonly|forbidden|Cannot/);
        }
      } finally {
        await ch.close();
      }
    }
    const wrong = as(users[0]!, 'not-the-password');
    try {
      await expect(wrong.query('SELECT 1')).rejects.toThrow(/password|Authentication/i);
    } finally {
      await wrong.close();
    }
  });

  it('keeps only the hash of the password on the control topic, and a revoked reader loses its user', async () => {
    const records = await controlRecords();
    const mine = records.filter((record) => record.includes(users[0]!.reader_id));
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.some((record) => record.includes(hashSecret(users[0]!.clickhouse.password)))).toBe(true);
    expect(records.some((record) => record.includes(users[0]!.clickhouse.password))).toBe(false);
    expect((await pipeline.admin('POST', `/readers/${users[0]!.reader_id}/revoke`)).status).toBe(200);
    const ch = as(users[0]!);
    try {
      await eventually('the revoked dashboard user to stop working', async () => {
        try {
          await ch.query('SELECT 1');
          return undefined;
        } catch {
          return true;
        }
      });
    } finally {
      await ch.close();
    }
    // The other tenant's user is untouched.
    const still = as(users[1]!);
    try {
      expect(await still.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await still.close();
    }
  });
});
