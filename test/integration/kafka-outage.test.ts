/**
 * A Kafka outage, with the real broker stopped and started again: the gateway answers 503 with
 * Retry-After and acknowledges nothing while Kafka is down, and ingestion resumes after. Its own
 * suite and pipeline, so no other suite shares the outage.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  eventually,
  exampleEnvelope,
  postToGateway,
  REPO,
  startPipeline,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(240_000);

const EVENTS = '/enterprise/aispm/events';
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline();
});

afterAll(async () => {
  await pipeline?.stop();
});

function envelope() {
  const e = exampleEnvelope();
  e.tenant.tenant_ref = pipeline.tenantRef;
  e.event.event_id = `evt_${randomBytes(6).toString('hex')}`;
  e.transport.idempotency_key = e.event.event_id;
  return e;
}

describe('Kafka outage', () => {
  const infra = (...args: string[]) =>
    execFileSync('bash', [path.join(REPO, 'deploy/local/infra.sh'), ...args], { stdio: 'pipe' });

  afterAll(() => {
    infra('start', 'kafka');
  });

  it('answers 503 with Retry-After while Kafka is down, acknowledges nothing, and resumes after', async () => {
    infra('stop', 'kafka');
    const down = await postToGateway(pipeline.gatewayUrl, EVENTS, pipeline.apiKey, envelope(), {
      secret: pipeline.signingSecret,
    });
    expect([down.status, down.body.code]).toEqual([503, 'GW_KAFKA_UNAVAILABLE']);
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    infra('start', 'kafka');
    const back = await eventually(
      'ingestion to resume',
      async () => {
        const answer = await postToGateway(pipeline.gatewayUrl, EVENTS, pipeline.apiKey, envelope(), {
          secret: pipeline.signingSecret,
        });
        return answer.status === 202 ? answer : undefined;
      },
      120_000,
    );
    expect(back.body.outcome).toBe('accepted');
  });
});
