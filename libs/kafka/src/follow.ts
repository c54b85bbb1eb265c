/**
 * Owns the long-lived readers of a topic outside the pipeline's stages: the control plane, the
 * health follower and evidence sink, the audit chain writer, a live stream's connection. They
 * share one loop with one commit rule, one dead-letter path and one health signal:
 *
 * - A batch is handed to the reader's handler, again after a backoff while the handler fails
 *   (never to KafkaJS, whose retry restarts the consumer); its position moves on, and a reader
 *   that commits commits it, only once the handler has returned. Handlers are idempotent, since
 *   a crash between handling and committing hands the batch over again.
 * - A reader that commits resumes where its group committed; one that does not tracks, per
 *   partition, the next offset to hand over, and seeks there after each (re)join, so a restart
 *   or a rebalance neither skips nor repeats a message.
 * - A record that does not decode is dead-lettered to `aispm.dlq` (the shared topics' own reader)
 *   or stepped over, as the reader chose; either way its partition moves on.
 * - Healthy means the loop is making progress (LoopLiveness), while following.
 *
 * KafkaJS restarts a consumer after most failures, but gives up on it for good after some (a crash
 * with `restart: false`, e.g. "Failed to find group coordinator" when Kafka is away longer than
 * its retries) and disconnects it; FollowedReader connects and follows it again, so a process
 * never goes on serving stale state, or stops storing evidence, silently.
 */
import type { Consumer, Kafka } from 'kafkajs';
import type { SchemaName } from '@aispm/contracts';
import { isRetriable } from '@aispm/errors';
import type { Logger } from '@aispm/observability';
import { deleteGroup, subscribeWhenReady, whileTopicsSettle } from './client';
import type { StageCodec } from './codec';
import { SharedDeadLetters } from './dead-letters';
import { backoffMs } from './loop';
import { offsetAfter, toTopicMessage, type TopicMessage } from './messages';
import { LIVENESS_MS, LoopLiveness } from './progress';

/** How long a failed restart waits before the next attempt. */
const RESTART_RETRY_MS = 2000;

export interface FollowedReaderOptions {
  /** Names the reader in logs, e.g. `control topic reader`. */
  readonly name: string;
  readonly logger: Logger;
  /**
   * Subscribes and runs the connected consumer; called at start and again after each crash
   * KafkaJS does not recover from. A reader that commits offsets resumes where it committed; one
   * that does not must seek to where it stands.
   */
  readonly follow: () => Promise<void>;
  /** Called when the reader is lost, before any restart: e.g. to report the process unready. */
  readonly onLost?: () => void;
  readonly retryMs?: number;
}

/** A consumer that is connected and followed again whenever KafkaJS gives up on it. */
export class FollowedReader {
  private alive = false;
  private stopping = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly options: FollowedReaderOptions,
  ) {
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      const { logger, name } = options;
      if (this.stopping) return;
      if (payload.restart) {
        logger.warn({ err: payload.error }, `${name} failed; the client restarts it`);
        return;
      }
      logger.error({ err: payload.error }, `${name} crashed; following again`);
      this.alive = false;
      options.onLost?.();
      void this.restart();
    });
  }

  /** True from a successful start until a crash, and again once a restart has worked. */
  get following(): boolean {
    return this.alive;
  }

  /** Connects and follows; fails if the first attempt does (start-up reports that). */
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.options.follow();
    this.alive = true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect();
  }

  private async restart(): Promise<void> {
    const { logger, name, follow, retryMs = RESTART_RETRY_MS } = this.options;
    while (!this.stopping) {
      try {
        await this.consumer.connect();
        await follow();
        // A stop that came while this attempt ran disconnected a consumer this attempt then
        // connected again; leaving it would keep the process from exiting.
        if (this.stopping) {
          await this.consumer.disconnect();
          return;
        }
        this.alive = true;
        logger.info(`${name} restarted`);
        return;
      } catch (error) {
        logger.warn({ err: error }, `${name} could not restart; retrying`);
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
  }
}

/**
 * Where a follower starts. `committed`: where its group committed (the topic's beginning when it
 * never did), committing each batch it handles. The others never commit: `beginning` reads the
 * whole topic; `positions` names, per partition, the next offset to read (a partition it does not
 * name starts at its end); `time` starts each partition at its first message at or after `timeMs`.
 */
export type FollowFrom =
  | { readonly kind: 'committed' }
  | { readonly kind: 'beginning' }
  | { readonly kind: 'positions'; readonly positions: ReadonlyMap<number, bigint> }
  | { readonly kind: 'time'; readonly timeMs: number };

/** What a follower reads and how. */
export interface TopicFollowerSettings {
  /** Names the follower in logs and in the dead letters it writes, e.g. `projector audit chain writer`. */
  readonly name: string;
  readonly topic: string;
  readonly groupId: string;
  readonly from: FollowFrom;
  /**
   * What becomes of a record that does not decode: `dead-letter` sends it to `aispm.dlq` (for the
   * one reader that owns the topic's poison), `skip` steps over it with a warning (for readers of
   * which another dead-letters it, or of a tenant's own topic).
   */
  readonly poison: 'dead-letter' | 'skip';
  /** How long a fetch waits for records: lower for readers that must see changes at once. */
  readonly maxWaitTimeInMs?: number;
  /** Deletes the group on stop: a follower of its own that never commits leaves no trace. */
  readonly deleteGroupOnStop?: boolean;
  /** Called when KafkaJS gave up on the consumer, before it is followed again. */
  readonly onLost?: () => void;
  /** How long a failed restart waits before the next attempt. */
  readonly restartRetryMs?: number;
}

/** One fetched batch of one partition, for a follower's handler. */
export interface FollowedBatch {
  readonly topic: string;
  readonly partition: number;
  /** The messages not handed over before, in offset order. */
  readonly messages: readonly TopicMessage[];
  /**
   * The record `message` holds, decoded (as `schema`, when given); undefined for a record that
   * does not decode, once dead-lettered or stepped over (TopicFollowerSettings.poison). A failure
   * worth retrying (the registry away) is thrown, and the batch is handed over again.
   */
  decode<T>(message: TopicMessage, schema?: SchemaName): Promise<T | undefined>;
  /** Stays in the group during a long handler. */
  heartbeat(): Promise<void>;
}

/** Handles one batch; resolves once what it does with the batch is done (durable, applied, sent). */
export type FollowHandler = (batch: FollowedBatch) => Promise<void>;

/** A long-lived reader of one topic (see the module's comment for its rules). */
export class TopicFollower {
  private readonly consumer: Consumer;
  private readonly reader: FollowedReader;
  private readonly deadLetters: SharedDeadLetters | undefined;
  private readonly liveness = new LoopLiveness(LIVENESS_MS, Date.now());
  /** Per partition, the next offset to hand over: where a follower that does not commit seeks. */
  private readonly next = new Map<number, bigint>();
  private stopping = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: StageCodec,
    private readonly logger: Logger,
    private readonly settings: TopicFollowerSettings,
    private readonly handle: FollowHandler,
  ) {
    this.consumer = kafka.consumer({
      groupId: settings.groupId,
      allowAutoTopicCreation: false,
      ...(settings.maxWaitTimeInMs === undefined ? {} : { maxWaitTimeInMs: settings.maxWaitTimeInMs }),
    });
    this.deadLetters =
      settings.poison === 'dead-letter'
        ? new SharedDeadLetters(kafka, codec, logger, settings.name)
        : undefined;
    this.reader = new FollowedReader(this.consumer, {
      name: settings.name,
      logger,
      follow: () => this.follow(),
      ...(settings.onLost ? { onLost: settings.onLost } : {}),
      ...(settings.restartRetryMs === undefined ? {} : { retryMs: settings.restartRetryMs }),
    });
    if (settings.from.kind === 'positions')
      for (const [p, offset] of settings.from.positions) this.next.set(p, offset);
    const beat = () => this.liveness.beat(Date.now());
    this.consumer.on(this.consumer.events.FETCH, beat);
    this.consumer.on(this.consumer.events.HEARTBEAT, beat);
    // A rejoin restarts where the group committed; one that does not commit seeks back to where
    // it stands.
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      beat();
      if (!this.commits()) this.seekAll();
    });
  }

  /**
   * Connects the consumer, e.g. to answer a request with an error while that is still possible;
   * `start` connects it too.
   */
  async connect(): Promise<void> {
    await this.consumer.connect();
  }

  /** Connects and follows; resolves once the consumer runs (not once it has read anything). */
  async start(): Promise<void> {
    const { from, topic } = this.settings;
    if (from.kind === 'time') {
      const admin = this.kafka.admin();
      await admin.connect();
      try {
        const offsets = await whileTopicsSettle(() => admin.fetchTopicOffsetsByTimestamp(topic, from.timeMs));
        for (const { partition, offset } of offsets) this.next.set(partition, BigInt(offset));
      } finally {
        await admin.disconnect();
      }
    }
    await this.reader.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.reader.stop();
    await this.deadLetters?.stop();
    if (this.settings.deleteGroupOnStop) await deleteGroup(this.kafka, this.settings.groupId);
  }

  /** Following: started, and not lost to a crash it has not recovered from yet. */
  get following(): boolean {
    return this.reader.following;
  }

  /** Following, and the loop is making progress (a fetch, heartbeat or batch within the bound). */
  healthy(): boolean {
    return this.following && this.liveness.alive(Date.now());
  }

  private commits(): boolean {
    return this.settings.from.kind === 'committed';
  }

  private seekAll(): void {
    for (const [partition, offset] of this.next)
      this.consumer.seek({ topic: this.settings.topic, partition, offset: offset.toString() });
  }

  /** Subscribes and runs; a follower that does not commit then seeks to where it stands. */
  private async follow(): Promise<void> {
    const { topic, from } = this.settings;
    await subscribeWhenReady(this.consumer, {
      topics: [topic],
      fromBeginning: from.kind === 'committed' || from.kind === 'beginning',
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (this.stopping || !isRunning() || isStale()) return;
        const next = this.next.get(batch.partition);
        // A fetch made before a seek took effect can start below where the follower stands.
        const messages = batch.messages
          .filter((message) => next === undefined || BigInt(message.offset) >= next)
          .map((message) => toTopicMessage(batch.partition, message));
        const lastOffset = batch.lastOffset();
        if (
          messages.length > 0 &&
          !(await this.handled(batch.topic, batch.partition, messages, lastOffset, heartbeat))
        )
          return;
        this.next.set(batch.partition, BigInt(offsetAfter(lastOffset)));
        resolveOffset(lastOffset);
      },
    });
    if (this.commits() || this.next.size === 0) return;
    // TRICKY: a seek takes effect only after run(). When the first join fails (a fresh cluster's
    // coordinator still loading), run() resolves anyway and KafkaJS joins again later; until
    // then a seek throws, so it is retried (the join then seeks too).
    await whileTopicsSettle(
      async () => this.seekAll(),
      40,
      (error) => String(error).includes('Consumer group was not initialized'),
    );
  }

  /**
   * Hands the messages over, and commits after them if the follower commits; again after a
   * backoff while that fails. False when the batch is given up: shutting down, or the group
   * rebalancing (a heartbeat failed), after which it is fetched again from where the follower stands.
   */
  private async handled(
    topic: string,
    partition: number,
    messages: readonly TopicMessage[],
    lastOffset: string,
    heartbeat: () => Promise<void>,
  ): Promise<boolean> {
    const batch: FollowedBatch = {
      topic,
      partition,
      messages,
      decode: (message, schema) => this.decode(topic, message, schema),
      heartbeat,
    };
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.handle(batch);
        if (this.commits())
          await this.consumer.commitOffsets([{ topic, partition, offset: offsetAfter(lastOffset) }]);
        this.liveness.beat(Date.now());
        return true;
      } catch (error) {
        this.logger.warn(
          { err: error, topic, partition, attempt },
          `${this.settings.name}: batch failed; retrying`,
        );
      }
      this.liveness.beat(Date.now());
      if (this.stopping) return false;
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
      if (this.stopping) return false;
      try {
        await heartbeat();
      } catch {
        return false;
      }
    }
  }

  private async decode<T>(topic: string, message: TopicMessage, schema?: SchemaName): Promise<T | undefined> {
    if (this.deadLetters) return this.deadLetters.decodeOr<T>(topic, message.partition, message, schema);
    try {
      return await this.codec.decode<T>(message.value, schema);
    } catch (error) {
      if (isRetriable(error)) throw error;
      this.logger.warn(
        { err: error, topic, partition: message.partition, offset: message.offset },
        `${this.settings.name}: record that does not decode skipped`,
      );
      return undefined;
    }
  }
}
