/**
 * Owns the consume loop every pipeline worker shares: one consumer in the stage's group, whose
 * partition batches are taken up by the stage kind (a transform's rounds, a sink's buffer),
 * decoded (what does not decode is dead-lettered rather than a stuck partition), retried with
 * backoff while they fail, and given up when they no longer need doing: batches of tenants deleted
 * meanwhile, batches the group has moved to another instance. It never hands an error to
 * KafkaJS, whose retry would restart the consumer and rebalance the group.
 *
 * Alive means the loop is making progress (LoopLiveness); ready means subscribed and no batch
 * stalled (BatchProgress, read by @aispm/service's runWorker).
 */
import type { Admin, Batch, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Config } from '@aispm/config';
import { parseTenantTopic, TOPIC_SCHEMAS } from '@aispm/contracts';
import { isRetriable } from '@aispm/errors';
import type { Logger, Metrics } from '@aispm/observability';
import type { StageCodec } from './codec';
import { TenantDeadLetters } from './dead-letters';
import { tuneStageFetches } from './stage-fetch';
import { readHeaders, toTopicMessage } from './messages';
import type { Outgoing } from './offsets';
import { BatchProgress, LIVENESS_MS, LoopLiveness } from './progress';
import { failureOf, type Failure, type StageInput } from './results';
import { shardAssigner, type TopicPartition } from './shards';
import { TenantSubscription, type SubscriptionSettings, type TenantSource } from './subscription';

/** Settings shared by both kinds of stage. */
export interface StageSettings extends SubscriptionSettings {
  readonly service: string;
  readonly instanceId: string;
  /** Prefix of the consumer group and transactional ids (AISPM_GROUP_PREFIX). */
  readonly groupPrefix: string;
  /** Shards of the input partitions (AISPM_STAGE_SHARDS); the same in every instance. */
  readonly shards: number;
  /** A fetch (a round) returns once this much is waiting (AISPM_STAGE_FETCH_MIN_BYTES)… */
  readonly fetchMinBytes: number;
  /** …or after this long (AISPM_STAGE_FETCH_MAX_WAIT_MS). */
  readonly fetchMaxWaitMs: number;
  /**
   * Turns a stored value into the codec's bytes before decoding: the redactor decrypts the raw
   * stage here. An `AppError` it throws dead-letters the message with its code.
   */
  readonly decryptValue?: (tenant: string, value: Buffer) => Promise<Buffer>;
}

/** The configuration keys a worker's stage reads besides the instance and the group prefix. */
export const STAGE_CONFIG_KEYS = [
  'AISPM_TOPIC_REFRESH_MS',
  'AISPM_TENANT_PATTERN',
  'AISPM_STAGE_SHARDS',
  'AISPM_STAGE_FETCH_MIN_BYTES',
  'AISPM_STAGE_FETCH_MAX_WAIT_MS',
] as const;

/** The settings every worker's stage takes from its configuration. */
export function workerStageSettings(
  service: string,
  inputStage: StageSettings['inputStage'],
  tenants: TenantSource,
  config: Config<(typeof STAGE_CONFIG_KEYS)[number] | 'AISPM_INSTANCE_ID' | 'AISPM_GROUP_PREFIX'>,
): StageSettings {
  return {
    service,
    instanceId: config.AISPM_INSTANCE_ID,
    groupPrefix: config.AISPM_GROUP_PREFIX,
    inputStage,
    topicRefreshMs: config.AISPM_TOPIC_REFRESH_MS,
    tenants,
    tenantPattern: config.AISPM_TENANT_PATTERN,
    shards: config.AISPM_STAGE_SHARDS,
    fetchMinBytes: config.AISPM_STAGE_FETCH_MIN_BYTES,
    fetchMaxWaitMs: config.AISPM_STAGE_FETCH_MAX_WAIT_MS,
  };
}

/** The consumer group of a service's stage. */
export function stageGroupId(groupPrefix: string, service: string): string {
  return `${groupPrefix}-${service}`;
}

/** How progress and rounds name a partition. */
export function partitionKey({ topic, partition }: TopicPartition): string {
  return `${topic}:${partition}`;
}

/** Partitions KafkaJS may hand over at once: the most one round can gather. */
const ROUND_PARTITIONS = 1024;

/** Backoff between attempts at a failed round. */
export function backoffMs(attempt: number): number {
  return Math.min(5000, 200 * 2 ** attempt);
}

/** One partition batch in a round, and what became of it. */
export interface RoundEntry {
  readonly batch: Batch;
  readonly tenant: string;
  readonly key: string;
  readonly isRunning: () => boolean;
  readonly isStale: () => boolean;
  readonly heartbeat: () => Promise<void>;
  /**
   * done: durable and committed (or committed before, by whoever held it); gone: its tenant is
   * deleted, so the fetch moves on and nothing is committed; dropped: not to be done here (the
   * group moved the partition, or shutdown), so it is fetched again by whoever holds it.
   */
  outcome?: 'done' | 'gone' | 'dropped';
}

/** How {@link StageRunner.retrying} goes about one piece of work. */
interface Retried {
  /** One attempt; true once nothing is left to do. */
  readonly attempt: () => Promise<boolean>;
  /** What the last attempt had to do, for the retry's metrics and log. */
  readonly pending: () => readonly RoundEntry[];
  /** Stays in the group between attempts; false (or a throw) ends the work: the group is rebalancing. */
  readonly heartbeat: () => Promise<boolean>;
  /** The log line of a failed attempt. */
  readonly failed: string;
}

/** Base of both stage kinds: the consumer, its subscription, decoding, retries and health. */
export abstract class StageRunner<I> {
  protected readonly consumer: Consumer;
  protected readonly admin: Admin;
  protected readonly progress = new BatchProgress();
  private readonly liveness = new LoopLiveness(LIVENESS_MS, Date.now());
  private readonly subscription: TenantSubscription;
  private readonly deadLetters: TenantDeadLetters;
  protected stopping = false;

  protected constructor(
    protected readonly kafka: Kafka,
    protected readonly settings: StageSettings,
    protected readonly codec: StageCodec,
    protected readonly logger: Logger,
    protected readonly metrics: Metrics,
  ) {
    this.consumer = kafka.consumer({
      groupId: this.groupId(),
      // TRICKY: read_committed, so a transform stage never sees output of an aborted transaction.
      readUncommitted: false,
      sessionTimeout: 30_000,
      // Bounds how long a join waits for slow members, so a rebalance cannot stall shutdown.
      rebalanceTimeout: 10_000,
      heartbeatInterval: 3000,
      allowAutoTopicCreation: false,
      partitionAssigners: [shardAssigner(settings.shards)],
      // Bigger rounds under load: a transaction costs a marker per partition it wrote, whatever
      // it carries there.
      minBytes: settings.fetchMinBytes,
      maxWaitTimeInMs: settings.fetchMaxWaitMs,
    });
    tuneStageFetches(this.consumer);
    this.admin = kafka.admin();
    this.deadLetters = new TenantDeadLetters(settings.service, codec, logger, metrics);
    this.subscription = new TenantSubscription(
      this.consumer,
      settings,
      logger,
      () => this.run(),
      () => this.beat(),
    );
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      const owned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => ({ topic, partition })),
      );
      this.progress.retain(new Set(owned.map(partitionKey)));
      this.rebalanced(owned);
      this.beat();
    });
    // An idle fetch returns within the idle wait (idle-fetch.ts) and heartbeats: both say the loop turns.
    this.consumer.on(this.consumer.events.FETCH, () => this.beat());
    this.consumer.on(this.consumer.events.HEARTBEAT, () => this.beat());
  }

  /** The group rebalanced; `owned` is what this instance holds now. */
  protected abstract rebalanced(owned: readonly TopicPartition[]): void;

  /**
   * Takes up one partition batch; resolves once it is done (its outcome set), given up, or, for a
   * sink, buffered.
   */
  protected abstract takeUp(entry: RoundEntry): Promise<void>;

  /** Connects, subscribes to the stage's topics of the live tenants and follows tenant changes. */
  async start(): Promise<void> {
    await Promise.all([this.consumer.connect(), this.admin.connect()]);
    await this.subscription.start();
  }

  /** The consumer group of this stage. */
  groupId(): string {
    return stageGroupId(this.settings.groupPrefix, this.settings.service);
  }

  /** The input topics this instance is subscribed to now. */
  topics(): string[] {
    return this.subscription.topics();
  }

  /**
   * Alive: the consume loop is making progress (fetches, heartbeats, round attempts), or there is
   * nothing to consume; not shutting down. A round that keeps failing is progress here and shows
   * in readiness instead (see stalledForMs).
   */
  healthy(): boolean {
    return !this.stopping && (this.subscription.idle() || this.liveness.alive(Date.now()));
  }

  /** Ready: subscribed to the live tenants' topics (none is fine), and not shutting down. */
  ready(): boolean {
    return !this.stopping && this.subscription.ready();
  }

  /** How long the oldest batch taken up and not yet done has been at it (see BatchProgress). */
  stalledForMs(): number {
    return this.progress.busyForMs(Date.now());
  }

  /** Stops fetching, lets the in-flight round finish and commit, then disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.subscription.stop();
    await this.beforeDisconnect();
    await this.consumer.disconnect();
    await this.afterDisconnect();
    await this.admin.disconnect();
  }

  /** Runs while still in the group, e.g. a sink's last flush. */
  protected async beforeDisconnect(): Promise<void> {}

  /** Closes what the stage kind holds, e.g. its producers. */
  protected abstract afterDisconnect(): Promise<void>;

  protected beat(): void {
    this.liveness.beat(Date.now());
  }

  /** Runs the subscribed consumer: each batch is taken up, and moves the fetch on unless dropped. */
  private async run(): Promise<void> {
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: ROUND_PARTITIONS,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (batch.messages.length === 0 || !isRunning() || isStale() || this.stopping) return;
        const entry: RoundEntry = {
          batch,
          tenant: parseTenantTopic(batch.topic)!.tenant,
          key: partitionKey(batch),
          isRunning,
          isStale,
          heartbeat,
        };
        await this.takeUp(entry);
        // A dropped batch is fetched again; the others move the fetch position on.
        if (entry.outcome === 'done' || entry.outcome === 'gone') resolveOffset(batch.lastOffset());
      },
    });
  }

  /**
   * Does a piece of work until it is done, again after a backoff while it fails, staying in the
   * group meanwhile. Shutting down ends it: what failed is left uncommitted, for whoever reads it
   * next.
   */
  protected async retrying({ attempt, pending, heartbeat, failed }: Retried): Promise<void> {
    for (let attempts = 0; ; attempts += 1) {
      try {
        if (await attempt()) return;
      } catch (error) {
        const todo = pending();
        const tenants = [...new Set(todo.map((entry) => entry.tenant))];
        for (const tenant of tenants)
          this.metrics.retries.inc({ operation: `${this.settings.service}_batch`, tenant });
        this.logger.warn(
          { err: error, tenants: tenants.slice(0, 20), partitions: todo.length, attempt: attempts },
          failed,
        );
        if (this.stopping) return;
      }
      this.beat();
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempts)));
      if (!(await heartbeat())) return;
    }
  }

  /** Marks what is no longer to be done here: batches of deleted tenants, batches moved away. */
  protected dropStale(entries: readonly RoundEntry[]): RoundEntry[] {
    for (const entry of entries) {
      if (entry.outcome !== undefined) continue;
      if (!entry.isRunning() || entry.isStale()) entry.outcome = 'dropped';
      else if (!this.settings.tenants.isLive(entry.tenant)) {
        entry.outcome = 'gone';
        this.logger.info(
          { tenant: entry.tenant, topic: entry.batch.topic },
          'batch of a deleted tenant dropped',
        );
      }
    }
    return entries.filter((entry) => entry.outcome === undefined);
  }

  /** Decodes one message of `entry`; what does not decode is a failure to dead-letter. */
  protected async decode(entry: RoundEntry, message: KafkaMessage): Promise<StageInput<I> | Failure> {
    const { tenant, batch } = entry;
    try {
      const stored = message.value ?? Buffer.alloc(0);
      const bytes = this.settings.decryptValue ? await this.settings.decryptValue(tenant, stored) : stored;
      const value = await this.codec.decode<I>(bytes, TOPIC_SCHEMAS[this.settings.inputStage]);
      return {
        tenant,
        topic: batch.topic,
        partition: batch.partition,
        offset: message.offset,
        key: message.key?.toString(),
        headers: readHeaders(message.headers),
        value,
      };
    } catch (error) {
      if (isRetriable(error)) throw error;
      return failureOf(error, 'KAFKA_DECODE_FAILED');
    }
  }

  /** The dead letter of a message of `entry`, to produce with the rest of the entry's work. */
  protected deadLetter(entry: RoundEntry, message: KafkaMessage, failure: Failure): Promise<Outgoing> {
    const { tenant, batch } = entry;
    return this.deadLetters.letter(
      tenant,
      batch.topic,
      batch.partition,
      toTopicMessage(batch.partition, message),
      failure,
    );
  }
}
