/**
 * The live stream against the real servers (DESIGN §10): two API instances, two tenants.
 * A reader on either instance gets its tenant's posture deltas and never another tenant's;
 * Last-Event-ID resumes with nothing skipped or repeated; heartbeats arrive; the watermark is in
 * the stream; consumers go away with their clients.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { parseCursor } from '@aispm/kafka';
import {
  eventually,
  exampleEnvelope,
  KAFKA_BROKERS,
  postToGateway,
  startExtraApi,
  startPipeline,
  stopProcess,
  type ExtraInstance,
  type Pipeline,
} from '../support/platform';
import { SseClient } from '../support/sse';

jest.setTimeout(240_000);

let pipeline: Pipeline;
let second: ExtraInstance;
let apis: string[];
/** Where each API instance serves `/metrics`. */
let apiOps: string[];
/** Reader keys and collector posting of the suite's two tenants. */
const tenants: { slug: string; reader: string; post: (eventId: string) => Promise<number> }[] = [];
const clients: SseClient[] = [];

beforeAll(async () => {
  // Fast heartbeats and watermarks, so the suite does not wait on production intervals.
  process.env.API_STREAM_HEARTBEAT_MS = '300';
  process.env.PROJECTOR_WATERMARK_INTERVAL_MS = '300';
  pipeline = await startPipeline();
  second = await startExtraApi(pipeline, { AISPM_INSTANCE_ID: 'api-1' });
  apis = [pipeline.apiUrl, second.url];
  apiOps = [pipeline.opsUrls.get('api')!, second.opsUrl];
  const other = `${pipeline.tenantPrefix}-b`;
  expect(
    (await pipeline.admin('POST', '/tenants', { slug: other, tenant_ref: `tenant:${other}` })).status,
  ).toBe(201);
  const otherCollector = String(
    (await pipeline.admin('POST', '/collectors', { tenant: other })).body.api_key,
  );
  const post =
    (key: string, tenantRef: string, secret?: string) =>
    async (eventId: string): Promise<number> => {
      const e = exampleEnvelope();
      e.tenant.tenant_ref = tenantRef;
      e.event.event_id = eventId;
      e.transport.idempotency_key = eventId;
      e.integrity.signature_required = false;
      return (await postToGateway(pipeline.gatewayUrl, '/enterprise/aispm/events', key, e, { secret }))
        .status;
    };
  const reader = async (tenant: string) =>
    String((await pipeline.admin('POST', '/readers', { tenant, role: 'viewer' })).body.api_key);
  tenants.push(
    {
      slug: pipeline.tenant,
      reader: await reader(pipeline.tenant),
      post: post(pipeline.apiKey, pipeline.tenantRef, pipeline.signingSecret),
    },
    { slug: other, reader: await reader(other), post: post(otherCollector, `tenant:${other}`) },
  );
  // The keys were made on the first API instance; the second learns them from the control topic.
  await eventually('the second API instance to know every reader key', async () => {
    for (const { reader: key } of tenants) {
      const answer = await fetch(`${apis[1]}/enterprise/aispm/dashboard`, {
        headers: { authorization: `Bearer ${key}` },
      });
      await answer.arrayBuffer();
      if (answer.status === 401) return undefined;
    }
    return true;
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  if (second) await stopProcess(second.child);
  await pipeline?.stop();
});

async function open(api: string, key: string, lastEventId?: string): Promise<SseClient> {
  const client = await SseClient.open(`${api}/enterprise/aispm/stream`, key, lastEventId);
  clients.push(client);
  return client;
}

const newEventId = () => `evt_${randomBytes(6).toString('hex')}`;

/** Event ids the client's overview deltas announced. */
function announced(client: SseClient): string[] {
  return client
    .deltas()
    .filter(({ delta }) => delta.kind === 'overview')
    .flatMap(({ delta }) => (delta.data as { event_ids: string[] }).event_ids);
}

it('delivers each tenant’s deltas to its readers on either API instance, and never another tenant’s', async () => {
  const streams = [];
  for (const tenant of tenants) {
    for (const api of apis) streams.push({ tenant, client: await open(api, tenant.reader) });
  }
  expect(streams.map((s) => s.client.status)).toEqual([200, 200, 200, 200]);
  const sent = new Map<string, string[]>();
  for (const tenant of tenants) {
    const ids = [newEventId(), newEventId()];
    for (const id of ids) expect(await tenant.post(id)).toBe(202);
    sent.set(tenant.slug, ids);
  }
  // The example event is a require_approval of high severity: a finding and a near miss.
  const kinds = ['overview', 'finding', 'near_miss', 'coverage'];
  for (const { tenant, client } of streams) {
    await eventually(`${tenant.slug}'s deltas on a stream`, async () => {
      const seen = new Set(client.deltas().map(({ delta }) => delta.kind));
      const complete = sent.get(tenant.slug)!.every((id) => announced(client).includes(id));
      return complete && kinds.every((kind) => seen.has(kind)) ? true : undefined;
    });
  }
  for (const { tenant, client } of streams) {
    const deltas = client.deltas();
    expect(deltas.length).toBeGreaterThan(0);
    expect(new Set(deltas.map(({ delta }) => delta.tenant))).toEqual(new Set([tenant.slug]));
    const foreign = [...sent].filter(([slug]) => slug !== tenant.slug).flatMap(([, ids]) => ids);
    expect(JSON.stringify(deltas)).not.toMatch(new RegExp(foreign.join('|')));
    const seen = new Set(deltas.map(({ delta }) => delta.kind));
    for (const kind of kinds) expect(seen).toContain(kind);
  }
});

it('resumes from Last-Event-ID on the other API instance with nothing skipped and nothing repeated', async () => {
  const [tenant] = tenants;
  const first = await open(apis[0]!, tenant!.reader);
  const before = newEventId();
  expect(await tenant!.post(before)).toBe(202);
  await eventually('the first event on the stream', async () =>
    announced(first).includes(before) ? true : undefined,
  );
  const resumeFrom = first.lastId()!;
  await first.close();
  const missed = [newEventId(), newEventId(), newEventId()];
  for (const id of missed) expect(await tenant!.post(id)).toBe(202);

  const resumed = await open(apis[1]!, tenant!.reader, resumeFrom);
  expect(resumed.status).toBe(200);
  await eventually('the missed events on the resumed stream', async () =>
    missed.every((id) => announced(resumed).includes(id)) ? true : undefined,
  );
  expect(announced(resumed)).not.toContain(before);
  // Each event advances exactly one partition by exactly one offset from the cursor resumed
  // from: no message of the topic skipped, none sent twice.
  let previous = parseCursor(resumeFrom)!;
  for (const { id } of resumed.events.filter((e) => e.id !== undefined)) {
    const cursor = parseCursor(id!)!;
    const steps = [...cursor].map(([partition, offset]) => offset - (previous.get(partition) ?? 0n));
    expect(steps.filter((step) => step !== 0n)).toEqual([1n]);
    previous = cursor;
  }
});

it('carries the freshness watermark, sends heartbeats, and refuses what it must', async () => {
  const [tenant] = tenants;
  const client = await open(apis[1]!, tenant!.reader);
  const postedAt = Date.now();
  expect(await tenant!.post(newEventId())).toBe(202);
  // Every event accepted before the watermark is projected; this one was accepted after postedAt.
  await eventually('a watermark past the event on the stream', async () =>
    client
      .deltas()
      .some(({ delta }) => delta.kind === 'watermark' && delta.watermark!.watermark_ms >= postedAt)
      ? true
      : undefined,
  );
  for (const { delta } of client.deltas()) {
    expect(delta.watermark).toMatchObject({ watermark_ms: expect.any(Number), lag: expect.any(Object) });
  }
  await eventually('a heartbeat', async () =>
    client.comments.some((c) => c.startsWith('heartbeat')) ? true : undefined,
  );

  const collectorStream = await open(apis[0]!, pipeline.apiKey);
  expect(collectorStream.status).toBe(403);
  const operatorStream = await open(apis[0]!, pipeline.operatorKey);
  expect(operatorStream.status).toBe(403);
  const badCursor = await open(apis[0]!, tenant!.reader, 'not-a-cursor');
  expect(badCursor.status).toBe(400);
});

it('ends an open stream when its reader is revoked', async () => {
  const [tenant] = tenants;
  const { body } = await pipeline.admin('POST', '/readers', { tenant: tenant!.slug, role: 'viewer' });
  // The new reader reaches the second API instance through the control topic, within a moment.
  const client = await eventually('the second API instance to know the new reader', async () => {
    const attempt = await open(apis[1]!, String(body.api_key));
    return attempt.status === 200 ? attempt : undefined;
  });
  expect((await pipeline.admin('POST', `/readers/${String(body.reader_id)}/revoke`)).status).toBe(200);
  await eventually('the revoked reader’s stream to end', async () => (client.ended ? true : undefined));
});

it('drops each consumer when its client goes away', async () => {
  await Promise.all(clients.map((c) => c.close()));
  const kafka = new Kafka({
    clientId: 'stream-test',
    brokers: KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await eventually('no stream connections or consumer groups left', async () => {
      for (const ops of apiOps) {
        const metrics = await (await fetch(`${ops}/metrics`)).text();
        if (!/^aispm_stream_connections\{[^}]*\} 0$/m.test(metrics)) return undefined;
      }
      const { groups } = await admin.listGroups();
      const streams = groups.filter((g) =>
        g.groupId.startsWith(`${pipeline.env.AISPM_GROUP_PREFIX}-stream-`),
      );
      return streams.length === 0 ? true : undefined;
    });
  } finally {
    await admin.disconnect();
  }
});
