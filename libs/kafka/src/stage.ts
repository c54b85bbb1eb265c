/**
 * Owns the consume loop every pipeline worker shares: following the tenants on the control topic
 * to subscribe to one stage's topics, gathering each fetch's partition batches into one round
 * (round.ts), decoding, calling the service's pure core, dead-lettering what the core rejects,
 * and committing offsets only once output is durable.
 *
 * A transform stage (redactor, normalizer) writes a round's output, dead letters and input offsets
 * in one Kafka transaction per shard of its input partitions (shards.ts), so a crash neither
 * duplicates nor loses a record, and an instance that lost its shards while paused is fenced. A
 * sink stage (projector) buffers rounds across partitions and tenants and writes them in one go
 * on size or time, then commits the offsets; its sink must be idempotent, since a crash between
 * write and commit redelivers what was written.
 *
 * A round that fails is done again, after a backoff, without what no longer needs doing: batches
 * of tenants deleted meanwhile, batches the group has moved to another instance. It never hands
 * an error to KafkaJS, whose retry would restart the consumer and rebalance the group.
 */
import type { Admin, Batch, Consumer, IHeaders, KafkaMessage, Kafka, Message, Producer } from 'kafkajs';
import {
  HEADERS,
  parseTenantTopic,
  tenantTopic,
  TOPIC_SCHEMAS,
  type DlqRecord,
  type SchemaName,
  type TenantStage,
} from '@aispm/contracts';
import { AppError, isRetriable } from '@aispm/errors';
import type { Logger, Metrics } from '@aispm/observability';
import type { StageCodec } from './codec';
import type { WorkerConfig } from './worker';
import { EXACTLY_ONCE_RETRY, PARTITIONER, subscribeWhenReady } from './client';
import { BatchProgress } from './progress';
import { findLastCommitted } from './reader';
import { RoundGate } from './round';
import { ShardProducers } from './shard-producers';
import { shardAssigner, shardOf, type TopicPartition } from './shards';

/** A decoded input message with where it came from. */
export interface StageInput<T> {
  readonly tenant: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly value: T;
}

/** What a core made of one input: output for the next stage, or a dead letter with a code. */
export type StageResult<O> =
  | { readonly ok: true; readonly value: O }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** The tenants a stage works for: the live tenants of the control topic. */
export interface TenantSource {
  live(): readonly string[];
  isLive(tenant: string): boolean;
  /** Calls `listener` after any tenant is created or deleted. */
  onChange(listener: (change: 'created' | 'deleted') => void): void;
}

/** Settings shared by both kinds of stage. */
export interface StageSettings {
  readonly service: string;
  readonly instanceId: string;
  /** Prefix of the consumer group and transactional ids (AISPM_GROUP_PREFIX). */
  readonly groupPrefix: string;
  readonly inputStage: TenantStage;
  /** How long tenant changes are gathered before one re-subscription (AISPM_TOPIC_REFRESH_MS). */
  readonly topicRefreshMs: number;
  readonly tenants: TenantSource;
  /** Tenants this instance serves (AISPM_TENANT_PATTERN). */
  readonly tenantPattern: RegExp;
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

/** The settings every worker's stage takes from its configuration (WORKER_CONFIG_KEYS). */
export function workerStageSettings(
  service: string,
  inputStage: TenantStage,
  tenants: TenantSource,
  config: Pick<
    WorkerConfig,
    | 'AISPM_INSTANCE_ID'
    | 'AISPM_GROUP_PREFIX'
    | 'AISPM_TOPIC_REFRESH_MS'
    | 'AISPM_TENANT_PATTERN'
    | 'AISPM_STAGE_SHARDS'
    | 'AISPM_STAGE_FETCH_MIN_BYTES'
    | 'AISPM_STAGE_FETCH_MAX_WAIT_MS'
  >,
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

/** Headers as strings (KafkaJS hands them over as buffers). */
export function readHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name] = Array.isArray(value) ? String(value[0]) : String(value);
  }
  return out;
}

/** The consumer group of a service's stage. */
export function stageGroupId(groupPrefix: string, service: string): string {
  return `${groupPrefix}-${service}`;
}

/**
 * The offset to commit after a batch. TRICKY: a transaction's commit marker takes an offset after
 * its last message; committing only past the last message would leave every transactionally
 * written partition one behind its end offset, a lag of 1 that never drains.
 */
function commitAfter(batch: Batch): string {
  return (BigInt(batch.lastOffset()) + 1n).toString();
}

/** How long tenant deletions are gathered before the stage leaves their topics. */
const DELETION_GATHER_MS = 100;

/** How progress and rounds name a partition. */
function partitionKey({ topic, partition }: TopicPartition): string {
  return `${topic}:${partition}`;
}

/** Partitions KafkaJS may hand over at once: the most one round can gather. */
const ROUND_PARTITIONS = 1024;

/** Backoff between attempts at a failed round. */
function backoffMs(attempt: number): number {
  return Math.min(5000, 200 * 2 ** attempt);
}

/** One partition batch in a round, and what became of it. */
interface RoundEntry {
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

/** A message to produce, with the topic it goes to. */
interface Outgoing {
  readonly topic: string;
  readonly message: { key: Buffer | string | null; value: Buffer; headers: IHeaders; partition?: number };
}

/** Base of both stage kinds: subscription, rounds, decoding and dead letters. */
abstract class StageRunner<I> {
  protected readonly consumer: Consumer;
  protected readonly admin: Admin;
  private subscribed = new Set<string>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshQueued: NodeJS.Timeout | undefined;
  private refreshDue = 0;
  private refreshing: Promise<void> = Promise.resolve();
  protected readonly progress = new BatchProgress();
  private running = false;
  private subscribedOnce = false;
  protected stopping = false;
  /**
   * KafkaJS gave up on the consumer (a non-retriable crash, e.g. no group coordinator while a
   * broker restarts) and disconnected it; the refresh loop reconnects and re-subscribes it.
   */
  private crashed = false;

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
    this.admin = kafka.admin();
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      const owned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => ({ topic, partition })),
      );
      this.progress.retain(new Set(owned.map(partitionKey)));
      this.rebalanced(owned);
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopping) return;
      this.crashed = true;
      this.running = false;
      this.subscribed = new Set();
      this.logger.error({ err: payload.error }, 'stage consumer crashed; reconnecting at the next refresh');
    });
    // A deleted tenant's topics are deleted right after its record is written: leaving them
    // before they go spares the stage fetches and writes that fail on them.
    settings.tenants.onChange((change) =>
      this.queueRefresh(change === 'deleted' ? DELETION_GATHER_MS : settings.topicRefreshMs),
    );
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
    await this.refreshSubscription();
    // Also the safety net: a crashed consumer is reconnected here.
    this.refreshTimer = setInterval(() => this.queueRefresh(0), Math.max(this.settings.topicRefreshMs, 5000));
  }

  /** Re-subscribes once the burst of tenant changes that called it is over (at most `delayMs` from now). */
  private queueRefresh(delayMs = this.settings.topicRefreshMs): void {
    if (this.stopping) return;
    const due = Date.now() + delayMs;
    if (this.refreshQueued && this.refreshDue <= due) return;
    if (this.refreshQueued) clearTimeout(this.refreshQueued);
    this.refreshDue = due;
    this.refreshQueued = setTimeout(() => {
      this.refreshQueued = undefined;
      this.refreshing = this.refreshing
        .then(() => this.refreshSubscription())
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 're-subscribing failed; will try again');
          this.queueRefresh();
        });
    }, delayMs);
  }

  /** The consumer group of this stage. */
  groupId(): string {
    return stageGroupId(this.settings.groupPrefix, this.settings.service);
  }

  /** The input topics this instance is subscribed to now. */
  topics(): string[] {
    return [...this.subscribed];
  }

  /** Alive: not shutting down (a stuck round shows in readiness, see stalledForMs). */
  healthy(): boolean {
    return !this.stopping;
  }

  /** Ready: subscribed to the live tenants' topics (none is fine), and not shutting down. */
  ready(): boolean {
    return this.subscribedOnce && !this.stopping && !this.crashed;
  }

  /** How long the oldest batch taken up and not yet done has been at it (see BatchProgress). */
  stalledForMs(): number {
    return this.progress.busyForMs(Date.now());
  }

  /** Stops fetching, lets the in-flight round finish and commit, then disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.refreshQueued) clearTimeout(this.refreshQueued);
    // A re-subscription in flight may be waiting on a group rebalance that other stopping
    // members slow down; disconnecting ends it, so give it only a moment to finish.
    await Promise.race([this.refreshing, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    await this.beforeDisconnect();
    await this.consumer.disconnect();
    await this.afterDisconnect();
    await this.admin.disconnect();
  }

  /** Runs while still in the group, e.g. a sink's last flush. */
  protected async beforeDisconnect(): Promise<void> {}

  /** Closes what the stage kind holds, e.g. its producers. */
  protected abstract afterDisconnect(): Promise<void>;

  private wantedTopics(): string[] {
    return this.settings.tenants
      .live()
      .filter((tenant) => this.settings.tenantPattern.test(tenant))
      .map((tenant) => tenantTopic(tenant, this.settings.inputStage))
      .sort();
  }

  private async refreshSubscription(): Promise<void> {
    if (this.stopping) return;
    if (this.crashed) {
      await this.consumer.connect();
      this.crashed = false;
      this.logger.info('stage consumer reconnected');
    }
    const topics = this.wantedTopics();
    const unchanged = topics.length === this.subscribed.size && topics.every((t) => this.subscribed.has(t));
    if (unchanged && (this.running || topics.length === 0)) {
      this.subscribedOnce = true;
      return;
    }
    // KafkaJS resolves a subscription only when subscribing, so a changed tenant set needs a stop
    // and re-subscribe (one rebalance for every change gathered); committed offsets carry over.
    if (this.running) await this.consumer.stop();
    this.running = false;
    this.subscribed = new Set();
    if (topics.length === 0) {
      this.subscribedOnce = true;
      return;
    }
    await subscribeWhenReady(this.consumer, { topics, fromBeginning: true });
    this.subscribed = new Set(topics);
    this.logger.info({ topics: topics.length }, 'subscribed to stage topics');
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
    this.running = true;
    this.subscribedOnce = true;
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

  /** Decodes one message; a decode failure becomes a dead letter rather than a stuck partition. */
  protected async decode(
    topic: string,
    partition: number,
    message: KafkaMessage,
  ): Promise<StageInput<I> | DlqRecord> {
    const { tenant } = parseTenantTopic(topic)!;
    try {
      const stored = message.value ?? Buffer.alloc(0);
      const bytes = this.settings.decryptValue ? await this.settings.decryptValue(tenant, stored) : stored;
      const value = await this.codec.decode<I>(bytes, TOPIC_SCHEMAS[this.settings.inputStage]);
      return {
        tenant,
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString(),
        headers: readHeaders(message.headers),
        value,
      };
    } catch (error) {
      if (isRetriable(error)) throw error;
      return this.deadLetter(
        topic,
        partition,
        message,
        error instanceof AppError ? error.code : 'KAFKA_DECODE_FAILED',
        String((error as Error).message),
      );
    }
  }

  protected deadLetter(
    topic: string,
    partition: number,
    message: KafkaMessage,
    code: string,
    reason: string,
  ): DlqRecord {
    const record: DlqRecord = {
      schema_version: 'aispm.dlq_record.v1',
      service: this.settings.service,
      code,
      message: reason,
      source: { topic, partition, offset: message.offset },
      original_base64: (message.value ?? Buffer.alloc(0)).toString('base64'),
      failed_ms: Date.now(),
    };
    if (message.key) record.original_key = message.key.toString();
    return record;
  }

  protected async dlqMessage(tenant: string, record: DlqRecord, message: KafkaMessage): Promise<Outgoing> {
    this.metrics.stageMessages.inc({ service: this.settings.service, tenant, outcome: 'dlq' });
    this.metrics.dlqMessages.inc({ service: this.settings.service, tenant, code: record.code });
    this.logger.warn({ tenant, code: record.code, source: record.source }, 'message dead-lettered');
    return {
      topic: tenantTopic(tenant, 'dlq'),
      message: {
        key: message.key,
        value: await this.codec.encode(TOPIC_SCHEMAS.dlq, record),
        headers: { ...readHeaders(message.headers), [HEADERS.tenant]: tenant },
      },
    };
  }
}

/** Sends `outgoing` in order, one request per chunk (see {@link produceChunks}). */
async function sendAll(sender: Pick<Producer, 'sendBatch'>, outgoing: readonly Outgoing[]): Promise<void> {
  const byTopic = new Map<string, Outgoing['message'][]>();
  for (const { topic, message } of outgoing) {
    const messages = byTopic.get(topic);
    if (messages) messages.push(message);
    else byTopic.set(topic, [message]);
  }
  await sendChunked(
    sender,
    [...byTopic].map(([topic, messages]) => ({ topic, messages })),
  );
}

/** Offsets to commit, grouped by topic as KafkaJS takes them. */
function byTopic(
  offsets: readonly { topic: string; partition: number; offset: string; metadata?: string }[],
): { topic: string; partitions: { partition: number; offset: string; metadata?: string }[] }[] {
  const grouped = new Map<string, { partition: number; offset: string; metadata?: string }[]>();
  for (const { topic, ...position } of offsets) grouped.set(topic, [...(grouped.get(topic) ?? []), position]);
  return [...grouped].map(([topic, partitions]) => ({ topic, partitions }));
}

/**
 * A transform core: pure, per message. It may be async only to look up what it needs (the
 * redactor's tenant profile and key); the transformation itself stays pure.
 */
export type TransformCore<I, O> = (input: StageInput<I>) => StageResult<O> | Promise<StageResult<O>>;

/** Settings of a transform stage. */
export interface TransformStageSettings<I, O> extends StageSettings {
  readonly outputStage: TenantStage;
  readonly outputSchema: SchemaName;
  readonly core: TransformCore<I, O>;
  /** The output message key, e.g. the session id, so a session stays ordered. */
  readonly keyOf: (output: O, input: StageInput<I>) => string | undefined;
  /** Headers to set on the output over the input's (e.g. the redacted event id). */
  readonly headersOf?: (output: O) => Readonly<Record<string, string>>;
  /** A hash chain over each output partition (the normalizer's integrity chain). */
  readonly chain?: OutputChain<O>;
  /**
   * false: produce and then commit offsets outside any transaction (at least once; a crash can
   * duplicate records and fork a chain). Only to measure what transactions cost.
   */
  readonly transactions?: boolean;
}

/**
 * A per-partition hash chain over a stage's output. With a chain, input partition p writes to
 * output partition p (all of a tenant's topics have the same partition count), so whoever owns
 * input partition p is the only writer of chain p.
 */
export interface OutputChain<O> {
  /** The hash a partition's first record links to. */
  readonly genesis: string;
  /** `output` linked after `prevHash`, with the hash the next record links to. */
  seal(output: O, prevHash: string): { readonly value: O; readonly hash: string };
  /** The hash of a record read back from the output topic; empty if it carries none. */
  hashOf(stored: O): string;
}

/**
 * The offset-commit metadata that carries an output partition's chain head: committed in the same
 * transaction as the output it describes, so a new owner of the partition reads the head with
 * the offsets, in one request, instead of reading the output topic back.
 */
const CHAIN_HEAD_PREFIX = 'chain:';

/** One partition's part of a shard's transaction. */
interface PartitionWork {
  readonly outgoing: Outgoing[];
  readonly offset: { topic: string; partition: number; offset: string; metadata?: string };
  readonly head?: { readonly key: string; readonly hash: string };
}

/** Consume, transform and produce with exactly-once semantics through Kafka transactions. */
export class TransformStage<I, O extends object> extends StageRunner<I> {
  private readonly rounds: RoundGate<RoundEntry>;
  private readonly shardProducers: ShardProducers;
  /**
   * The last committed hash of each output partition, by shard, then by `topic:partition`.
   * TRICKY: an entry only advances after its transaction commits, and a failed transaction drops
   * its shard's entries, as does a rebalance that moves the shard away, so they are read again
   * from what was committed: an aborted transaction or another instance's writes never leave a
   * stale head behind.
   */
  private readonly heads = new Map<number, Map<string, string>>();

  constructor(
    kafka: Kafka,
    private readonly transform: TransformStageSettings<I, O>,
    codec: StageCodec,
    logger: Logger,
    metrics: Metrics,
  ) {
    super(kafka, transform, codec, logger, metrics);
    this.rounds = new RoundGate((entries) => this.runRound(entries));
    this.shardProducers = new ShardProducers(
      kafka,
      this.admin,
      this.groupId(),
      transform.transactions !== false,
      logger,
    );
  }

  /** Hands a batch to the open round and waits for the round. */
  protected takeUp(entry: RoundEntry): Promise<void> {
    return this.rounds.join(entry);
  }

  /** Does a round, again after a backoff while any of it fails, until all of it is done or dropped. */
  private async runRound(entries: RoundEntry[]): Promise<void> {
    const started = Date.now();
    for (const entry of entries) this.progress.started(entry.key, started);
    for (let attempt = 0; ; attempt += 1) {
      const todo = this.dropStale(entries);
      if (todo.length === 0) break;
      try {
        await this.doRound(todo);
        this.dropStale(entries);
        if (entries.every((entry) => entry.outcome !== undefined)) break;
      } catch (error) {
        const tenants = [...new Set(todo.map((entry) => entry.tenant))];
        for (const tenant of tenants)
          this.metrics.retries.inc({ operation: `${this.settings.service}_batch`, tenant });
        this.logger.warn(
          { err: error, tenants: tenants.slice(0, 20), partitions: todo.length, attempt },
          'round failed; retrying',
        );
        // Shutting down: what failed is left uncommitted, for whoever reads it next.
        if (this.stopping) break;
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
      // Staying in the group while retrying. A heartbeat that fails means the group is
      // rebalancing: the round is given up and KafkaJS, handed the error, rejoins.
      try {
        await todo[0]!.heartbeat();
      } catch (error) {
        for (const entry of entries) entry.outcome ??= 'dropped';
        throw error;
      }
    }
    for (const entry of entries) this.progress.settled(entry.key);
    this.metrics.stageBatchDuration.observe({ service: this.settings.service }, Date.now() - started);
  }

  protected rebalanced(owned: readonly TopicPartition[]): void {
    const shards = new Set(owned.map((tp) => shardOf(tp, this.settings.shards)));
    this.shardProducers.retain(shards);
    for (const shard of [...this.heads.keys()]) if (!shards.has(shard)) this.heads.delete(shard);
  }

  protected async afterDisconnect(): Promise<void> {
    await this.rounds.settled();
    await this.shardProducers.stop();
  }

  /** Does the live entries of a round, marking each done; throws to have the rest retried. */
  private async doRound(entries: RoundEntry[]): Promise<void> {
    const byShard = new Map<number, RoundEntry[]>();
    for (const entry of entries) {
      const shard = shardOf(entry.batch, this.settings.shards);
      byShard.set(shard, [...(byShard.get(shard) ?? []), entry]);
    }
    const results = await Promise.allSettled(
      [...byShard].map(async ([shard, mine]) => {
        try {
          await this.doShard(shard, mine);
        } catch (error) {
          this.shardProducers.forget(shard);
          this.heads.delete(shard);
          throw error;
        }
      }),
    );
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  private outputKey(entry: RoundEntry): string {
    return partitionKey({
      topic: tenantTopic(entry.tenant, this.transform.outputStage),
      partition: entry.batch.partition,
    });
  }

  /** One shard's part of a round, in one transaction. */
  private async doShard(shard: number, entries: RoundEntry[]): Promise<void> {
    const lease = await this.shardProducers.lease(shard);
    await lease.load(entries.map((entry) => entry.batch.topic));
    const work: PartitionWork[] = [];
    for (const entry of entries) {
      // What the shard's previous holder committed after this batch was fetched is not done again.
      const { next, metadata } = lease.committed(entry.batch.topic, entry.batch.partition);
      const messages = entry.batch.messages.filter((message) => BigInt(message.offset) >= next);
      if (messages.length === 0) continue;
      const knownHead = this.heads.get(shard)?.get(this.outputKey(entry));
      work.push(await this.transformPartition(entry, messages, knownHead, metadata));
    }
    const outgoing = work.flatMap((part) => part.outgoing);
    const offsets = work.map((part) => part.offset);
    const started = Date.now();
    if (offsets.length === 0) {
      // Every batch here was done by the shard's previous holder.
    } else if (this.transform.transactions === false) {
      await sendAll(lease.producer, outgoing);
      await this.consumer.commitOffsets(offsets);
    } else {
      const transaction = await lease.producer.transaction();
      await sendAll(transaction, outgoing);
      await transaction.sendOffsets({ consumerGroupId: this.groupId(), topics: byTopic(offsets) });
      await transaction.commit();
    }
    const heads = this.heads.get(shard) ?? new Map<string, string>();
    for (const part of work) if (part.head) heads.set(part.head.key, part.head.hash);
    this.heads.set(shard, heads);
    for (const entry of entries) entry.outcome = 'done';
    this.metrics.produceDuration.observe({ service: this.settings.service }, Date.now() - started);
  }

  /** The output of one partition batch (from its first record not done yet) and its offset commit. */
  private async transformPartition(
    entry: RoundEntry,
    messages: readonly KafkaMessage[],
    knownHead: string | undefined,
    committedMetadata: string | null,
  ): Promise<PartitionWork> {
    const { batch, tenant } = entry;
    const outputTopic = tenantTopic(tenant, this.transform.outputStage);
    const { chain } = this.transform;
    const headKey = this.outputKey(entry);
    let head = chain
      ? await this.chainHead(chain, knownHead, outputTopic, batch.partition, committedMetadata)
      : '';
    const outgoing: Outgoing[] = [];
    for (const message of messages) {
      const decoded = await this.decode(batch.topic, batch.partition, message);
      if (!('value' in decoded)) {
        outgoing.push(await this.dlqMessage(tenant, decoded, message));
        continue;
      }
      const result = await this.runCore(decoded);
      if (!result.ok) {
        const record = this.deadLetter(batch.topic, batch.partition, message, result.code, result.message);
        outgoing.push(await this.dlqMessage(tenant, record, message));
        continue;
      }
      try {
        let value = result.value;
        let nextHead = head;
        if (chain) {
          const sealed = chain.seal(value, head);
          value = sealed.value;
          nextHead = sealed.hash;
        }
        outgoing.push({
          topic: outputTopic,
          message: {
            key: this.transform.keyOf(value, decoded) ?? message.key,
            value: await this.codec.encode(this.transform.outputSchema, value),
            headers: { ...decoded.headers, ...this.transform.headersOf?.(value) },
            ...(chain ? { partition: batch.partition } : {}),
          },
        });
        // The chain moves on only over records that go out.
        head = nextHead;
      } catch (error) {
        // Output the next stage's schema refuses is poison too; only an outage is retried.
        if (isRetriable(error)) throw error;
        const code = error instanceof AppError ? error.code : 'STAGE_CORE_FAILED';
        const record = this.deadLetter(
          batch.topic,
          batch.partition,
          message,
          code,
          String((error as Error).message),
        );
        outgoing.push(await this.dlqMessage(tenant, record, message));
        continue;
      }
      this.metrics.stageMessages.inc({ service: this.settings.service, tenant, outcome: 'ok' });
    }
    return {
      outgoing,
      offset: {
        topic: batch.topic,
        partition: batch.partition,
        offset: commitAfter(batch),
        ...(chain ? { metadata: `${CHAIN_HEAD_PREFIX}${head}` } : {}),
      },
      ...(chain ? { head: { key: headKey, hash: head } } : {}),
    };
  }

  /**
   * The hash the next record of an output partition links to: from memory, else from the
   * metadata committed with the input offset, else (offsets committed without one) from the last
   * committed record of the output partition.
   */
  private async chainHead(
    chain: OutputChain<O>,
    known: string | undefined,
    topic: string,
    partition: number,
    committedMetadata: string | null,
  ): Promise<string> {
    if (known !== undefined) return known;
    if (committedMetadata?.startsWith(CHAIN_HEAD_PREFIX))
      return committedMetadata.slice(CHAIN_HEAD_PREFIX.length);
    // Only a chain record can be the head: poison someone wrote to the output topic (bytes that
    // do not decode, a record of another schema) is stepped over, or it would stall the
    // partition or restart the chain from genesis.
    const last = await findLastCommitted(this.kafka, this.admin, topic, partition, async (message) => {
      try {
        return (
          chain.hashOf(await this.codec.decode<O>(message.value, this.transform.outputSchema)) || undefined
        );
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== 'KAFKA_DECODE_FAILED') throw error;
        this.logger.warn(
          { topic, partition, offset: message.offset, code: error.code },
          'not a chain record',
        );
        return undefined;
      }
    });
    const head = last?.value ?? chain.genesis;
    this.logger.info({ topic, partition, offset: last?.offset, head }, 'chain head recovered from the topic');
    return head;
  }

  private async runCore(input: StageInput<I>): Promise<StageResult<O>> {
    try {
      return await this.transform.core(input);
    } catch (error) {
      // Fail closed: a core that throws sends the message to the DLQ, never downstream.
      return {
        ok: false,
        code: error instanceof AppError ? error.code : 'STAGE_CORE_FAILED',
        message: String((error as Error).message),
      };
    }
  }
}

/** Bytes of message values per produce request: well under the broker's 1 MiB message.max.bytes. */
const PRODUCE_CHUNK_BYTES = 512 * 1024;

/**
 * Sends topic messages in order, acks from all replicas, one request per chunk: a batch can
 * outgrow what the broker takes in one record batch (message.max.bytes).
 */
export async function sendChunked<M extends Message & { value: Buffer }>(
  sender: Pick<Producer, 'sendBatch'>,
  topicMessages: readonly { topic: string; messages: readonly M[] }[],
): Promise<void> {
  for (const chunk of produceChunks(topicMessages))
    await sender.sendBatch({ topicMessages: chunk, acks: -1 });
}

/** Splits topic messages into consecutive requests of at most PRODUCE_CHUNK_BYTES of values each. */
export function produceChunks<M extends { value: Buffer }>(
  topicMessages: readonly { topic: string; messages: readonly M[] }[],
): { topic: string; messages: M[] }[][] {
  const chunks: { topic: string; messages: M[] }[][] = [];
  let current: { topic: string; messages: M[] }[] = [];
  let bytes = 0;
  for (const { topic, messages } of topicMessages) {
    for (const message of messages) {
      if (bytes > 0 && bytes + message.value.length > PRODUCE_CHUNK_BYTES) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      const last = current[current.length - 1];
      if (last?.topic === topic) last.messages.push(message);
      else current.push({ topic, messages: [message] });
      bytes += message.value.length;
    }
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Writes inputs durably (e.g. a ClickHouse insert); must be idempotent. Inputs span tenants. */
export type StageSink<I> = (inputs: readonly StageInput<I>[]) => Promise<void>;

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
 * Consume and write to storage in writes that span partitions and tenants, committing offsets only
 * after the write is durable. A batch is buffered and its fetch position moved on at once, so
 * fetching goes on while the buffer fills; the buffer is written when it holds `flushRows`
 * inputs or its oldest has waited `flushMs`. A rebalance empties the buffer: KafkaJS fetches
 * again from the committed offsets.
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
      const decoded = await this.decode(entry.batch.topic, entry.batch.partition, message);
      if ('value' in decoded) inputs.push(decoded);
      else deadLetters.push(await this.dlqMessage(entry.tenant, decoded, message));
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
    for (let attempt = 0; ; attempt += 1) {
      // A rebalance since these were fetched: the new owner (perhaps this instance) reads them again.
      if (generation !== this.generation) return;
      const live = new Set(this.dropStale(entries).map((entry) => entry.key));
      const mine = taken.filter(({ entry }) => live.has(entry.key));
      if (mine.length === 0) return;
      try {
        await this.write(mine, generation);
        return;
      } catch (error) {
        const tenants = [...new Set(mine.map(({ entry }) => entry.tenant))];
        for (const tenant of tenants)
          this.metrics.retries.inc({ operation: `${this.settings.service}_batch`, tenant });
        this.logger.warn(
          { err: error, tenants: tenants.slice(0, 20), attempt },
          'sink write failed; retrying',
        );
        if (this.stopping) return;
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
      // A heartbeat that fails means the group is rebalancing: what was taken is fetched again.
      if (
        !(await taken[0]!.entry.heartbeat().then(
          () => true,
          () => false,
        ))
      )
        return;
    }
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
