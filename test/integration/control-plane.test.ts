/**
 * The control plane against the real servers (issue: tenant control plane and data governance):
 * runtime onboarding with no restart, revocation and rotation seen by two gateways, the admin
 * role matrix, retention and legal hold on topics and in ClickHouse, deletion, and that secrets
 * never reach the control topic in the clear.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { name, sql } from '@aispm/clickhouse';
import { SHARED_TOPICS } from '@aispm/contracts';
import { evidenceRows } from '@aispm/health';
import {
  cli,
  clickhouse,
  eventually,
  exampleEnvelope,
  KAFKA_BROKERS,
  postToGateway,
  startExtraGateway,
  startPipeline,
  stopProcess,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(240_000);

const kafka = new Kafka({
  clientId: 'control-plane-test',
  brokers: KAFKA_BROKERS.split(','),
  logLevel: logLevel.NOTHING,
});

let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline();
});

afterAll(async () => {
  await pipeline?.stop();
});

function envelopeFor(tenantRef: string, overrides: { occurred_at?: string } = {}) {
  const envelope = exampleEnvelope();
  envelope.tenant.tenant_ref = tenantRef;
  envelope.event.event_id = `evt_${randomBytes(6).toString('hex')}`;
  envelope.transport.idempotency_key = envelope.event.event_id;
  envelope.integrity.signature_required = false;
  if (overrides.occurred_at) envelope.event.occurred_at = overrides.occurred_at;
  return envelope;
}

async function post(gatewayUrl: string, key: string, body: object): Promise<number> {
  const response = await fetch(`${gatewayUrl}/enterprise/aispm/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Runs `use` with a ClickHouse client of its own, closed after. */
async function withClickHouse<T>(use: (ch: ReturnType<typeof clickhouse>) => Promise<T>): Promise<T> {
  const ch = clickhouse();
  try {
    return await use(ch);
  } finally {
    await ch.close();
  }
}

/** Stores a record of health evidence for `tenant` as the projector's sink would. */
async function storeEvidence(tenant: string, observedMs: number): Promise<void> {
  const record = {
    schema_version: 'aispm.health_evidence.v1' as const,
    service: 'ingest-gateway',
    instance: 'control-plane-test',
    tenant,
    observed_ms: observedMs,
    metrics: { accepted: 1 },
  };
  await withClickHouse((ch) =>
    ch.insert(`${pipeline.database}.health_evidence`, evidenceRows(record, Date.now())),
  );
}

/** A column of `tenant`'s rows in one table, in order. */
function tenantColumn(table: string, column: string, tenant: string): Promise<string[]> {
  return withClickHouse(async (ch) => {
    const rows = await ch.query<Record<string, string>>(
      sql`SELECT ${name(column)} AS value FROM ${name(pipeline.database)}.${name(table)} FINAL WHERE tenant = ${tenant} ORDER BY ${name(column)}`,
    );
    return rows.map((row) => String(row.value));
  });
}

/** When each of `tenant`'s stored health evidence rows was observed. */
async function evidenceTimes(tenant: string): Promise<number[]> {
  return (await tenantColumn('health_evidence', 'observed_ms', tenant)).map(Number);
}

function eventIds(tenant: string): Promise<string[]> {
  return tenantColumn('events', 'event_id', tenant);
}

async function topicRetention(topic: string): Promise<string | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: topic, configNames: ['retention.ms'] }],
    });
    return resources[0]?.configEntries.find((entry) => entry.configName === 'retention.ms')?.configValue;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits for a topic's retention.ms to read `expected`. The controller has committed the change
 * when the admin call returns; the broker that answers describeConfigs applies it a moment later.
 */
async function retentionBecomes(topic: string, expected: string): Promise<void> {
  await eventually(
    `retention.ms of ${topic} to be ${expected}`,
    async () => {
      const seen = await topicRetention(topic);
      if (seen !== expected) throw new Error(`it is ${String(seen)}`);
      return true;
    },
    30_000,
  );
}

async function retentionRuns(): Promise<number> {
  const text = await (await fetch(`${pipeline.opsUrls.get('projector')}/metrics`)).text();
  const match = /aispm_retention_runs_total\{[^}]*outcome="ok"[^}]*\} (\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

function cliEnv() {
  return { ...pipeline.env, AISPM_ADMIN_KEY: pipeline.operatorKey };
}

it('onboards a tenant at runtime through the CLI, and its events flow with no restart', async () => {
  const slug = `${pipeline.tenantPrefix}-late`;
  const tenant = cli(['tenant', 'create', slug, '--ref', `tenant:${slug}`], cliEnv());
  expect(tenant).toMatchObject({ slug, retention_days: 365, raw_retention_hours: 24 });
  expect(await topicRetention(`aispm.${slug}.raw`)).toBe(String(24 * 3600 * 1000));
  const collector = cli(['collector', 'create', '--tenant', slug, '--env', 'production'], cliEnv());
  const envelope = envelopeFor(`tenant:${slug}`);
  expect(await post(pipeline.gatewayUrl, String(collector.api_key), envelope)).toBe(202);
  await eventually('the late tenant’s event in ClickHouse', async () =>
    (await eventIds(slug)).includes(envelope.event.event_id) ? true : undefined,
  );
});

it('accepts a new key at once on two gateway instances, refuses a revoked one, and replaces a rotated one', async () => {
  const second = await startExtraGateway(pipeline, { AISPM_INSTANCE_ID: 'gateway-1' });
  try {
    const gateways = [pipeline.gatewayUrl, second.url];
    const { body: created } = await pipeline.admin('POST', '/collectors', { tenant: pipeline.tenant });
    const key = String(created.api_key);
    // The API answered once it had the record; a gateway that does not know the key yet reads
    // the control topic to its end before refusing it, so the key works the moment it is shown.
    for (const url of gateways) expect(await post(url, key, envelopeFor(pipeline.tenantRef))).toBe(202);

    const rotated = await pipeline.admin('POST', `/collectors/${String(created.collector_id)}/rotate`);
    const newKey = String(rotated.body.api_key);
    expect(newKey).not.toBe(key);
    for (const url of gateways) {
      await eventually(`the old key refused by ${url}`, async () =>
        (await post(url, key, envelopeFor(pipeline.tenantRef))) === 401 ? true : undefined,
      );
      expect(await post(url, newKey, envelopeFor(pipeline.tenantRef))).toBe(202);
    }

    const revoked = await pipeline.admin('POST', `/collectors/${String(created.collector_id)}/revoke`);
    expect(revoked).toEqual({ status: 200, body: { collector_id: created.collector_id, revoked: true } });
    for (const url of gateways) {
      await eventually(
        `the revoked key refused by ${url}`,
        async () => ((await post(url, newKey, envelopeFor(pipeline.tenantRef))) === 401 ? true : undefined),
        10_000,
      );
    }
  } finally {
    await stopProcess(second.child);
  }
});

describe('admin roles', () => {
  const other = () => `${pipeline.tenantPrefix}-other`;
  let keys: Record<string, string>;

  beforeAll(async () => {
    await pipeline.admin('POST', '/tenants', { slug: other(), tenant_ref: `tenant:${other()}` });
    const reader = async (tenant: string, role: string) =>
      String((await pipeline.admin('POST', '/readers', { tenant, role })).body.api_key);
    keys = {
      operator: pipeline.operatorKey,
      admin: await reader(pipeline.tenant, 'admin'),
      auditor: await reader(pipeline.tenant, 'auditor'),
      viewer: await reader(pipeline.tenant, 'viewer'),
      otherAdmin: await reader(other(), 'admin'),
      collector: pipeline.apiKey,
      unknown: `aispm_rk_${randomBytes(16).toString('hex')}`,
    };
  });

  // Each call touches the suite's own tenant; expected status per credential.
  const matrix: [string, string, () => object | undefined, Record<string, number>][] = [
    [
      'GET',
      '/tenants/:t',
      () => undefined,
      { operator: 200, admin: 200, auditor: 403, viewer: 403, otherAdmin: 403, collector: 403, unknown: 401 },
    ],
    [
      'POST',
      '/collectors',
      () => ({ tenant: pipeline.tenant }),
      { operator: 201, admin: 201, auditor: 403, viewer: 403, otherAdmin: 403, collector: 403, unknown: 401 },
    ],
    [
      'POST',
      '/readers',
      () => ({ tenant: pipeline.tenant, role: 'viewer' }),
      { operator: 201, admin: 201, auditor: 403, viewer: 403, otherAdmin: 403, collector: 403, unknown: 401 },
    ],
    [
      'PUT',
      '/tenants/:t/legal-hold',
      () => ({ reason: 'matrix' }),
      { operator: 200, admin: 200, auditor: 403, viewer: 403, otherAdmin: 403, collector: 403, unknown: 401 },
    ],
    [
      'DELETE',
      '/tenants/:t/legal-hold',
      () => ({ reason: 'matrix' }),
      { operator: 200, admin: 200, auditor: 403, viewer: 403, otherAdmin: 403, collector: 403, unknown: 401 },
    ],
    [
      'POST',
      '/tenants',
      () => ({
        slug: `${pipeline.tenantPrefix}-x${randomBytes(3).toString('hex')}`,
        tenant_ref: `tenant:${randomBytes(6).toString('hex')}`,
      }),
      { operator: 201, admin: 403, auditor: 403, viewer: 403, otherAdmin: 403, collector: 403, unknown: 401 },
    ],
    [
      'DELETE',
      '/tenants/:t',
      () => undefined,
      { admin: 403, auditor: 403, viewer: 403, otherAdmin: 403, collector: 403, unknown: 401 },
    ],
  ];

  it.each(matrix)('%s %s', async (method, route, body, expected) => {
    for (const [who, status] of Object.entries(expected)) {
      const answer = await pipeline.admin(method, route.replace(':t', pipeline.tenant), body(), keys[who]);
      expect([who, answer.status]).toEqual([who, status]);
    }
  });

  it('lists only the tenants a credential administers', async () => {
    const own = await pipeline.admin('GET', '/tenants', undefined, keys.admin);
    expect((own.body.tenants as { slug: string }[]).map((t) => t.slug)).toEqual([pipeline.tenant]);
    const all = await pipeline.admin('GET', '/tenants', undefined, keys.operator);
    expect((all.body.tenants as { slug: string }[]).map((t) => t.slug)).toEqual(
      expect.arrayContaining([pipeline.tenant, other()]),
    );
  });
});

it('keeps everything under a legal hold, then applies retention once it is cleared', async () => {
  const slug = `${pipeline.tenantPrefix}-ret`;
  await pipeline.admin('POST', '/tenants', {
    slug,
    tenant_ref: `tenant:${slug}`,
    retention_days: 1,
    raw_retention_hours: 1,
  });
  const { body: collector } = await pipeline.admin('POST', '/collectors', { tenant: slug });
  const hold = await pipeline.admin('PUT', `/tenants/${slug}/legal-hold`, { reason: 'litigation' });
  expect(hold.body.legal_hold).toEqual({ reason: 'litigation' });
  for (const stage of ['raw', 'redacted', 'normalized', 'posture', 'dlq']) {
    await retentionBecomes(`aispm.${slug}.${stage}`, '-1');
  }

  const old = envelopeFor(`tenant:${slug}`, { occurred_at: '2026-06-11T08:00:00Z' });
  const recent = envelopeFor(`tenant:${slug}`, { occurred_at: new Date().toISOString() });
  for (const envelope of [old, recent])
    expect(await post(pipeline.gatewayUrl, String(collector.api_key), envelope)).toBe(202);
  const both = [old.event.event_id, recent.event.event_id].sort();
  const oldEvidenceMs = Date.parse('2026-06-11T08:00:00Z');
  await storeEvidence(slug, oldEvidenceMs);
  await eventually('both events projected', async () =>
    (await eventIds(slug)).length === 2 ? true : undefined,
  );
  // Two full retention runs after both rows exist, and the old ones are still there.
  const runs = await retentionRuns();
  await eventually('two more retention runs', async () =>
    (await retentionRuns()) >= runs + 2 ? true : undefined,
  );
  expect(await eventIds(slug)).toEqual(both);
  expect(await evidenceTimes(slug)).toContain(oldEvidenceMs);

  await pipeline.admin('DELETE', `/tenants/${slug}/legal-hold`, { reason: 'settled' });
  await retentionBecomes(`aispm.${slug}.raw`, String(3600 * 1000));
  await retentionBecomes(`aispm.${slug}.normalized`, String(24 * 3600 * 1000));
  await eventually('the old event dropped', async () =>
    (await eventIds(slug)).join() === recent.event.event_id ? true : undefined,
  );
  const recentEvidenceMs = Date.now();
  await storeEvidence(slug, recentEvidenceMs);
  await eventually('the old health evidence dropped', async () =>
    (await evidenceTimes(slug)).includes(oldEvidenceMs) ? undefined : true,
  );
  expect(await evidenceTimes(slug)).toContain(recentEvidenceMs);
});

it('deletes a tenant: its topics, its rows and its keys, and every other tenant flows on', async () => {
  const slug = `${pipeline.tenantPrefix}-del`;
  await pipeline.admin('POST', '/tenants', { slug, tenant_ref: `tenant:${slug}` });
  const { body: collector } = await pipeline.admin('POST', '/collectors', { tenant: slug });
  const envelope = envelopeFor(`tenant:${slug}`);
  expect(await post(pipeline.gatewayUrl, String(collector.api_key), envelope)).toBe(202);
  await storeEvidence(slug, Date.now());
  await eventually('the event projected', async () =>
    (await eventIds(slug)).length === 1 ? true : undefined,
  );

  const result = cli(['tenant', 'delete', slug, '--yes'], cliEnv());
  expect(result).toEqual({ slug, deleted: true, raw_key_destroyed: true });
  expect(await post(pipeline.gatewayUrl, String(collector.api_key), envelopeFor(`tenant:${slug}`))).toBe(401);
  await eventually('the rows dropped', async () => ((await eventIds(slug)).length === 0 ? true : undefined));
  await eventually('the health evidence dropped', async () =>
    (await evidenceTimes(slug)).length === 0 ? true : undefined,
  );
  const admin = kafka.admin();
  await admin.connect();
  try {
    await eventually('the topics deleted', async () =>
      (await admin.listTopics()).some((topic) => topic.startsWith(`aispm.${slug}.`)) ? undefined : true,
    );
  } finally {
    await admin.disconnect();
  }

  // Every client that wrote to or read the deleted topics (the gateway's producer and admin, the
  // API's admin, each stage's consumer and producer) must still reach the topics that remain, and new ones: the
  // suite's tenant, and a tenant onboarded after the deletion.
  const next = `${pipeline.tenantPrefix}-next`;
  const created = await pipeline.admin('POST', '/tenants', { slug: next, tenant_ref: `tenant:${next}` });
  expect(created.status).toBe(201);
  const { body: nextCollector } = await pipeline.admin('POST', '/collectors', { tenant: next });
  expect(await post(pipeline.gatewayUrl, String(nextCollector.api_key), envelopeFor(`tenant:${next}`))).toBe(
    202,
  );
  await eventually('the next tenant’s event projected', async () =>
    (await eventIds(next)).length === 1 ? true : undefined,
  );
  const before = (await eventIds(pipeline.tenant)).length;
  const sent = await postToGateway(
    pipeline.gatewayUrl,
    '/enterprise/aispm/events',
    pipeline.apiKey,
    envelopeFor(pipeline.tenantRef),
    { secret: pipeline.signingSecret },
  );
  expect(sent.status).toBe(202);
  await eventually('the suite tenant’s event projected', async () =>
    (await eventIds(pipeline.tenant)).length > before ? true : undefined,
  );
});

it('never writes an API key or signing secret to the control topic in the clear', async () => {
  const { body } = await pipeline.admin('POST', '/collectors', {
    tenant: pipeline.tenant,
    require_signature: true,
  });
  const secrets = [String(body.api_key), String(body.signing_secret), pipeline.operatorKey, pipeline.apiKey];
  expect(secrets.every((secret) => secret.length > 20)).toBe(true);
  const consumer = kafka.consumer({ groupId: `control-scan-${randomBytes(4).toString('hex')}` });
  const admin = kafka.admin();
  await Promise.all([consumer.connect(), admin.connect()]);
  try {
    const [end] = await admin.fetchTopicOffsets(SHARED_TOPICS.control);
    const values: string[] = [];
    await consumer.subscribe({ topics: [SHARED_TOPICS.control], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(message.value?.toString('latin1') ?? '');
            if (BigInt(message.offset) + 1n >= BigInt(end!.high)) resolve();
          },
        })
        .catch(reject);
    });
    const log = values.join('\n');
    expect(log).toContain(String(body.collector_id));
    for (const secret of secrets) expect(log).not.toContain(secret);
  } finally {
    await consumer.disconnect();
    await admin.disconnect();
  }
});

it('chains every admin action into a verifiable audit log, and names a tampered link', async () => {
  const env = { ...pipeline.env, CLICKHOUSE_DATABASE: pipeline.database };
  const slug = `${pipeline.tenantPrefix}-aud`;
  await pipeline.admin('POST', '/tenants', { slug, tenant_ref: `tenant:${slug}` });
  const ch = clickhouse();
  try {
    const row = await eventually('the audit link of the tenant creation', async () => {
      const rows = await ch.query<{ position: string; actor_kind: string; record: string }>(
        sql`SELECT position, actor_kind, record FROM ${name(pipeline.database)}.audit_log FINAL WHERE action = 'tenant.create' AND tenant = ${slug}`,
      );
      return rows[0];
    });
    expect(row.actor_kind).toBe('operator');
    const verdict = cli(['audit', 'verify'], env);
    expect(verdict).toMatchObject({ holds: true, from: '0' });
    expect(Number(verdict.links)).toBeGreaterThan(Number(row.position));

    // Rewrite the link's record in place (a newer version of the same position wins in FINAL).
    const tampered = row.record.replace(`"tenant":"${slug}"`, `"tenant":"${slug}-x"`);
    await ch.command(
      sql`INSERT INTO ${name(pipeline.database)}.audit_log (position, at_ms, tenant, action, actor_kind, actor_id, record, prev_hash, record_hash, written_ms)
        SELECT position, at_ms, tenant, action, actor_kind, actor_id, ${tampered}, prev_hash, record_hash, written_ms + 1
        FROM ${name(pipeline.database)}.audit_log FINAL WHERE position = ${Number(row.position)}`,
    );
    expect(() => cli(['audit', 'verify'], env)).toThrow(
      new RegExp(`audit chain broken at position ${row.position}`),
    );
  } finally {
    await ch.close();
  }
});
