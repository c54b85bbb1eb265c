/**
 * Owns the transform stage (redactor, normalizer): consume, transform and produce with
 * exactly-once semantics. A round's output, dead letters and input offsets are written in one
 * Kafka transaction per shard of its input partitions (shards.ts), so a crash neither duplicates
 * nor loses a record, and an instance that lost its shards while paused is fenced
 * (shard-producers.ts). An optional hash chain links each output partition's records, its head
 * committed with the input offsets.
 */
import type { Kafka, KafkaMessage } from 'kafkajs';
import { parseTenantTopic, tenantTopic, type SchemaName, type TenantStage } from '@aispm/contracts';
import { AppError, isRetriable } from '@aispm/errors';
import type { Logger, Metrics } from '@aispm/observability';
import type { StageCodec } from './codec';
import { partitionKey, StageRunner, type RoundEntry, type StageSettings } from './loop';
import { commitAfter, produceAndCommit, type OffsetCommit, type Outgoing } from './offsets';
import { findLastCommitted } from './reader';
import { failureOf, type StageInput, type StageResult, type TransformCore } from './results';
import { RoundGate } from './round';
import { ShardProducers } from './shard-producers';
import { shardOf, type TopicPartition } from './shards';

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
  readonly offset: OffsetCommit;
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
      () => this.topics().map((topic) => tenantTopic(parseTenantTopic(topic)!.tenant, transform.outputStage)),
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
    let todo: RoundEntry[] = [];
    await this.retrying({
      attempt: async () => {
        todo = this.dropStale(entries);
        if (todo.length === 0) return true;
        await this.doRound(todo);
        this.dropStale(entries);
        return entries.every((entry) => entry.outcome !== undefined);
      },
      pending: () => todo,
      // A heartbeat that fails means the group is rebalancing: the round is given up and
      // KafkaJS, handed the error, rejoins.
      heartbeat: async () => {
        try {
          await todo[0]!.heartbeat();
          return true;
        } catch (error) {
          for (const entry of entries) entry.outcome ??= 'dropped';
          throw error;
        }
      },
      failed: 'round failed; retrying',
    });
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
    const started = Date.now();
    // With no offsets, every batch here was done by the shard's previous holder.
    if (work.length > 0)
      await produceAndCommit(
        lease.producer,
        this.consumer,
        this.groupId(),
        this.transform.transactions !== false,
        work.flatMap((part) => part.outgoing),
        work.map((part) => part.offset),
      );
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
      const decoded = await this.decode(entry, message);
      if (!('value' in decoded)) {
        outgoing.push(await this.deadLetter(entry, message, decoded));
        continue;
      }
      const result = await this.runCore(decoded);
      if (!result.ok) {
        outgoing.push(await this.deadLetter(entry, message, result));
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
        outgoing.push(await this.deadLetter(entry, message, failureOf(error, 'STAGE_CORE_FAILED')));
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
    const chainHash = async (message: KafkaMessage): Promise<string | undefined> => {
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
    };
    const last = await findLastCommitted(this.kafka, this.admin, topic, partition, chainHash, {
      groupPrefix: this.settings.groupPrefix,
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
      return failureOf(error, 'STAGE_CORE_FAILED');
    }
  }
}
