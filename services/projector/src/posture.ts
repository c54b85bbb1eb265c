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
 * projected into since it last caught up (libs/projection/src/watermark.ts says how), and a
 * `watermark` delta is published whenever it moved.
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import { inList, name, sql, type ClickHouse, type Sql } from '@aispm/clickhouse';
import { tenantTopic, TOPIC_SCHEMAS, type NormalizedEvent, type PostureDelta } from '@aispm/contracts';
import {
  consumerLag,
  EXACTLY_ONCE_RETRY,
  sendChunked,
  stageGroupId,
  type PartitionLag,
  type StageCodec,
} from '@aispm/kafka';
import type { Logger } from '@aispm/observability';
import {
  advanceWatermark,
  INITIAL_WATERMARK,
  postureDeltas,
  type DeltaWatermark,
  type WatermarkState,
} from '@aispm/projection';

interface TenantFreshness {
  state: WatermarkState;
  published: DeltaWatermark;
}

/** The stage whose consumer group reads each topic, in flow order. */
const READERS = [
  { stage: 'raw', service: 'redactor' },
  { stage: 'redacted', service: 'normalizer' },
  { stage: 'normalized', service: 'projector' },
] as const;

/** Most tenants one watermark refresh reads (see PosturePublisher.due). */
const WATERMARKS_PER_REFRESH = 100;

export class PosturePublisher {
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly eventsTable: Sql;
  private readonly freshness = new Map<string, TenantFreshness>();
  /**
   * Tenants whose watermark may still move (projected into since they last caught up), with a
   * count of batches, so a refresh racing with a publish does not retire a tenant it never saw.
   */
  private readonly active = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    kafka: Kafka,
    private readonly codec: StageCodec,
    private readonly clickhouse: ClickHouse,
    database: string,
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
    this.eventsTable = sql`${name(database)}.events`;
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
    const observed = (tenant: string) => this.freshness.get(tenant)?.published.observed_ms ?? 0;
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
      deltas.set(tenant, postureDeltas(tenant, events, this.freshness.get(tenant)!.published, now));
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
   * offsets read per stage and one ClickHouse query for all of them, however many tenants.
   */
  private async refresh(tenants: readonly string[]): Promise<void> {
    if (tenants.length === 0) return;
    const batches = new Map(tenants.map((tenant) => [tenant, this.active.get(tenant)]));
    // TRICKY: the time is taken before the raw end offsets are read, so every event accepted
    // before it is below them.
    const observedMs = Date.now();
    const [raw, redacted, normalized] = await Promise.all(
      READERS.map(async ({ stage, service }) =>
        byTopic(
          await consumerLag(
            this.admin,
            stageGroupId(this.groupPrefix, service),
            tenants.map((tenant) => tenantTopic(tenant, stage)),
          ),
        ),
      ),
    );
    const projected = await this.projectedNext(tenants);
    const moved = new Map<string, PostureDelta[]>();
    for (const tenant of tenants) {
      const rawLags = raw!.get(tenantTopic(tenant, 'raw'));
      if (!rawLags) {
        // The tenant was deleted: nothing left to watch or publish to.
        this.active.delete(tenant);
        this.freshness.delete(tenant);
        continue;
      }
      const before = this.freshness.get(tenant);
      const state = advanceWatermark(
        before?.state ?? INITIAL_WATERMARK,
        { at_ms: observedMs, ends: new Map(rawLags.map((p) => [p.partition, p.end])) },
        projected.get(tenant) ?? new Map(),
      );
      const total = (lags: readonly PartitionLag[] | undefined) =>
        Number((lags ?? []).reduce((sum, p) => sum + p.lag, 0n));
      const published: DeltaWatermark = {
        watermark_ms: state.watermark_ms,
        observed_ms: observedMs,
        lag: {
          redactor: total(rawLags),
          normalizer: total(redacted!.get(tenantTopic(tenant, 'redacted'))),
          projector: total(normalized!.get(tenantTopic(tenant, 'normalized'))),
        },
      };
      this.freshness.set(tenant, { state, published });
      if (state.pending.length === 0 && this.active.get(tenant) === batches.get(tenant))
        this.active.delete(tenant);
      if (before && state.watermark_ms > before.state.watermark_ms) {
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

  /** Per tenant and raw partition, the offset after the highest one whose event is in ClickHouse. */
  private async projectedNext(tenants: readonly string[]): Promise<Map<string, Map<number, bigint>>> {
    const rows = await this.clickhouse.query<{ tenant: string; partition: number; next: string }>(
      sql`SELECT tenant, source_partition AS partition, toString(max(source_offset) + 1) AS next FROM ${this.eventsTable}
        WHERE tenant IN ${inList(tenants)} AND source_topic IN ${inList(tenants.map((tenant) => tenantTopic(tenant, 'raw')))}
        GROUP BY tenant, source_partition`,
    );
    const projected = new Map<string, Map<number, bigint>>();
    for (const row of rows) {
      const ofTenant = projected.get(row.tenant) ?? new Map<number, bigint>();
      ofTenant.set(Number(row.partition), BigInt(row.next));
      projected.set(row.tenant, ofTenant);
    }
    return projected;
  }
}

/** Lags grouped by topic. */
function byTopic(lags: readonly PartitionLag[]): Map<string, PartitionLag[]> {
  const grouped = new Map<string, PartitionLag[]>();
  for (const lag of lags) grouped.set(lag.topic, [...(grouped.get(lag.topic) ?? []), lag]);
  return grouped;
}
