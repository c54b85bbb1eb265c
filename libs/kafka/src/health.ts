/**
 * Owns the periodic health evidence of a process (DESIGN §13): every interval it runs the
 * process's probe (e.g. a ClickHouse ping), reads its stage's consumer lag from the broker into
 * the `aispm_consumer_lag_messages` gauge, and publishes one `health-evidence.v1` record per
 * tenant to `aispm.health` (keyed by tenant), built from the Metrics registry.
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import { parseTenantTopic, SHARED_TOPICS, TOPIC_SCHEMAS, type HealthEvidence } from '@aispm/contracts';
import { evidenceSince, readEvidence, type Logger, type Metrics, type Readings } from '@aispm/observability';
import type { StageCodec } from './codec';
import { consumerLag } from './lag';

/** The consumer group and input topics whose lag a process reports. */
export interface LagSource {
  groupId(): string;
  topics(): string[];
}

/** Who reports, how often, and what extra it measures. */
export interface HealthReporterSettings {
  readonly service: string;
  readonly instanceId: string;
  readonly intervalMs: number;
  /** A stage whose lag is measured each interval; its tenants report even when idle. */
  readonly lag?: LagSource;
  /** Runs before each report, e.g. a storage ping that sets `aispm_storage_up`. */
  readonly probe?: () => Promise<void>;
  /**
   * How long the stage has been stalled (0 when it is not): reported as `stalled_ms` for every
   * tenant it serves, since a stalled stage holds back all of them.
   */
  readonly stalledMs?: () => number;
}

/** Publishes a process's health evidence every interval. */
export class HealthReporter {
  private readonly producer: Producer;
  private readonly admin: Admin;
  private timer: NodeJS.Timeout | undefined;
  private previous: Readings | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    kafka: Kafka,
    private readonly codec: StageCodec,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly settings: HealthReporterSettings,
  ) {
    // Not idempotent and bounded retries: a lost record is a gap in evidence, never a stall.
    this.producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 2 } });
    this.admin = kafka.admin();
  }

  async start(): Promise<void> {
    await Promise.all([this.producer.connect(), this.admin.connect()]);
    this.timer = setInterval(() => {
      this.running = this.running.then(async () => {
        await this.report();
      });
    }, this.settings.intervalMs);
  }

  /** Stops the timer after a last report, so the final interval's counts are not lost. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.report();
    await Promise.all([this.producer.disconnect(), this.admin.disconnect()]);
  }

  /** Measures and publishes one round of evidence; failures are logged and counted, not thrown. */
  async report(): Promise<HealthEvidence[]> {
    try {
      await this.settings.probe?.();
      const lagByTenant = await this.measureLag();
      const current = await readEvidence(this.metrics);
      const evidence = evidenceSince(this.previous, current, lagByTenant.keys(), lagByTenant);
      this.previous = current;
      const observedMs = Date.now();
      const records = [...evidence].map(([tenant, metrics]): HealthEvidence => ({
        schema_version: 'aispm.health_evidence.v1',
        service: this.settings.service,
        instance: this.settings.instanceId,
        tenant,
        observed_ms: observedMs,
        metrics,
      }));
      if (records.length > 0) {
        await this.producer.send({
          topic: SHARED_TOPICS.health,
          acks: -1,
          messages: await Promise.all(
            records.map(async (record) => ({
              key: record.tenant!,
              value: await this.codec.encode(TOPIC_SCHEMAS.health, record),
            })),
          ),
        });
      }
      this.metrics.healthRecords.inc({ outcome: 'published' }, records.length);
      return records;
    } catch (error) {
      this.metrics.healthRecords.inc({ outcome: 'failed' });
      this.logger.warn({ err: error }, 'health evidence not published; next interval tries again');
      return [];
    }
  }

  /**
   * Sets the lag gauge per partition and returns each subscribed tenant's total lag; a tenant
   * whose lag could not be read (e.g. deleted a moment ago, still subscribed until the next topic
   * refresh) reports without `lag_messages` rather than with a false 0.
   */
  private async measureLag(): Promise<Map<string, Record<string, number>>> {
    const source = this.settings.lag;
    const byTenant = new Map<string, Record<string, number>>();
    if (!source) return byTenant;
    const topics = source.topics();
    for (const topic of topics) byTenant.set(parseTenantTopic(topic)!.tenant, {});
    const lags = await consumerLag(this.admin, source.groupId(), topics).catch((error: unknown) => {
      this.logger.debug({ err: error }, 'lag not measured this interval');
      return [];
    });
    const stalled = this.settings.stalledMs?.() ?? 0;
    if (stalled > 0) for (const total of byTenant.values()) total.stalled_ms = stalled;
    // Reset first, so the partitions of a deleted tenant stop being reported.
    this.metrics.consumerLag.reset();
    for (const { topic, partition, lag } of lags) {
      this.metrics.consumerLag.set(
        { group: source.groupId(), topic, partition: String(partition) },
        Number(lag),
      );
      const total = byTenant.get(parseTenantTopic(topic)!.tenant)!;
      total.lag_messages = (total.lag_messages ?? 0) + Number(lag);
    }
    return byTenant;
  }
}
