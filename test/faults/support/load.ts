/**
 * A stream of events with known ids sent to a pipeline's gateway, and the check that what the
 * gateway acknowledged is exactly what reached the projection. A request that fails (connection
 * refused, 503) is sent again with the same idempotency key until the gateway acknowledges it
 * (202 accepted, or 200 duplicate when an earlier try was stored), as a collector would.
 */
import { randomBytes } from 'node:crypto';
import { name, sql } from '@aispm/clickhouse';
import { tenantTopic, type Envelope } from '@aispm/contracts';
import {
  clickhouse,
  eventually,
  exampleEnvelope,
  postToGateway,
  readTopic,
  type Pipeline,
} from '../../support/platform';

const EVENTS = '/enterprise/aispm/events';

/** One event's fate as the sender saw it. */
export interface Sent {
  readonly id: string;
  /** The answer that acknowledged it (202 accepted or 200 duplicate), if any. */
  acknowledged?: 'accepted' | 'duplicate';
  /** When that answer arrived (epoch ms). */
  acknowledgedMs?: number;
  /** Answers that did not acknowledge it: status codes, or the transport error's text. */
  readonly refusals: string[];
}

/** What the stream and the projection add up to, for assertions and the proof report. */
export interface Tally {
  readonly sent: number;
  readonly acknowledged: number;
  readonly projected: number;
  /** Acknowledged but not projected. */
  readonly lost: number;
  /** Projected more than once. */
  readonly duplicated: number;
  /** Projected although never acknowledged (its acknowledgement was lost in a crash). */
  readonly unacknowledgedProjected: number;
  /** Projected ids that were never sent: must not happen. */
  readonly unknown: number;
}

/** A tenant a stream sends to, with its collector's key (and signing secret, if it signs). */
export interface StreamTarget {
  readonly slug: string;
  readonly tenantRef: string;
  readonly key: string;
  readonly secret?: string;
}

/**
 * An event with a known id for the tenant of `target` (a pipeline: its own tenant). The public
 * example asks for a signature; `signed` false says it comes unsigned.
 */
export function streamEnvelope(target: Pick<Pipeline, 'tenantRef'>, id: string, signed = true): Envelope {
  const e = exampleEnvelope();
  e.tenant.tenant_ref = target.tenantRef;
  e.integrity.signature_required = signed;
  e.event.event_id = id;
  e.transport.idempotency_key = id;
  return e;
}

/** Sends `count` events, `concurrency` at a time, each until acknowledged or `giveUpMs` passed. */
export class EventStream {
  readonly events: Sent[] = [];
  private stopped = false;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly options: {
      count: number;
      concurrency?: number;
      giveUpMs?: number;
      target?: StreamTarget;
    },
  ) {}

  /** Events acknowledged so far. */
  get acknowledged(): number {
    return this.events.filter((e) => e.acknowledged).length;
  }

  /** Resolves when every event was acknowledged or given up on. */
  async run(): Promise<void> {
    const prefix = `evt_${randomBytes(4).toString('hex')}`;
    let next = 0;
    const worker = async () => {
      while (!this.stopped && next < this.options.count) {
        const sent: Sent = { id: `${prefix}_${String(next).padStart(6, '0')}`, refusals: [] };
        next += 1;
        this.events.push(sent);
        await this.deliver(sent);
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency ?? 4 }, worker));
  }

  /** Ends the stream early: events not started yet are not sent. */
  stop(): void {
    this.stopped = true;
  }

  private async deliver(sent: Sent): Promise<void> {
    const target = this.options.target ?? {
      slug: this.pipeline.tenant,
      tenantRef: this.pipeline.tenantRef,
      key: this.pipeline.apiKey,
      secret: this.pipeline.signingSecret,
    };
    const envelope = streamEnvelope(target, sent.id, target.secret !== undefined);
    const deadline = Date.now() + (this.options.giveUpMs ?? 180_000);
    while (Date.now() < deadline) {
      try {
        const answer = await postToGateway(
          this.pipeline.gatewayUrl,
          EVENTS,
          target.key,
          envelope,
          target.secret ? { secret: target.secret } : {},
        );
        const outcome = answer.body.outcome;
        if (
          (answer.status === 202 && outcome === 'accepted') ||
          (answer.status === 200 && outcome === 'duplicate')
        ) {
          sent.acknowledged = outcome;
          sent.acknowledgedMs = Date.now();
          return;
        }
        const retryAfter = answer.headers.get('retry-after');
        sent.refusals.push(
          `${answer.status} ${String(answer.body.code ?? '')}${retryAfter === null ? '' : ` retry-after=${retryAfter}`}`,
        );
        // Only an outage or a limit is worth sending again; anything else is a bug in the test.
        if (answer.status !== 503 && answer.status !== 429) return;
        const wait = Number(answer.headers.get('retry-after') ?? '1');
        await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 2) * 1000));
      } catch (error) {
        sent.refusals.push(String((error as Error).cause ?? error));
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }
}

/** Event ids of the pipeline's tenant in the projection (read with FINAL), with their counts. */
export async function projectedIds(pipeline: Pipeline, clickhouseUrl?: string): Promise<Map<string, number>> {
  const ch = clickhouse(clickhouseUrl);
  try {
    const rows = await ch.query<{ event_id: string; n: string }>(
      sql`SELECT event_id, count() AS n FROM ${name(pipeline.database)}.events FINAL WHERE tenant = ${pipeline.tenant} GROUP BY event_id`,
    );
    return new Map(rows.map((r) => [r.event_id, Number(r.n)]));
  } finally {
    await ch.close();
  }
}

/** Waits until every acknowledged event is projected (or `timeoutMs`), then tallies. */
export async function settle(
  pipeline: Pipeline,
  events: readonly Sent[],
  options: { clickhouseUrl?: string; timeoutMs?: number } = {},
): Promise<Tally> {
  const acked = events.filter((e) => e.acknowledged);
  let projected = new Map<string, number>();
  await eventually(
    'every acknowledged event to be projected',
    async () => {
      projected = await projectedIds(pipeline, options.clickhouseUrl);
      return acked.every((e) => projected.has(e.id)) ? true : undefined;
    },
    options.timeoutMs ?? 240_000,
  ).catch(() => undefined);
  const sentIds = new Set(events.map((e) => e.id));
  return {
    sent: events.length,
    acknowledged: acked.length,
    projected: projected.size,
    lost: acked.filter((e) => !projected.has(e.id)).length,
    duplicated: [...projected.values()].filter((n) => n > 1).length,
    unacknowledgedProjected: events.filter((e) => !e.acknowledged && projected.has(e.id)).length,
    unknown: [...projected.keys()].filter((id) => !sentIds.has(id)).length,
  };
}

/** Waits until the stream has `count` acknowledgements, failing early if it ended. */
export async function acknowledgements(
  stream: EventStream,
  sending: Promise<void>,
  count: number,
): Promise<void> {
  await Promise.race([
    eventually(
      `${count} acknowledgements`,
      async () => (stream.acknowledged >= count ? true : undefined),
      300_000,
    ),
    sending.then(() => {
      throw new Error(`the stream ended after ${stream.acknowledged} acknowledgements`);
    }),
  ]);
}

/**
 * How often each event id is in the normalized topics of `tenants` (committed records). ClickHouse
 * folds duplicates; the topic does not.
 */
export async function normalizedCopies(tenants: readonly string[]): Promise<Map<string, number>> {
  const copies = new Map<string, number>();
  for (const tenant of tenants)
    for (const record of await readTopic(tenantTopic(tenant, 'normalized'))) {
      const { event_id } = JSON.parse(record.value.toString('utf8', 5)) as { event_id: string };
      copies.set(event_id, (copies.get(event_id) ?? 0) + 1);
    }
  return copies;
}
