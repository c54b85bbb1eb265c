/**
 * The redactor against the real servers (DESIGN §7): raw-topic values are ciphertext and the
 * redactor still redacts them; a tenant's own profile (set through the CLI) is what it applies;
 * the dry run, by CLI and admin endpoint, shows a profile's effect and stores nothing; and
 * deleting a tenant crypto-shreds its raw log.
 */
import { Kafka, logLevel } from 'kafkajs';
import { name, sql } from '@aispm/clickhouse';
import { tenantTopic, type Envelope } from '@aispm/contracts';
import { decryptRawValue, isEncryptedRaw, LocalKms } from '@aispm/kms';
import {
  cli,
  clickhouse,
  eventually,
  exampleEnvelope,
  KAFKA_BROKERS,
  postToGateway,
  readTopic,
  startPipeline,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(240_000);

let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline();
});

afterAll(async () => {
  await pipeline?.stop();
});

/** Built at run time, so the repository holds no secret-shaped literal. */
const token = ['ghp', 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2'].join('_');

function envelopeFor(tenantRef: string, eventId: string, summary: string): Envelope {
  const envelope = exampleEnvelope();
  envelope.tenant.tenant_ref = tenantRef;
  envelope.event.event_id = eventId;
  envelope.event.target_summary = summary;
  envelope.transport.idempotency_key = eventId;
  envelope.integrity.signature_required = false;
  return envelope;
}

async function createTenant(slug: string): Promise<{ apiKey: string; tenantRef: string }> {
  const tenantRef = `tenant:${slug}`;
  expect((await pipeline.admin('POST', '/tenants', { slug, tenant_ref: tenantRef })).status).toBe(201);
  const collector = await pipeline.admin('POST', '/collectors', { tenant: slug });
  expect(collector.status).toBe(201);
  return { apiKey: String(collector.body.api_key), tenantRef };
}

async function rowOf(slug: string, eventId: string): Promise<Record<string, string>> {
  const ch = clickhouse();
  try {
    const [row] = await eventually(`the row of ${eventId}`, async () => {
      const rows = await ch.query<Record<string, string>>(
        sql`SELECT target_summary, redaction_counts FROM ${name(pipeline.database)}.events FINAL WHERE tenant = ${slug} AND event_id = ${eventId}`,
      );
      return rows.length > 0 ? rows : undefined;
    });
    return row!;
  } finally {
    await ch.close();
  }
}

const kms = () => LocalKms.fromFile(String(pipeline.env.AISPM_KMS_MASTER_KEY_FILE), { create: false });

it('stores ciphertext on the raw topic, and the redactor still redacts it', async () => {
  const slug = `${pipeline.tenantPrefix}-enc`;
  const { apiKey, tenantRef } = await createTenant(slug);
  const envelope = envelopeFor(tenantRef, 'evt_raw_encrypted', `push with ${token}`);
  const response = await postToGateway(pipeline.gatewayUrl, '/enterprise/aispm/events', apiKey, envelope);
  expect(response.status).toBe(202);
  expect((await rowOf(slug, 'evt_raw_encrypted')).target_summary).toBe('push with [REDACTED:github_token]');

  const raw = (await readTopic(tenantTopic(slug, 'raw'))).map((record) => record.value);
  expect(raw).toHaveLength(1);
  expect(isEncryptedRaw(raw[0]!)).toBe(true);
  expect(raw[0]!.includes(Buffer.from(token))).toBe(false);
  expect(raw[0]!.includes(Buffer.from('evt_raw_encrypted'))).toBe(false);
  // The one decryption of the raw stage, as a replay would use it, gives back the envelope.
  const plain = await decryptRawValue(slug, raw[0]!, (wrapped) => kms().unwrapDataKey(slug, wrapped));
  expect(plain.toString('utf8')).toContain(token);
});

it("applies the tenant's own profile, set through the CLI: custom pattern, denied field, tokens", async () => {
  const slug = `${pipeline.tenantPrefix}-prof`;
  const { apiKey, tenantRef } = await createTenant(slug);
  const env = { ...pipeline.env, AISPM_ADMIN_KEY: pipeline.operatorKey };
  const profile = {
    actions: { github_token: 'tokenize' },
    custom_patterns: [{ kind: 'ticket_id', pattern: 'ACME-\\d{4,}' }],
    deny_fields: ['/event/payload_ref'],
  };
  const set = cli(['redaction', 'set', '--tenant', slug, '--file', '-'], env, JSON.stringify(profile));
  expect(set).toEqual({ slug, redaction: profile });
  expect(JSON.stringify(cli(['redaction', 'show', '--tenant', slug], env))).not.toContain('sealed');

  const post = async (eventId: string) => {
    const envelope = envelopeFor(tenantRef, eventId, `fix ACME-20931 with ${token}`);
    envelope.event.payload_ref = 'cavra://evidence/private/doc-1';
    const response = await postToGateway(pipeline.gatewayUrl, '/enterprise/aispm/events', apiKey, envelope);
    expect(response.status).toBe(202);
    return rowOf(slug, eventId);
  };
  // The redactor takes the profile from its own read of the control topic, a moment after the
  // CLI returns; an event it redacted before that used the previous profile.
  let probes = 0;
  const first = await eventually('the redactor to apply the new profile', async () => {
    const row = await post(`evt_profile_${(probes += 1)}`);
    return row.target_summary.includes('[REDACTED:ticket_id]') ? row : undefined;
  });
  expect(first.target_summary).toMatch(/^fix \[REDACTED:ticket_id\] with tok_[0-9a-f]{32}$/);
  expect(JSON.parse(first.redaction_counts)).toEqual({ ticket_id: 1, github_token: 1, denied_field: 1 });
  // The token is stable under the tenant's key: equal values still correlate.
  expect((await post(`evt_profile_${probes + 1}`)).target_summary).toBe(first.target_summary);

  // A profile the redactor could not compile is refused and the old one stays.
  expect(() =>
    cli(
      ['redaction', 'set', '--tenant', slug, '--file', '-'],
      env,
      JSON.stringify({ custom_patterns: [{ kind: 'loop', pattern: '(a+)+$' }] }),
    ),
  ).toThrow(/REDACT_PROFILE_INVALID/);
  expect(cli(['redaction', 'show', '--tenant', slug], env)).toEqual({ slug, redaction: profile });
});

it('dry-runs a profile by CLI and endpoint, for admins only, storing nothing', async () => {
  const slug = pipeline.tenant;
  const env = { ...pipeline.env, AISPM_ADMIN_KEY: pipeline.operatorKey };
  const sample = envelopeFor(pipeline.tenantRef, 'evt_dry_run', `token ${token} for ops@example.com`);
  const rawTopic = tenantTopic(slug, 'raw');
  const kafkaAdmin = new Kafka({
    clientId: 'dry-run-test',
    brokers: KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await kafkaAdmin.connect();
  try {
    const before = await kafkaAdmin.fetchTopicOffsets(rawTopic);
    const saved = cli(['redact', 'dry-run', '--tenant', slug], env, JSON.stringify(sample));
    expect(saved).toMatchObject({
      slug,
      profile: 'saved',
      stored: false,
      report: { counts: { github_token: 1, email: 1 }, pointers: ['/event/target_summary'] },
    });
    expect(JSON.stringify(saved)).not.toContain(token);

    const endpoint = await pipeline.admin('POST', `/tenants/${slug}/redaction/dry-run`, {
      envelope: sample,
      profile: { default_action: 'tokenize', deny_fields: ['session_id'] },
    });
    expect(endpoint.status).toBe(200);
    const event = (endpoint.body.envelope as Envelope).event;
    expect(event.target_summary).toMatch(/^token tok_[0-9a-f]{32} for tok_[0-9a-f]{32}$/);
    expect(event.session_id).toMatch(/^tok_/);
    expect(endpoint.body.profile).toBe('draft');

    // Admin only: the collector's key and a viewer's key are refused.
    const viewer = await pipeline.admin('POST', '/readers', { tenant: slug, role: 'viewer' });
    for (const key of [pipeline.apiKey, String(viewer.body.api_key)]) {
      const refused = await pipeline.admin(
        'POST',
        `/tenants/${slug}/redaction/dry-run`,
        { envelope: sample },
        key,
      );
      expect(refused.status).toBe(403);
    }
    expect(await kafkaAdmin.fetchTopicOffsets(rawTopic)).toEqual(before);
    const ch = clickhouse();
    try {
      const rows = await ch.query(
        sql`SELECT event_id FROM ${name(pipeline.database)}.events WHERE event_id = 'evt_dry_run'`,
      );
      expect(rows).toEqual([]);
    } finally {
      await ch.close();
    }
  } finally {
    await kafkaAdmin.disconnect();
  }
});

it('crypto-shreds the raw log when the tenant is deleted', async () => {
  const slug = `${pipeline.tenantPrefix}-shred`;
  const { apiKey, tenantRef } = await createTenant(slug);
  const envelope = envelopeFor(tenantRef, 'evt_shred', `deploy with ${token}`);
  expect(
    (await postToGateway(pipeline.gatewayUrl, '/enterprise/aispm/events', apiKey, envelope)).status,
  ).toBe(202);
  await rowOf(slug, 'evt_shred');
  // A copy of the raw log taken before the deletion: a replica, a backup, an unexpired segment.
  const [copy] = (await readTopic(tenantTopic(slug, 'raw'))).map((record) => record.value);
  const unwrap = (wrapped: string) => kms().unwrapDataKey(slug, wrapped);
  expect((await decryptRawValue(slug, copy!, unwrap)).toString('utf8')).toContain(token);

  const env = { ...pipeline.env, AISPM_ADMIN_KEY: pipeline.operatorKey };
  expect(cli(['tenant', 'delete', slug, '--yes'], env)).toEqual({
    slug,
    deleted: true,
    raw_key_destroyed: true,
  });
  await expect(decryptRawValue(slug, copy!, unwrap)).rejects.toMatchObject({ code: 'KMS_KEY_DESTROYED' });
});
