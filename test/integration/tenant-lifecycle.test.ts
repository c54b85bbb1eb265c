/**
 * Tenant lifecycle (DESIGN §18) against the real servers: a re-created slug is a new incarnation
 * that inherits no credential of the deleted one, and a deletion is a reconcile that another
 * instance finishes when the API instance carrying it out dies between any two of its steps.
 */
import { existsSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { DELETION_STEPS } from '@aispm/control';
import type { Envelope } from '@aispm/contracts';
import { newEventOf } from '../support/fixtures';
import { PrivateInfra } from '../support/private-infra';
import {
  clickhouseLogin,
  eventually,
  KAFKA_BROKERS,
  postToGateway,
  startExtraApi,
  startPipeline,
  stopProcess,
  tenantWithCollector,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(300_000);

const EVENTS = '/enterprise/aispm/events';
let pipeline: Pipeline;
let clickhouseUrl: string;

beforeAll(async () => {
  const own = await PrivateInfra.start(['clickhouse']);
  clickhouseUrl = own.clickhouseUrl;
  // The suite's API takes up no pending deletion on its own: a crash case's doomed instance must
  // be the only one at the steps until it dies, or the suite's API may finish the deletion first
  // and the crash point is never reached. Each case starts another instance to finish it.
  pipeline = await startPipeline({ AISPM_TENANT_DELETION_RETRY_MS: '3600000', ...own.clickhouseEnv });
});

afterAll(async () => {
  await pipeline?.stop();
});

/** An unsigned event of `tenantRef`. */
function unsignedEvent(tenantRef: string): Envelope {
  const envelope = newEventOf(tenantRef);
  envelope.integrity.signature_required = false;
  return envelope;
}

async function call(method: string, route: string, key: string, body?: object): Promise<number> {
  const response = await fetch(`${pipeline.apiUrl}/enterprise/aispm${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  await response.arrayBuffer();
  return response.status;
}

async function topicsOf(slug: string): Promise<string[]> {
  const admin = new Kafka({
    clientId: 'lifecycle-test',
    brokers: KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((topic) => topic.startsWith(`aispm.${slug}.`));
  } finally {
    await admin.disconnect();
  }
}

/** Whether ClickHouse lets `user` in with `password`; undefined while it cannot tell. */
async function clickhouseLets(user: string, password: string): Promise<boolean | undefined> {
  return clickhouseLogin(clickhouseUrl, user, password).then(
    (answer) => answer === 'in',
    () => undefined,
  );
}

it('gives a re-created slug nothing of the deleted tenant: every old credential is refused', async () => {
  const slug = `${pipeline.tenantPrefix}-inc`;
  const { id: collectorId, key: collectorKey } = await tenantWithCollector(
    pipeline,
    slug,
    `tenant:${slug}-first`,
  );
  const admin = await pipeline.admin('POST', '/readers', { tenant: slug, role: 'admin' });
  const viewer = await pipeline.admin('POST', '/readers', { tenant: slug, role: 'viewer' });
  const dashboard = viewer.body.clickhouse as { user: string; password: string };
  expect(
    (await postToGateway(pipeline.gatewayUrl, EVENTS, collectorKey, unsignedEvent(`tenant:${slug}-first`)))
      .status,
  ).toBe(202);
  await eventually('the dashboard user to be provisioned', async () =>
    (await clickhouseLets(dashboard.user, dashboard.password)) ? true : undefined,
  );

  expect((await pipeline.admin('DELETE', `/tenants/${slug}`)).body).toEqual({
    slug,
    deleted: true,
    raw_key_destroyed: true,
  });
  const ref = `tenant:${slug}-second`;
  expect((await pipeline.admin('POST', '/tenants', { slug, tenant_ref: ref })).status).toBe(201);

  expect((await postToGateway(pipeline.gatewayUrl, EVENTS, collectorKey, unsignedEvent(ref))).status).toBe(
    401,
  );
  expect(await call('GET', '/dashboard', String(viewer.body.api_key))).toBe(401);
  expect(await call('GET', '/dashboard', String(admin.body.api_key))).toBe(401);
  expect(
    await call('POST', '/admin/readers', String(admin.body.api_key), { tenant: slug, role: 'viewer' }),
  ).toBe(401);
  const shown = await pipeline.admin('GET', `/tenants/${slug}`);
  expect(shown.body).toMatchObject({ slug, tenant_ref: ref, collectors: [], readers: [] });
  await eventually('the old dashboard user to be refused', async () =>
    (await clickhouseLets(dashboard.user, dashboard.password)) === false ? true : undefined,
  );
  // The old collector and reader are gone for the admin API too: neither can be brought back.
  expect((await pipeline.admin('POST', `/collectors/${collectorId}/rotate`)).status).toBe(404);
  expect((await pipeline.admin('POST', `/readers/${String(admin.body.reader_id)}/revoke`)).status).toBe(404);

  const newKey = String((await pipeline.admin('POST', '/collectors', { tenant: slug })).body.api_key);
  expect((await postToGateway(pipeline.gatewayUrl, EVENTS, newKey, unsignedEvent(ref))).status).toBe(202);
});

describe.each(DELETION_STEPS)('an API instance that dies right after the deletion step %s', (step) => {
  it('leaves a deletion the other instance finishes: data key destroyed, topics gone, slug free again', async () => {
    const slug = `${pipeline.tenantPrefix}-${step.replaceAll('_', '-')}`;
    const ref = `tenant:${slug}`;
    const { key } = await tenantWithCollector(pipeline, slug, ref);
    expect((await postToGateway(pipeline.gatewayUrl, EVENTS, key, unsignedEvent(ref))).status).toBe(202);
    const kekFile = `${pipeline.env.AISPM_KMS_MASTER_KEY_FILE}.tenants/${slug}.kek`;
    expect(existsSync(kekFile)).toBe(true);

    const doomed = await startExtraApi(pipeline, {
      AISPM_INSTANCE_ID: `api-crash-${step}`,
      AISPM_CRASH_AFTER_DELETION_STEP: step,
      // Only the request below may run the steps on this instance, not its periodic pass (which
      // runs at start too, and would take up the deletions the earlier cases left to the other).
      AISPM_TENANT_DELETION_RETRY_MS: '3600000',
      AISPM_TENANT_PATTERN: `^${slug}$`,
    });
    await expect(
      fetch(`${doomed.url}/enterprise/aispm/admin/tenants/${slug}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${pipeline.operatorKey}` },
      }),
    ).rejects.toThrow();
    expect(
      await eventually(
        'the instance to die at its crash point',
        async () => doomed.child.signalCode ?? undefined,
      ),
    ).toBe('SIGKILL');

    expect((await postToGateway(pipeline.gatewayUrl, EVENTS, key, unsignedEvent(ref))).status).toBe(401);
    const other = await startExtraApi(pipeline, {
      AISPM_INSTANCE_ID: `api-finish-${step}`,
      AISPM_TENANT_DELETION_RETRY_MS: '1000',
      AISPM_TENANT_PATTERN: `^${slug}$`,
    });
    try {
      await eventually('the other API instance to finish the deletion', async () =>
        !existsSync(kekFile) && (await topicsOf(slug)).length === 0 ? true : undefined,
      );
    } finally {
      await stopProcess(other.child);
    }
    await eventually('the slug to be free again', async () => {
      const created = await pipeline.admin('POST', '/tenants', { slug, tenant_ref: `${ref}-again` });
      return created.status === 201 ? true : undefined;
    });
    expect(
      (await postToGateway(pipeline.gatewayUrl, EVENTS, key, unsignedEvent(`${ref}-again`))).status,
    ).toBe(401);
  });
});
