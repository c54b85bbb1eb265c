/**
 * Tenant churn under traffic (DESIGN §15, §18): three tenants stream events one at a time while
 * twenty others are created, sent a burst and deleted at once, in a loop, so the deleted
 * tenants' records are in a stage's fetch, round, transaction or sink buffer when their topics
 * go. Every acknowledged event of the streaming tenants must be projected, and be in their
 * normalized topics exactly once; no stage may exit or stay unready. The wait of each streaming
 * event (202 → stored in ClickHouse) is measured without churn and with it, and written to the
 * proof file; tests never assert timings. The servers are the shared ones.
 */
import { newEventOf } from '../support/fixtures';
import {
  clickhouse,
  eventually,
  postToGateway,
  startPipeline,
  tenantWithCollector,
  type Pipeline,
} from '../support/platform';
import { EventStream, normalizedCopies, type Sent, type StreamTarget } from './support/load';
import { Proof } from './support/proof';

jest.setTimeout(1_200_000);

const WINDOW_MS = Number(process.env.AISPM_FAULTS_CHURN_WINDOW_MS ?? 20_000);
const CHURNED = Number(process.env.AISPM_FAULTS_CHURNED_TENANTS ?? 20);
const BURST = 200;
const proof = new Proof('churn');
let pipeline: Pipeline;
const streaming: StreamTarget[] = [];

/** A new tenant to stream to or churn. */
async function tenant(slug: string): Promise<StreamTarget> {
  const tenantRef = `tenant:${slug}`;
  return { slug, tenantRef, key: (await tenantWithCollector(pipeline, slug, tenantRef)).key };
}

beforeAll(async () => {
  pipeline = await startPipeline({ AISPM_TENANT_DELETION_RETRY_MS: '1000' });
  streaming.push(
    {
      slug: pipeline.tenant,
      tenantRef: pipeline.tenantRef,
      key: pipeline.apiKey,
      secret: pipeline.signingSecret,
    },
    await tenant(`${pipeline.tenantPrefix}-s1`),
    await tenant(`${pipeline.tenantPrefix}-s2`),
  );
});

afterAll(async () => {
  proof.write();
  await pipeline?.stop();
});

/** Streams every streaming tenant, one event at a time each, until `during` has ended and WINDOW_MS passed. */
async function stream(during: Promise<void> = Promise.resolve()): Promise<Sent[]> {
  const streams = streaming.map(
    (target) => new EventStream(pipeline, { count: 1_000_000, concurrency: 1, target }),
  );
  const running = streams.map((s) => s.run());
  await Promise.all([during, new Promise((resolve) => setTimeout(resolve, WINDOW_MS))]);
  for (const s of streams) s.stop();
  await Promise.all(running);
  return streams.flatMap((s) => s.events);
}

/** Creates, feeds and deletes CHURNED tenants one after another. */
async function churn(): Promise<void> {
  for (let i = 0; i < CHURNED; i += 1) {
    const target = await tenant(`${pipeline.tenantPrefix}-c${i}`);
    const burst = Array.from({ length: BURST }, () => {
      const envelope = newEventOf(target.tenantRef);
      envelope.integrity.signature_required = false;
      return envelope;
    });
    expect(
      (await postToGateway(pipeline.gatewayUrl, '/enterprise/aispm/events/batch', target.key, burst)).status,
    ).toBe(202);
    expect([200, 202]).toContain((await pipeline.admin('DELETE', `/tenants/${target.slug}`)).status);
  }
}

/** Once every acknowledged event is stored: each one's wait from 202 to stored, in ms. */
async function waits(sent: readonly Sent[]): Promise<number[]> {
  const acked = sent.filter((e) => e.acknowledged);
  const ch = clickhouse();
  try {
    const slugs = streaming.map((t) => `'${t.slug}'`).join(', ');
    let stored = new Map<string, number>();
    await eventually(
      'every acknowledged streaming event to be stored',
      async () => {
        const rows = await ch.query<{ event_id: string; at: string }>(
          `SELECT event_id, min(projected_ms) AS at FROM ${pipeline.database}.events WHERE tenant IN (${slugs}) GROUP BY event_id`,
        );
        stored = new Map(rows.map((row) => [row.event_id, Number(row.at)]));
        return acked.every((e) => stored.has(e.id)) ? true : undefined;
      },
      300_000,
    );
    return acked.map((e) => stored.get(e.id)! - e.acknowledgedMs!);
  } finally {
    await ch.close();
  }
}

it('moves every streaming tenant on, exactly once, while twenty tenants are created, fed and deleted', async () => {
  const quiet = await waits(await stream());
  const fault = proof.injected(
    `${CHURNED} tenants created, sent ${BURST} events each and deleted at once, under traffic`,
  );
  const sent = await stream(churn());
  const churned = await waits(sent);

  const copies = await normalizedCopies(streaming.map((target) => target.slug));
  const acknowledged = sent.filter((e) => e.acknowledged);
  const tally = {
    sent: sent.length,
    acknowledged: acknowledged.length,
    projected: acknowledged.filter((e) => copies.has(e.id)).length,
    lost: acknowledged.filter((e) => !copies.has(e.id)).length,
    duplicated: [...copies.values()].filter((n) => n > 1).length,
    unacknowledgedProjected: 0,
    unknown: 0,
  };
  proof.events(tally);
  proof.note(
    `longest wait of a streaming event (202 → stored): ${Math.max(...quiet)} ms without churn ` +
      `(${quiet.length} events), ${Math.max(...churned)} ms with churn (${churned.length} events)`,
  );
  expect(tally).toMatchObject({ lost: 0, duplicated: 0 });
  for (const service of ['redactor', 'normalizer', 'projector'] as const) {
    expect([service, pipeline.processes.get(service)!.exitCode]).toEqual([service, null]);
    await eventually(`${service} to be ready`, async () =>
      (await fetch(`${pipeline.opsUrls.get(service)}/readyz`)).ok ? true : undefined,
    );
  }
  proof.survived(fault);
});
