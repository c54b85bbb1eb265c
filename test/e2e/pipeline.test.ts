/**
 * An envelope POSTed to the gateway flows through all four services — raw topic, redactor,
 * normalizer, projector — into a ClickHouse row, against the real servers.
 */
import { sql } from '@aispm/clickhouse';
import {
  clickhouse,
  eventually,
  exampleEnvelope,
  postToGateway,
  startPipeline,
  type Pipeline,
} from '../support/platform';

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
          `SELECT tenant, event_id, decision, severity, repository, source_topic, source_partition, source_offset FROM ${pipeline.database}.events FINAL WHERE ` +
            sql`tenant = ${pipeline.tenant}`,
        );
        return found.length > 0 ? found : undefined;
      });
      expect(rows).toEqual([
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

  it('never lets a secret or an email in a free-text field reach ClickHouse', async () => {
    // Built at run time, so the repository holds no secret-shaped literal.
    const token = ['ghp', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'].join('_');
    const email = ['alice', 'example.com'].join('@');
    const envelope = exampleEnvelope();
    envelope.tenant.tenant_ref = pipeline.tenantRef;
    envelope.event.target_summary = `push with ${token} for ${email}`;
    envelope.event.event_id = 'evt_redaction_e2e';
    envelope.transport.idempotency_key = envelope.event.event_id;
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
    const ch = clickhouse();
    try {
      const [row] = await eventually('the redacted row', async () => {
        const rows = await ch.query<{ target_summary: string; redaction_counts: string }>(
          `SELECT target_summary, redaction_counts FROM ${pipeline.database}.events FINAL WHERE ` +
            sql`tenant = ${pipeline.tenant} AND event_id = 'evt_redaction_e2e'`,
        );
        return rows.length > 0 ? rows : undefined;
      });
      expect(row!.target_summary).toBe('push with [REDACTED:github_token] for [REDACTED:email]');
      expect(JSON.parse(row!.redaction_counts)).toEqual({ github_token: 1, email: 1 });
      const everything = JSON.stringify(
        await ch.query(
          `SELECT * FROM ${pipeline.database}.events WHERE ` +
            sql`tenant = ${pipeline.tenant} AND event_id = 'evt_redaction_e2e'`,
        ),
      );
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(email);
    } finally {
      await ch.close();
    }
  });
});
