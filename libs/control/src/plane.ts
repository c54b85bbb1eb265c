/**
 * Owns every process's view of the control topic (`aispm.control`, compacted, one partition):
 * it reads the topic from the start, folds it into a ControlState, keeps following it, and
 * publishes new records. A record published here is applied locally before `publish` returns,
 * so a caller reads its own writes; other instances apply it within their poll interval, which
 * is how a revocation reaches every gateway within seconds.
 */
import { randomBytes } from 'node:crypto';
import { SHARED_TOPICS, TOPIC_SCHEMAS, type ControlRecord } from '@aispm/contracts';
import {
  ensureTopics,
  PARTITIONER,
  sharedTopicConfigs,
  TopicFollower,
  whileTopicsSettle,
  type FollowedBatch,
  type KafkaClient,
  type KafkaProducer,
  type StageCodec,
  type TenantSource,
  type TopicPolicy,
} from '@aispm/kafka';
import { AppError } from '@aispm/errors';
import type { Logger } from '@aispm/observability';
import { SharedReads } from './shared-reads';
import { ControlState, controlKey, type ControlData } from './state';

/** How long `publish` waits to read its own record back before it gives up with a 503. */
const PUBLISH_READ_BACK_MS = 15_000;
/** How long `catchUp` waits for the records the topic held when it was called. */
const CATCH_UP_MS = 30_000;
/** How long a credential nobody knows waits for the control topic's end before it is refused. */
const FRESH_LOOKUP_MS = 3_000;

/** Identity of the process following the control topic. */
export interface ControlPlaneSettings {
  readonly groupPrefix: string;
  readonly service: string;
  readonly instanceId: string;
  readonly topicPolicy: TopicPolicy;
}

/** The configuration keys a process's control plane is built from. */
export interface ControlPlaneConfig {
  readonly AISPM_GROUP_PREFIX: string;
  readonly AISPM_INSTANCE_ID: string;
  readonly AISPM_TOPIC_PARTITIONS: number;
  readonly AISPM_TOPIC_REPLICATION: number;
  readonly AISPM_RAW_RETENTION_MS: number;
}

/** The control-plane settings of `service` (a worker, an HTTP service, the CLI), from its configuration. */
export function controlPlaneSettings(service: string, config: ControlPlaneConfig): ControlPlaneSettings {
  return {
    groupPrefix: config.AISPM_GROUP_PREFIX,
    service,
    instanceId: config.AISPM_INSTANCE_ID,
    topicPolicy: {
      partitions: config.AISPM_TOPIC_PARTITIONS,
      replicationFactor: config.AISPM_TOPIC_REPLICATION,
      rawRetentionMs: config.AISPM_RAW_RETENTION_MS,
    },
  };
}

/** A process's live view of the control topic, and its way to write to it. */
export class ControlPlane {
  readonly state = new ControlState();
  private readonly reader: TopicFollower;
  private readonly producer: KafkaProducer;
  private appliedOffset = -1n;
  private startEndOffset = 0n;
  private readonly listeners = new Set<(data: ControlData) => void>();
  private waiters: { offset: bigint; resolve: () => void }[] = [];
  private readonly readsToEnd = new SharedReads(() => this.catchUp(FRESH_LOOKUP_MS));

  constructor(
    private readonly kafka: KafkaClient,
    private readonly codec: StageCodec,
    private readonly logger: Logger,
    private readonly settings: ControlPlaneSettings,
  ) {
    // Every instance must read the whole topic, so each gets a group of its own; the random
    // part keeps a restarted instance from resuming at its predecessor's committed offset. While
    // its reader is lost, the instance no longer follows revocations: it is not caught up, so it
    // reports unready and traffic moves to instances that are, until the reader follows again.
    this.reader = new TopicFollower(
      kafka,
      codec,
      logger,
      {
        name: `${settings.service} control reader`,
        topic: SHARED_TOPICS.control,
        groupId: `${settings.groupPrefix}-control-${settings.service}-${settings.instanceId}-${randomBytes(4).toString('hex')}`,
        from: { kind: 'beginning' },
        poison: 'dead-letter',
        maxWaitTimeInMs: 250,
      },
      (batch) => this.apply(batch),
    );
    // Not idempotent: a record written twice folds to the same state, and bounded retries let an
    // admin call fail instead of waiting forever for Kafka.
    this.producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: PARTITIONER,
      retry: { retries: 5 },
    });
  }

  /** Calls `listener` with every record applied from now on (e.g. to create a tenant's topics). */
  onChange(listener: (data: ControlData) => void): void {
    this.listeners.add(listener);
  }

  /** The live tenants, as a stage runner follows them to know which topics to consume. */
  tenantSource(): TenantSource {
    return {
      live: () => this.state.liveTenants().map((tenant) => tenant.slug),
      isLive: (slug) => this.state.tenant(slug) !== undefined,
      onChange: (listener) =>
        this.onChange((data) => {
          if (data.type === 'tenant') listener(data.deleted ? 'deleted' : 'created');
        }),
    };
  }

  /** Ensures the topic, then reads it; resolves once the records present at start are applied. */
  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, sharedTopicConfigs(this.settings.topicPolicy));
      const [partition] = await whileTopicsSettle(() => admin.fetchTopicOffsets(SHARED_TOPICS.control));
      this.startEndOffset = BigInt(partition?.high ?? '0');
    } finally {
      await admin.disconnect();
    }
    await Promise.all([this.reader.start(), this.producer.connect()]);
    if (this.startEndOffset > 0n) await this.untilApplied(this.startEndOffset - 1n);
    this.logger.info(
      { tenants: this.state.tenants.size, collectors: this.state.collectors.size },
      'control plane loaded',
    );
  }

  /** Applies a batch of the control topic's records, in order. */
  private async apply(batch: FollowedBatch): Promise<void> {
    for (const message of batch.messages) {
      const record = message.value
        ? await batch.decode<ControlRecord>(message, TOPIC_SCHEMAS.control)
        : undefined;
      if (record) {
        this.state.apply(record);
        for (const listener of this.listeners) listener(record.data);
      }
      this.markApplied(BigInt(message.offset));
    }
  }

  /** True once the records that existed at start have been applied, while the reader is alive. */
  caughtUp(): boolean {
    return this.reader.following && this.appliedOffset + 1n >= this.startEndOffset;
  }

  /** Writes a record (acks=all) and resolves once this instance has applied it. */
  async publish(data: ControlData): Promise<void> {
    const record: ControlRecord = { schema_version: 'aispm.control_record.v1', updated_ms: Date.now(), data };
    const [metadata] = await this.producer.send({
      topic: SHARED_TOPICS.control,
      acks: -1,
      messages: [{ key: controlKey(data), value: await this.codec.encode(TOPIC_SCHEMAS.control, record) }],
    });
    await this.appliedWithin(
      BigInt(metadata!.baseOffset ?? '0'),
      PUBLISH_READ_BACK_MS,
      'The change is in the control topic, but this instance has not read it back yet; retry the read',
    );
  }

  async stop(): Promise<void> {
    await this.reader.stop();
    await this.producer.disconnect();
  }

  /**
   * Resolves once every record the control topic holds now is applied, e.g. before trusting an
   * absence or acting on a legal hold; fails after CATCH_UP_MS rather than wait on a reader that
   * is not following.
   */
  async catchUp(withinMs = CATCH_UP_MS): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [partition] = await whileTopicsSettle(() => admin.fetchTopicOffsets(SHARED_TOPICS.control));
      const end = BigInt(partition?.high ?? '0');
      if (end > 0n)
        await this.appliedWithin(
          end - 1n,
          withinMs,
          'This instance has not read the control topic to its end yet',
        );
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * What `find` finds in the state, looking again after reading the control topic to its end
   * when it found nothing: a key created through another instance a moment ago (the API answers
   * a collector create before the gateways have read it) is known then, instead of refused.
   * Misses share reads (SharedReads), so a flood of unknown keys costs one offsets request at a
   * time.
   */
  async findFresh<T>(find: () => T | undefined): Promise<T | undefined> {
    const found = find();
    if (found !== undefined) return found;
    await this.readsToEnd.startedAfter(process.hrtime.bigint()).catch(() => undefined);
    return find();
  }

  private markApplied(offset: bigint): void {
    this.appliedOffset = offset;
    const ready = this.waiters.filter((waiter) => waiter.offset <= offset);
    this.waiters = this.waiters.filter((waiter) => waiter.offset > offset);
    for (const waiter of ready) waiter.resolve();
  }

  private untilApplied(offset: bigint): Promise<void> {
    if (this.appliedOffset >= offset) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ offset, resolve }));
  }

  /** Resolves once `offset` is applied; fails with GW_CONTROL_PLANE_NOT_READY after `ms`. */
  private async appliedWithin(offset: bigint, ms: number, notYet: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AppError('GW_CONTROL_PLANE_NOT_READY', notYet)), ms);
    });
    await Promise.race([this.untilApplied(offset), timeout]).finally(() => clearTimeout(timer));
  }
}
