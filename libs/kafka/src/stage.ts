/**
 * Owns the consume loop every pipeline worker shares: subscribing to one stage's topics of all
 * tenants (and picking up tenants created at runtime), decoding, calling the service's pure core,
 * dead-lettering what the core rejects, and committing offsets only once output is durable.
 *
 * A transform stage (redactor, normalizer) writes its output, dead letters and input offsets in
 * one Kafka transaction, so a crash neither duplicates nor loses a record. A sink stage (projector)
 * commits offsets after its writes are durable; its sink must be idempotent, since a crash
 * between write and commit redelivers the batch.
 */
import type { Admin, Batch, Consumer, IHeaders, KafkaMessage, Kafka, Producer, Transaction } from 'kafkajs';
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
import { EXACTLY_ONCE_RETRY, PARTITIONER, subscribeWhenReady } from './client';
import { BatchProgress } from './progress';
import { findLastCommitted } from './reader';

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

/** Settings shared by both kinds of stage. */
export interface StageSettings {
  readonly service: string;
  readonly instanceId: string;
  /** Prefix of the consumer group and transactional ids (AISPM_GROUP_PREFIX). */
  readonly groupPrefix: string;
  readonly inputStage: TenantStage;
  readonly topicRefreshMs: number;
  /** Tenants this instance serves (AISPM_TENANT_PATTERN). */
  readonly tenantPattern: RegExp;
  /**
   * Turns a stored value into the codec's bytes before decoding: the redactor decrypts the raw
   * stage here. An `AppError` it throws dead-letters the message with its code.
   */
  readonly decryptValue?: (tenant: string, value: Buffer) => Promise<Buffer>;
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
 * The last offset a batch covers, control records included. TRICKY: a transaction's commit marker
 * takes an offset after its last message; committing only past the last message would leave every
 * transactionally written partition one behind its end offset, a lag of 1 that never drains.
 */
function committedThrough(batch: Batch): string {
  return batch.lastOffset();
}

function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** Base of both stage kinds: subscription management, decoding and dead letters. */
abstract class StageRunner<I> {
  protected readonly consumer: Consumer;
  protected producer: Producer;
  protected readonly admin: Admin;
  private subscribed = new Set<string>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> = Promise.resolve();
  private readonly progress = new BatchProgress();
  private running = false;
  private subscribedOnce = false;
  private stopping = false;
  /**
   * KafkaJS gave up on the consumer (a non-retriable crash, e.g. no group coordinator while a
   * broker restarts) and disconnected it; the refresh loop reconnects and re-subscribes it.
   */
  private crashed = false;
  private producerConnected = true;

  protected constructor(
    protected readonly kafka: Kafka,
    protected readonly settings: StageSettings,
    protected readonly codec: StageCodec,
    protected readonly logger: Logger,
    protected readonly metrics: Metrics,
    private readonly transactionalId?: string,
  ) {
    this.consumer = kafka.consumer({
      groupId: stageGroupId(settings.groupPrefix, settings.service),
      // TRICKY: read_committed, so a transform stage never sees output of an aborted transaction.
      readUncommitted: false,
      sessionTimeout: 30_000,
      // Bounds how long a join waits for slow members, so a rebalance cannot stall shutdown.
      rebalanceTimeout: 10_000,
      heartbeatInterval: 3000,
      allowAutoTopicCreation: false,
    });
    this.admin = kafka.admin();
    this.producer = this.newProducer();
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      const owned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => `${topic}:${partition}`),
      );
      this.progress.retain(new Set(owned));
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopping) return;
      this.crashed = true;
      this.running = false;
      this.subscribed = new Set();
      this.logger.error({ err: payload.error }, 'stage consumer crashed; reconnecting at the next refresh');
    });
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: PARTITIONER,
      retry: EXACTLY_ONCE_RETRY,
      ...(this.transactionalId === undefined ? {} : { transactionalId: this.transactionalId }),
    });
  }

  /**
   * A transactional producer whose commit or abort failed (e.g. the coordinator was loading after
   * a broker restart) is stuck in that state for good; a new one with the same transactional id
   * fences the old epoch, and the broker aborts the open transaction.
   */
  protected async replaceProducer(): Promise<void> {
    const stuck = this.producer;
    this.producer = this.newProducer();
    this.producerConnected = false;
    await stuck.disconnect().catch(() => undefined);
  }

  /** Connects a replaced producer before its first use; Kafka may still be away, so it is retried. */
  protected async connectedProducer(): Promise<Producer> {
    if (!this.producerConnected) {
      await this.producer.connect();
      this.producerConnected = true;
    }
    return this.producer;
  }

  /** Connects, subscribes to the stage's current topics and starts watching for new tenants. */
  async start(): Promise<void> {
    await Promise.all([this.consumer.connect(), this.producer.connect(), this.admin.connect()]);
    await this.refreshSubscription();
    this.refreshTimer = setInterval(() => {
      this.refreshing = this.refreshing
        .then(() => this.refreshSubscription())
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 'topic refresh failed; will try again');
        });
    }, this.settings.topicRefreshMs);
  }

  /** The consumer group of this stage. */
  groupId(): string {
    return stageGroupId(this.settings.groupPrefix, this.settings.service);
  }

  /** The input topics this instance is subscribed to now. */
  topics(): string[] {
    return [...this.subscribed];
  }

  /** Alive: the loop is running, or idle with nothing to consume. */
  healthy(): boolean {
    return !this.stopping;
  }

  /** Ready: the stage's topics were listed and subscribed to (none is fine), and not shutting down. */
  ready(): boolean {
    return this.subscribedOnce && !this.stopping && !this.crashed;
  }

  /** How long the oldest batch taken up and not yet done has been at it (see BatchProgress). */
  stalledForMs(): number {
    return this.progress.busyForMs(Date.now());
  }

  /** Stops fetching, lets the in-flight batch finish and commit, then disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    // A re-subscription in flight may be waiting on a group rebalance that other stopping
    // members slow down; disconnecting ends it, so give it only a moment to finish.
    await Promise.race([this.refreshing, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    await this.consumer.disconnect();
    await this.producer.disconnect();
    await this.admin.disconnect();
  }

  private async refreshSubscription(): Promise<void> {
    if (this.stopping) return;
    if (this.crashed) {
      await this.consumer.connect();
      this.crashed = false;
      this.logger.info('stage consumer reconnected');
    }
    const topics = (await this.admin.listTopics())
      .filter((topic) => {
        const parsed = parseTenantTopic(topic);
        return parsed?.stage === this.settings.inputStage && this.settings.tenantPattern.test(parsed.tenant);
      })
      .sort();
    const unchanged = topics.length === this.subscribed.size && topics.every((t) => this.subscribed.has(t));
    if (unchanged) {
      this.subscribedOnce = true;
      return;
    }
    // KafkaJS resolves a subscription only when subscribing, so a new tenant's topic needs a
    // stop and re-subscribe; the group rebalances and committed offsets carry over.
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
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (batch.messages.length === 0 || !isRunning() || isStale()) return;
        const started = Date.now();
        const partition = `${batch.topic}:${batch.partition}`;
        this.progress.started(partition, started);
        try {
          await this.processBatch(batch);
        } catch (error) {
          // KafkaJS retries the batch with backoff, and restarts the consumer when that runs out.
          const { tenant } = parseTenantTopic(batch.topic)!;
          this.metrics.retries.inc({ operation: `${this.settings.service}_batch`, tenant });
          this.logger.warn(
            { err: error, tenant, topic: batch.topic, partition: batch.partition },
            'batch failed; retrying',
          );
          throw error;
        }
        // Only now is the batch durable and its offsets committed; KafkaJS fetches on from here.
        resolveOffset(batch.lastOffset());
        this.progress.succeeded(partition);
        await heartbeat();
        this.metrics.stageBatchDuration.observe({ service: this.settings.service }, Date.now() - started);
      },
    });
    this.running = true;
    this.subscribedOnce = true;
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

  protected async dlqMessage(tenant: string, record: DlqRecord, message: KafkaMessage) {
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

  /** Writes the batch's results durably and commits its offsets; throws to have it redelivered. */
  protected abstract processBatch(batch: Batch): Promise<void>;
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
  /** Runs before a tenant's batch reaches the core, e.g. to load the tenant's settings. */
  readonly prepare?: (tenant: string) => Promise<void>;
}

/**
 * A per-partition hash chain over a stage's output. With a chain, input partition p writes to
 * output partition p (every tenant topic has the same partition count), so whoever owns input
 * partition p is the only writer of chain p.
 */
export interface OutputChain<O> {
  /** The hash a partition's first record links to. */
  readonly genesis: string;
  /** `output` linked after `prevHash`, with the hash the next record links to. */
  seal(output: O, prevHash: string): { readonly value: O; readonly hash: string };
  /** The hash of a record read back from the output topic; empty if it carries none. */
  hashOf(stored: O): string;
}

/** Consume, transform and produce with exactly-once semantics through Kafka transactions. */
export class TransformStage<I, O extends object> extends StageRunner<I> {
  /**
   * The last committed hash of each output partition this instance writes, by `topic:partition`.
   * TRICKY: an entry only advances after its transaction commits, and any failure or rebalance
   * drops it, so the next batch re-reads the partition's last committed record (read_committed):
   * an aborted transaction or another instance's writes can never leave a stale head behind.
   */
  private readonly heads = new Map<string, string>();

  constructor(
    kafka: Kafka,
    private readonly transform: TransformStageSettings<I, O>,
    codec: StageCodec,
    logger: Logger,
    metrics: Metrics,
  ) {
    super(
      kafka,
      transform,
      codec,
      logger,
      metrics,
      // A stable id per instance: a restarted instance fences its predecessor's open transaction.
      transform.transactions === false
        ? undefined
        : `${stageGroupId(transform.groupPrefix, transform.service)}-${transform.instanceId}`,
    );
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.heads.clear());
  }

  /** The hash the next record of an output partition links to, from memory or from the topic. */
  private async chainHead(chain: OutputChain<O>, topic: string, partition: number): Promise<string> {
    const known = this.heads.get(`${topic}:${partition}`);
    if (known !== undefined) return known;
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
    this.logger.info({ topic, partition, offset: last?.offset, head }, 'chain head recovered');
    return head;
  }

  protected async processBatch(batch: Batch): Promise<void> {
    const outputs: {
      topic: string;
      message: { key: Buffer | string | null; value: Buffer; headers: IHeaders; partition?: number };
    }[] = [];
    const tenant = parseTenantTopic(batch.topic)!.tenant;
    const outputTopic = tenantTopic(tenant, this.transform.outputStage);
    const { chain } = this.transform;
    const headKey = `${outputTopic}:${batch.partition}`;
    await this.transform.prepare?.(tenant);
    let head = chain ? await this.chainHead(chain, outputTopic, batch.partition) : '';
    for (const message of batch.messages) {
      const decoded = await this.decode(batch.topic, batch.partition, message);
      if (!('value' in decoded)) {
        outputs.push(await this.dlqMessage(tenant, decoded, message));
        continue;
      }
      const result = await this.runCore(decoded);
      if (!result.ok) {
        const record = this.deadLetter(batch.topic, batch.partition, message, result.code, result.message);
        outputs.push(await this.dlqMessage(tenant, record, message));
        continue;
      }
      let output: (typeof outputs)[number];
      try {
        let value = result.value;
        let nextHead = head;
        if (chain) {
          const sealed = chain.seal(value, head);
          value = sealed.value;
          nextHead = sealed.hash;
        }
        output = {
          topic: outputTopic,
          message: {
            key: this.transform.keyOf(value, decoded) ?? message.key,
            value: await this.codec.encode(this.transform.outputSchema, value),
            headers: { ...decoded.headers, ...this.transform.headersOf?.(value) },
            ...(chain ? { partition: batch.partition } : {}),
          },
        };
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
        outputs.push(await this.dlqMessage(tenant, record, message));
        continue;
      }
      this.metrics.stageMessages.inc({ service: this.settings.service, tenant, outcome: 'ok' });
      outputs.push(output);
    }
    const committed = [{ partition: batch.partition, offset: nextOffset(committedThrough(batch)) }];
    const transaction: Transaction | undefined =
      this.transform.transactions === false
        ? undefined
        : await (await this.connectedProducer()).transaction();
    try {
      const started = Date.now();
      const byTopic = new Map<string, (typeof outputs)[number]['message'][]>();
      for (const { topic, message } of outputs) byTopic.set(topic, [...(byTopic.get(topic) ?? []), message]);
      // One request per chunk, in order: a consumed batch can outgrow what the broker takes in one
      // record batch (message.max.bytes) once transformed.
      for (const topicMessages of produceChunks(
        [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      ))
        await (transaction ?? this.producer).sendBatch({ topicMessages, acks: -1 });
      if (transaction) {
        await transaction.sendOffsets({
          consumerGroupId: stageGroupId(this.settings.groupPrefix, this.settings.service),
          topics: [{ topic: batch.topic, partitions: committed }],
        });
        await transaction.commit();
      } else {
        await this.consumer.commitOffsets(committed.map((position) => ({ topic: batch.topic, ...position })));
      }
      if (chain) this.heads.set(headKey, head);
      this.metrics.produceDuration.observe({ service: this.settings.service }, Date.now() - started);
    } catch (error) {
      this.heads.delete(headKey);
      await transaction?.abort().catch(async (abortError: unknown) => {
        this.logger.warn({ err: abortError }, 'aborting the transaction failed; replacing the producer');
        await this.replaceProducer();
      });
      throw error;
    }
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

/** Writes a batch durably (e.g. a ClickHouse insert); must be idempotent. */
export type StageSink<I> = (inputs: readonly StageInput<I>[]) => Promise<void>;

/** Settings of a sink stage. */
export interface SinkStageSettings<I> extends StageSettings {
  readonly sink: StageSink<I>;
}

/** Consume and write to storage, committing offsets only after the write is durable. */
export class SinkStage<I> extends StageRunner<I> {
  constructor(
    kafka: Kafka,
    private readonly sinkSettings: SinkStageSettings<I>,
    codec: StageCodec,
    logger: Logger,
    metrics: Metrics,
  ) {
    super(kafka, sinkSettings, codec, logger, metrics);
  }

  protected async processBatch(batch: Batch): Promise<void> {
    const tenant = parseTenantTopic(batch.topic)!.tenant;
    const inputs: StageInput<I>[] = [];
    const deadLetters = [];
    for (const message of batch.messages) {
      const decoded = await this.decode(batch.topic, batch.partition, message);
      if ('value' in decoded) inputs.push(decoded);
      else deadLetters.push(await this.dlqMessage(tenant, decoded, message));
    }
    if (inputs.length > 0) await this.sinkSettings.sink(inputs);
    if (deadLetters.length > 0) {
      for (const topicMessages of produceChunks([
        { topic: tenantTopic(tenant, 'dlq'), messages: deadLetters.map((d) => d.message) },
      ]))
        await this.producer.sendBatch({ topicMessages, acks: -1 });
    }
    this.metrics.stageMessages.inc({ service: this.settings.service, tenant, outcome: 'ok' }, inputs.length);
    const lastOffset = committedThrough(batch);
    await this.consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: nextOffset(lastOffset) },
    ]);
  }
}
