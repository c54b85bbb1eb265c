/**
 * An envelope POSTed to the gateway flows through all four services — raw topic, redactor,
 * normalizer, projector — into a ClickHouse row, against the real servers; and no secret planted
 * in any of its string fields gets past the raw stage.
 */
import { name, sql } from '@aispm/clickhouse';
import { tenantTopic } from '@aispm/contracts';
import {
  clickhouse,
  eventually,
  exampleEnvelope,
  postToGateway,
  readTopic,
  startPipeline,
  type Pipeline,
} from '../support/platform';
import { corpusSecrets, leaked, plantEverywhere, recordText } from '../support/leaks';

jest.setTimeout(180_000);

describe('pipeline end to end', () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startPipeline();
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('projects a posted envelope into ClickHouse', async () => {
    const envelope = exampleEnvelope();
    envelope.tenant.tenant_ref = pipeline.tenantRef;
    // The public example says integrity.signature_required, so the request is signed.
    const response = await postToGateway(
      pipeline.gatewayUrl,
      '/enterprise/aispm/events',
      pipeline.apiKey,
      envelope,
      {
        secret: pipeline.signingSecret,
      },
    );
    expect(response.status).toBe(202);
    const receipt = response.body as { outcome: string; topic: string; partition: number; offset: string };
    expect(receipt).toMatchObject({ outcome: 'accepted', topic: `aispm.${pipeline.tenant}.raw` });

    const ch = clickhouse();
    try {
      const rows = await eventually('the event row', async () => {
        const found = await ch.query<Record<string, unknown>>(
          sql`SELECT tenant, event_id, decision, severity, repository, source_topic, source_partition, source_offset FROM ${name(pipeline.database)}.events FINAL WHERE tenant = ${pipeline.tenant}`,
        );
        return found.length > 0 ? found : undefined;
      });
      // 64-bit integers come back as JSON numbers; the receipt carries the offset as a string.
      expect(rows.map((row) => ({ ...row, source_offset: String(row.source_offset) }))).toEqual([
        {
          tenant: pipeline.tenant,
          event_id: envelope.event.event_id,
          decision: 'require_approval',
          severity: 'high',
          repository: 'example/repository',
          source_topic: receipt.topic,
          source_partition: receipt.partition,
          source_offset: receipt.offset,
        },
      ]);
    } finally {
      await ch.close();
    }
  });

  it('refuses a wrong key with a problem document and stores nothing', async () => {
    const response = await fetch(`${pipeline.gatewayUrl}/enterprise/aispm/events`, {
      method: 'POST',
      headers: { authorization: 'Bearer not-a-real-key-0000000000', 'content-type': 'application/json' },
      body: JSON.stringify(exampleEnvelope()),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await response.json()).toMatchObject({ code: 'GW_UNAUTHENTICATED', status: 401 });
  });

  it('names the failing field of an invalid envelope', async () => {
    const envelope = exampleEnvelope() as unknown as { event: Record<string, unknown> };
    envelope.event.decision = 'maybe';
    const response = await postToGateway(
      pipeline.gatewayUrl,
      '/enterprise/aispm/events',
      pipeline.apiKey,
      envelope,
      {
        secret: pipeline.signingSecret,
      },
    );
    expect(response.status).toBe(400);
    const problem = response.body as { code: string; errors: { pointer: string }[] };
    expect(problem.code).toBe('GW_SCHEMA_INVALID');
    expect(problem.errors.map((e) => e.pointer)).toContain('/event/decision');
  });

  it('lets no secret planted in any string field past the raw stage: topics, ClickHouse, API answers', async () => {
    const slug = `${pipeline.tenantPrefix}-leak`;
    const tenantRef = `tenant:${slug}`;
    expect((await pipeline.admin('POST', '/tenants', { slug, tenant_ref: tenantRef })).status).toBe(201);
    const collector = await pipeline.admin('POST', '/collectors', { tenant: slug });
    // Both actions: some kinds tokenize, the rest mask.
    const profile = { actions: { email: 'tokenize', github_token: 'tokenize', jwt: 'tokenize' } };
    expect((await pipeline.admin('PUT', `/tenants/${slug}/redaction`, profile)).status).toBe(200);

    const { envelope, planted } = plantEverywhere(exampleEnvelope(), tenantRef);
    // Every free-text field of the contract holds secrets; every kind of the corpus is planted.
    expect(planted.size).toBeGreaterThanOrEqual(20);
    const secrets = corpusSecrets();
    const response = await postToGateway(
      pipeline.gatewayUrl,
      '/enterprise/aispm/events',
      String(collector.body.api_key),
      envelope,
    );
    expect(response.status).toBe(202);

    const ch = clickhouse();
    try {
      await eventually('the event row', async () => {
        const rows = await ch.query<{ n: string }>(
          sql`SELECT count() AS n FROM ${name(pipeline.database)}.events WHERE tenant = ${slug}`,
        );
        return Number(rows[0]?.n) > 0 ? true : undefined;
      });
      const places: Record<string, string> = {};
      for (const stage of ['redacted', 'normalized', 'posture', 'dlq'] as const) {
        const records = await readTopic(tenantTopic(slug, stage)).catch(() => []);
        places[`topic ${stage}`] = records.map(recordText).join('\n');
      }
      expect(places['topic redacted']).toContain('[REDACTED:');
      // The raw stage holds them, but only as ciphertext: not even its key or headers show one.
      places['topic raw (stored bytes)'] = (await readTopic(tenantTopic(slug, 'raw')))
        .map(recordText)
        .join('\n');
      const tables = await ch.query<{ name: string }>(
        sql`SELECT name FROM system.tables WHERE database = ${pipeline.database}`,
      );
      for (const { name: table } of tables) {
        places[`clickhouse ${table}`] = JSON.stringify(
          await ch.query(`SELECT * FROM ${pipeline.database}.${table}`),
        );
      }
      for (const route of [`/tenants`, `/tenants/${slug}`, `/tenants/${slug}/redaction`]) {
        places[`GET ${route}`] = JSON.stringify((await pipeline.admin('GET', route)).body);
      }
      places['POST dry-run'] = JSON.stringify(
        (await pipeline.admin('POST', `/tenants/${slug}/redaction/dry-run`, { envelope })).body,
      );
      // The receipt echoes the ids the collector itself sent, and nothing else of the envelope.
      const { event_id: _id, idempotency_key: _key, ...receipt } = response.body;
      places['ingest receipt'] = JSON.stringify(receipt);
      const leaks = Object.entries(places).flatMap(([place, text]) =>
        secrets.filter((secret) => leaked(text, secret)).map((secret) => `${place}: ${secret.slice(0, 24)}…`),
      );
      expect(leaks).toEqual([]);
    } finally {
      await ch.close();
    }
  });
});
