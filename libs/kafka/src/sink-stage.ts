/**
 * Owns the sink stage (projector): consume and write to storage in writes that span partitions
 * and tenants, committing offsets only after the write is durable. Its sink must be idempotent,
 * since a crash between write and commit redelivers what was written.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { Logger, Metrics } from '@aispm/observability';
import type { StageCodec } from './codec';
import { EXACTLY_ONCE_RETRY, PARTITIONER } from './client';
import { StageRunner, type RoundEntry, type StageSettings } from './loop';
import { commitAfter, sendAll, type Outgoing } from './offsets';
import type { StageInput, StageSink } from './results';

/** Settings of a sink stage. */
export interface SinkStageSettings<I> extends StageSettings {
  readonly sink: StageSink<I>;
  /** A write goes out when this many inputs are buffered (AISPM_SINK_BATCH_ROWS)… */
  readonly flushRows: number;
  /** …or when the oldest buffered input has waited this long (AISPM_SINK_FLUSH_MS). */
  readonly flushMs: number;
}

/** A batch decoded into a sink's buffer. */
interface Buffered<I> {
  readonly entry: RoundEntry;
  readonly inputs: StageInput<I>[];
  readonly deadLetters: Outgoing[];
}

/**
 * A batch is buffered and its fetch position moved on at once, so fetching goes on while the
 * buffer fills; the buffer is written when it holds `flushRows` inputs or its oldest has waited
 * `flushMs`. A rebalance empties the buffer: KafkaJS fetches again from the committed offsets.
 */
export class SinkStage<I> extends StageRunner<I> {
  private readonly producer: Producer;
  private buffer: Buffered<I>[] = [];
  private bufferedRows = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private generation = 0;

  constructor(
    kafka: Kafka,
    private readonly sinkSettings: SinkStageSettings<I>,
    codec: StageCodec,
    logger: Logger,
    metrics: Metrics,
  ) {
    super(kafka, sinkSettings, codec, logger, metrics);
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: PARTITIONER,
      retry: EXACTLY_ONCE_RETRY,
    });
  }

  override async start(): Promise<void> {
    await this.producer.connect();
    await super.start();
  }

  protected rebalanced(): void {
    this.generation += 1;
    this.buffer = [];
    this.bufferedRows = 0;
    this.clearFlushTimer();
  }

  protected override async beforeDisconnect(): Promise<void> {
    await this.flush();
  }

  protected async afterDisconnect(): Promise<void> {
    this.clearFlushTimer();
    await this.producer.disconnect();
  }

  protected async takeUp(entry: RoundEntry): Promise<void> {
    const inputs: StageInput<I>[] = [];
    const deadLetters: Outgoing[] = [];
    for (const message of entry.batch.messages) {
      const decoded = await this.decode(entry, message);
      if ('value' in decoded) inputs.push(decoded);
      else deadLetters.push(await this.deadLetter(entry, message, decoded));
    }
    if (entry.isStale() || this.stopping) return;
    this.buffer.push({ entry, inputs, deadLetters });
    this.bufferedRows += inputs.length + deadLetters.length;
    // Fetching goes on from here; the commit follows the write.
    entry.outcome = 'done';
    this.flushTimer ??= setTimeout(() => void this.flush(), this.sinkSettings.flushMs);
    if (this.bufferedRows >= this.sinkSettings.flushRows) await this.flush();
  }

  private clearFlushTimer(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** Writes what is buffered now, after any write already under way. */
  private flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeBuffer());
    return this.flushing;
  }

  private async writeBuffer(): Promise<void> {
    this.clearFlushTimer();
    const taken = this.buffer;
    const generation = this.generation;
    this.buffer = [];
    this.bufferedRows = 0;
    if (taken.length === 0) return;
    const entries = taken.map(({ entry }) => ({ ...entry, outcome: undefined }) as RoundEntry);
    const started = Date.now();
    for (const entry of entries) this.progress.started(entry.key, started);
    try {
      await this.writeTaken(taken, entries, generation);
    } finally {
      for (const entry of entries) this.progress.settled(entry.key);
      this.metrics.stageBatchDuration.observe({ service: this.settings.service }, Date.now() - started);
    }
  }

  /** Writes and commits the taken batches, again after a backoff while it fails, unless they went stale. */
  private async writeTaken(taken: Buffered<I>[], entries: RoundEntry[], generation: number): Promise<void> {
    let mine: Buffered<I>[] = [];
    await this.retrying({
      attempt: async () => {
        // A rebalance since these were fetched: the new owner (perhaps this instance) reads them again.
        if (generation !== this.generation) return true;
        const live = new Set(this.dropStale(entries).map((entry) => entry.key));
        mine = taken.filter(({ entry }) => live.has(entry.key));
        if (mine.length > 0) await this.write(mine, generation);
        return true;
      },
      pending: () => mine.map(({ entry }) => entry),
      // A heartbeat that fails means the group is rebalancing: what was taken is fetched again.
      heartbeat: () =>
        taken[0]!.entry.heartbeat().then(
          () => true,
          () => false,
        ),
      failed: 'sink write failed; retrying',
    });
  }

  private async write(buffered: readonly Buffered<I>[], generation: number): Promise<void> {
    const inputs = buffered.flatMap((b) => b.inputs);
    if (inputs.length > 0) await this.sinkSettings.sink(inputs);
    const deadLetters = buffered.flatMap((b) => b.deadLetters);
    if (deadLetters.length > 0) await sendAll(this.producer, deadLetters);
    const perTenant = new Map<string, number>();
    for (const input of inputs) perTenant.set(input.tenant, (perTenant.get(input.tenant) ?? 0) + 1);
    for (const [tenant, count] of perTenant)
      this.metrics.stageMessages.inc({ service: this.settings.service, tenant, outcome: 'ok' }, count);
    if (generation !== this.generation) return;
    const latest = new Map<string, { topic: string; partition: number; offset: string }>();
    for (const { entry } of buffered)
      latest.set(entry.key, {
        topic: entry.batch.topic,
        partition: entry.batch.partition,
        offset: commitAfter(entry.batch),
      });
    await this.consumer.commitOffsets([...latest.values()]);
  }
}
