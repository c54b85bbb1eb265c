/**
 * Direct dashboard access (DESIGN §9): `aispm reader create` yields a ClickHouse user per tenant
 * reader, and the real ClickHouse server enforces that it sees its own tenant's rows of the shared
 * tables and nothing else. Two tenants' users query each other's data every way we know of, and
 * watch the system tables while the other tenant's user and the platform query; any row, name or
 * filter value of the other tenant fails the test. The suite brings its own ClickHouse: the local
 * server restarts to read a change of users.
 */
import { Kafka, logLevel } from 'kafkajs';
import { hashSecret } from '@aispm/auth';
import { ClickHouse } from '@aispm/clickhouse';
import { SHARED_TOPICS } from '@aispm/contracts';
import type { Envelope } from '@aispm/contracts';
import { PrivateInfra } from '../support/private-infra';
import {
  cli,
  clickhouseLogin,
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
  let clickhouseUrl: string;
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
    return new ClickHouse({ url: clickhouseUrl, username: credentials.clickhouse.user, password });
  }

  /** Runs `statement` as a user, retrying while the server restarts to read a change of users. */
  async function queryAs<T>(credentials: Credentials, statement: string): Promise<T[]> {
    const ch = as(credentials);
    try {
      const outcome = await eventually(`${credentials.clickhouse.user}: ${statement}`, async () =>
        ch.query<T>(statement).then(
          (rows) => ({ rows }),
          (error: unknown) =>
            /ECONNREFUSED|ECONNRESET|socket hang up/.test(String(error)) ? undefined : { error },
        ),
      );
      if ('error' in outcome) throw outcome.error;
      return outcome.rows;
    } finally {
      await ch.close();
    }
  }

  beforeAll(async () => {
    const own = await PrivateInfra.start(['clickhouse']);
    clickhouseUrl = own.clickhouseUrl;
    pipeline = await startPipeline(own.clickhouseEnv);
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
    // Rows that exist before the dashboard user does are visible to it too.
    await send(tenants[0]!, 4, 'early');
    await send(tenants[1]!, 3, 'early');
    for (const tenant of tenants) {
      users.push(
        cli(['reader', 'create', '--tenant', tenant.slug, '--role', 'viewer'], {
          ...pipeline.env,
          AISPM_ADMIN_KEY: pipeline.operatorKey,
        }) as unknown as Credentials,
      );
    }
    await send(tenants[0]!, 2, 'late');
    await send(tenants[1]!, 5, 'late');
    for (const credentials of users) {
      await eventually(`${credentials.clickhouse.user} to be provisioned`, async () =>
        (await clickhouseLogin(
          clickhouseUrl,
          credentials.clickhouse.user,
          credentials.clickhouse.password,
        ).catch(() => undefined)) === 'in'
          ? true
          : undefined,
      );
    }
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('gives each tenant reader a ClickHouse user that sees exactly its tenant rows of the shared tables', async () => {
    const expected = [6, 8];
    for (const [index, credentials] of users.entries()) {
      const slug = tenants[index]!.slug;
      expect(credentials.clickhouse.database).toBe(pipeline.database);
      const rows = await eventually(`${slug}'s rows through its dashboard user`, async () => {
        const found = await queryAs<{ tenant: string; n: string }>(
          credentials,
          `SELECT tenant, count() AS n FROM ${pipeline.database}.events FINAL GROUP BY tenant`,
        );
        if (found.length === 1 && Number(found[0]!.n) === expected[index]) return found;
        throw new Error(`saw ${JSON.stringify(found)}`);
      });
      expect(rows.map((row) => [row.tenant, Number(row.n)])).toEqual([[slug, expected[index]]]);
      for (const table of ['event_lookup', 'health_evidence']) {
        const seen = await queryAs<{ tenant: string }>(
          credentials,
          `SELECT DISTINCT tenant FROM ${pipeline.database}.${table}`,
        );
        expect(seen.every((row) => row.tenant === slug)).toBe(true);
      }
      const other = tenants[1 - index]!.slug;
      const theirs = await queryAs<{ n: number }>(
        credentials,
        `SELECT count() AS n FROM ${pipeline.database}.events WHERE tenant = '${other}'`,
      );
      expect(theirs.map((row) => Number(row.n))).toEqual([0]);
      const databases = await queryAs<{ name: string }>(credentials, 'SELECT name FROM system.databases');
      expect(databases.map((d) => d.name)).toEqual([pipeline.database]);
    }
  });

  it('refuses the system tables, other tables, remote table functions, settings and writes', async () => {
    const refusals = [
      'SELECT query FROM system.processes',
      'SELECT partition FROM system.parts',
      'SELECT name FROM system.users',
      'SELECT * FROM system.row_policies',
      `SELECT count() FROM ${pipeline.database}.audit_log`,
      `SELECT count() FROM remote('127.0.0.1', ${pipeline.database}.events, 'default', '')`,
      `SELECT * FROM url('${clickhouseUrl}/?query=SELECT%201', TSV, 'x String')`,
      `SELECT count() FROM ${pipeline.database}.events SETTINGS readonly = 0`,
      `DROP TABLE ${pipeline.database}.events`,
      `INSERT INTO ${pipeline.database}.events (tenant) VALUES ('x')`,
    ];
    for (const [index, credentials] of users.entries()) {
      // merge() reads the granted tables under the same row policy.
      const merged = await queryAs<{ tenant: string }>(
        credentials,
        `SELECT DISTINCT tenant FROM merge('${pipeline.database}', '^(events|event_lookup)$')`,
      );
      expect(merged).toEqual([{ tenant: tenants[index]!.slug }]);
      for (const statement of refusals) {
        await expect(queryAs(credentials, statement)).rejects.toThrow(
          /Not enough privileges|ACCESS_DENIED|readonly|Cannot/,
        );
      }
    }
    const wrong = as(users[0]!, 'not-the-password');
    try {
      await expect(wrong.query('SELECT 1')).rejects.toThrow(/password|Authentication/i);
    } finally {
      await wrong.close();
    }
  });

  it("shows one tenant's user nothing of another tenant's queries in the system tables", async () => {
    const [mine, theirs] = users;
    const other = tenants[1]!.slug;
    const marker = `secret-repo-${uniqueSuffix()}`;
    // The other tenant's user and the platform itself run queries that name the other tenant and
    // a filter value, long enough to be caught running.
    const busy = [
      queryAs(
        theirs!,
        `SELECT count() FROM ${pipeline.database}.events WHERE repository != '${marker}' AND sleep(2) = 0`,
      ),
      (async () => {
        const ch = new ClickHouse({ url: clickhouseUrl, username: 'default', password: '' });
        try {
          await ch.query(
            `SELECT count() FROM ${pipeline.database}.events WHERE tenant = '${other}' AND repository != '${marker}' AND sleep(2) = 0`,
          );
        } finally {
          await ch.close();
        }
      })(),
    ];
    const seen: string[] = [];
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline) {
      for (const statement of [
        'SELECT query, user FROM system.processes',
        'SELECT name FROM system.databases',
      ]) {
        seen.push(
          await queryAs(mine!, statement).then(
            (rows) => JSON.stringify(rows),
            (error: unknown) => String(error),
          ),
        );
      }
    }
    await Promise.all(busy);
    expect(seen.length).toBeGreaterThan(0);
    for (const answer of seen) {
      expect(answer).not.toContain(marker);
      expect(answer).not.toContain(other);
      expect(answer).not.toContain(theirs!.clickhouse.user);
    }
  });

  it('keeps only the hash of the password on the control topic, and a revoked reader loses its user', async () => {
    const records = await controlRecords();
    const mine = records.filter((record) => record.includes(users[0]!.reader_id));
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.some((record) => record.includes(hashSecret(users[0]!.clickhouse.password)))).toBe(true);
    expect(records.some((record) => record.includes(users[0]!.clickhouse.password))).toBe(false);
    expect((await pipeline.admin('POST', `/readers/${users[0]!.reader_id}/revoke`)).status).toBe(200);
    await eventually('the revoked dashboard user to be refused', async () =>
      (await clickhouseLogin(clickhouseUrl, users[0]!.clickhouse.user, users[0]!.clickhouse.password).catch(
        () => undefined,
      )) === 'refused'
        ? true
        : undefined,
    );
    // The other tenant's user is untouched.
    expect(await queryAs(users[1]!, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
