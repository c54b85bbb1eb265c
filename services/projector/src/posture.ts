/**
 * Publishes posture deltas to `aispm.<t>.posture` (DESIGN §10) and keeps each tenant's freshness
 * watermark. The sink calls `publish` after its ClickHouse insert returned and before its offsets
 * are committed, so a delta never announces a row that is not stored, and a crash in between
 * publishes the batch's deltas again (at least once; deltas name their events).
 *
 * Deltas are keyed by tenant, so all of a tenant's deltas share one partition and a subscriber
 * sees them, watermarks included, in the order they were published.
 *
 * The watermark is recomputed every PROJECTOR_WATERMARK_INTERVAL_MS for tenants this instance
 * projected into since it last caught up, from every stage's offsets through the one definition
 * of freshness (`FreshnessTracker`, libs/projection/src/freshness.ts), and a `watermark` delta is
 * published whenever it moved.
 */
import { tenantTopic, TOPIC_SCHEMAS, type NormalizedEvent, type PostureDelta } from '@aispm/contracts';
import {
  EXACTLY_ONCE_RETRY,
  pipelineOffsets,
  sendChunked,
  type KafkaAdmin,
  type KafkaClient,
  type KafkaProducer,
  type StageCodec,
  type StageOffsets,
} from '@aispm/kafka';
import type { Logger } from '@aispm/observability';
import { FreshnessTracker, postureDeltas, type DeltaWatermark } from '@aispm/projection';

/** Most tenants one watermark refresh reads (see PosturePublisher.due). */
const WATERMARKS_PER_REFRESH = 100;

export class PosturePublisher {
  private readonly producer: KafkaProducer;
  private readonly admin: KafkaAdmin;
  private readonly tracker = new FreshnessTracker();
  /** The watermark each tenant's deltas carry, as last published. */
  private readonly freshness = new Map<string, DeltaWatermark>();
  /**
   * Tenants whose watermark may still move (projected into since they last caught up), with a
   * count of batches, so a refresh racing with a publish does not retire a tenant it never saw.
   */
  private readonly active = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    kafka: KafkaClient,
    private readonly codec: StageCodec,
    private readonly groupPrefix: string,
    private readonly logger: Logger,
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: EXACTLY_ONCE_RETRY,
    });
    this.admin = kafka.admin();
  }

  async start(intervalMs: number): Promise<void> {
    await Promise.all([this.producer.connect(), this.admin.connect()]);
    this.timer = setInterval(() => {
      this.ticking = this.ticking
        .then(() => this.refresh(this.due()))
        .catch((error: unknown) => this.logger.warn({ err: error }, 'watermark refresh failed; will retry'));
    }, intervalMs);
  }

  /**
   * The active tenants whose watermark was observed longest ago, at most
   * WATERMARKS_PER_REFRESH: a refresh reads three topics' offsets per tenant, so with more
   * active tenants than that each one's watermark moves every few intervals instead of the
   * refresh growing with the tenant count.
   */
  private due(): string[] {
    const observed = (tenant: string) => this.freshness.get(tenant)?.observed_ms ?? 0;
    return [...this.active.keys()].sort((a, b) => observed(a) - observed(b)).slice(0, WATERMARKS_PER_REFRESH);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    await Promise.all([this.producer.disconnect(), this.admin.disconnect()]);
  }

  /** Publishes the deltas of a batch of `tenant`'s events that ClickHouse has just stored. */
  async publish(eventsByTenant: ReadonlyMap<string, readonly NormalizedEvent[]>): Promise<void> {
    // A tenant this process has not seen yet gets its watermark first, so no delta says 0.
    await this.refresh([...eventsByTenant.keys()].filter((tenant) => !this.freshness.has(tenant)));
    const now = Date.now();
    const deltas = new Map<string, PostureDelta[]>();
    for (const [tenant, events] of eventsByTenant) {
      this.active.set(tenant, (this.active.get(tenant) ?? 0) + 1);
      deltas.set(tenant, postureDeltas(tenant, events, this.freshness.get(tenant)!, now));
    }
    await this.send(deltas);
  }

  /** One request for the deltas of every tenant. */
  private async send(deltasByTenant: ReadonlyMap<string, readonly PostureDelta[]>): Promise<void> {
    const topicMessages = [];
    for (const [tenant, deltas] of deltasByTenant) {
      const messages = [];
      for (const delta of deltas) {
        messages.push({ key: tenant, value: await this.codec.encode(TOPIC_SCHEMAS.posture, delta) });
      }
      topicMessages.push({ topic: tenantTopic(tenant, 'posture'), messages });
    }
    await sendChunked(this.producer, topicMessages);
  }

  /**
   * Recomputes the watermarks of `tenants`, publishing a `watermark` delta where one moved: one
   * offsets read per stage for all of them, however many tenants.
   */
  private async refresh(tenants: readonly string[]): Promise<void> {
    if (tenants.length === 0) return;
    const batches = new Map(tenants.map((tenant) => [tenant, this.active.get(tenant)]));
    // TRICKY: the time is taken before the offsets are read, so every event accepted before it
    // is below the end offsets they show.
    const observedMs = Date.now();
    const offsets = await pipelineOffsets(this.admin, this.groupPrefix, tenants);
    const moved = new Map<string, PostureDelta[]>();
    for (const tenant of tenants) {
      const stages = offsets.get(tenant);
      if (!stages) {
        // The tenant was deleted: nothing left to watch or publish to.
        this.active.delete(tenant);
        this.freshness.delete(tenant);
        this.tracker.forget(tenant);
        continue;
      }
      const before = this.freshness.get(tenant);
      const fresh = this.tracker.observe(tenant, stages, observedMs);
      const published: DeltaWatermark = {
        // A partition added to the tenant is not caught up yet; the published value never moves back.
        watermark_ms: Math.max(before?.watermark_ms ?? 0, fresh.watermark_ms ?? 0),
        observed_ms: observedMs,
        lag: {
          redactor: lagOf(stages, 'redactor'),
          normalizer: lagOf(stages, 'normalizer'),
          projector: lagOf(stages, 'projector'),
        },
      };
      this.freshness.set(tenant, published);
      if (fresh.caught_up && this.active.get(tenant) === batches.get(tenant)) this.active.delete(tenant);
      if (before && published.watermark_ms > before.watermark_ms) {
        moved.set(tenant, [
          {
            schema_version: 'aispm.posture_delta.v1',
            tenant,
            kind: 'watermark',
            produced_ms: Date.now(),
            data: {},
            watermark: published,
          },
        ]);
      }
    }
    if (moved.size > 0) await this.send(moved);
  }
}

/** A stage's lag on the tenant, over its partitions. */
function lagOf(stages: readonly StageOffsets[], service: string): number {
  const stage = stages.find((candidate) => candidate.service === service);
  return Number((stage?.partitions ?? []).reduce((total, p) => total + p.lag, 0n));
}
