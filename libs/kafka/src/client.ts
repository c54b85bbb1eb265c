/**
 * Owns how the platform connects to Kafka: one client factory (KafkaJS behind our own
 * functions, so the client library can be swapped) and the topic admin that ensures topics.
 */
import {
  ConfigResourceTypes,
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type Consumer,
  type ConsumerSubscribeTopics,
  type ITopicConfig,
  type LogEntry,
  type Message,
  type PartitionMetadata,
  type Producer,
} from 'kafkajs';
import type { Logger } from '@aispm/observability';
import { tenantTopics, parseTenantTopic, SHARED_TOPICS } from '@aispm/contracts';
import { trackClusters } from './clusters';
import { repairDeletedTopics } from './deleted-topics';
import { indexMetadata } from './metadata-index';
import { isUnknownTopic, retriableKafkaError } from './kafkajs-errors';

/** The Kafka client every process makes with {@link createKafka}. */
export type KafkaClient = Kafka;
/** A producer of a {@link KafkaClient}. */
export type KafkaProducer = Producer;
/** The topic and group admin of a {@link KafkaClient}. */
export type KafkaAdmin = Admin;
/** A message to produce. */
export type ProducerMessage = Message;
/** A partition as topic metadata describes it (its id and leader). */
export type { PartitionMetadata };
/** What a writer of whole records needs of a producer (e.g. the audit trail). */
export type RecordSender = Pick<Producer, 'send'>;

/** Connection settings of a Kafka client. */
export interface KafkaSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly requestTimeoutMs: number;
  /** Retries of each request (default 5): fewer where a caller must answer within a bound. */
  readonly retries?: number;
}

const PINO_LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * What KafkaJS logs, as a warning or an error, on the stages' expected paths: of every
 * transactional producer, whose retries are bounded on purpose (TRANSACTIONAL_RETRY), and of
 * the first write of each transaction that meets CONCURRENT_TRANSACTIONS while the coordinator
 * finishes the previous one (retried 20 ms later). They go to the debug level.
 */
const CONCURRENT_TRANSACTIONS = 'another concurrent operation on the same transaction was ongoing';

function routine(message: string, extra: Record<string, unknown>): boolean {
  return (
    message === 'Limiting retries for the idempotent producer may invalidate EoS guarantees' ||
    [message, extra.error].some((text) => typeof text === 'string' && text.includes(CONCURRENT_TRANSACTIONS))
  );
}

/**
 * A KafkaJS client that logs through pino, whose metadata refreshes survive a deleted topic
 * (deleted-topics.ts), whose metadata lookups do not grow with the square of the topics
 * (metadata-index.ts), and whose admins and consumers know their Cluster (clusters.ts: admins
 * read many topics' offsets at once, a stage's consumer fetches in sessions and less while idle).
 */
export function createKafka(settings: KafkaSettings, logger: Logger): Kafka {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  const kafka = new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    requestTimeout: settings.requestTimeoutMs,
    connectionTimeout: 3000,
    retry: { retries: settings.retries ?? 5, initialRetryTime: 300, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log, namespace }: LogEntry) => {
        const { message, ...extra } = log;
        const pinoLevel = routine(String(message), extra) ? 'debug' : (PINO_LEVEL[level] ?? 'info');
        kafkaLogger[pinoLevel]({ namespace, ...extra }, message);
      },
  });
  return trackClusters(indexMetadata(repairDeletedTopics(kafka)));
}

/**
 * The partitioner every producer uses: murmur2, as the Java client, so a session key lands on
 * the same partition whichever client wrote it.
 */
export const PARTITIONER = Partitioners.DefaultPartitioner;

/**
 * Retry policy of idempotent and transactional producers: KafkaJS wants unlimited retries there
 * to keep its exactly-once guarantee; a stage simply stalls while Kafka is away.
 */
export const EXACTLY_ONCE_RETRY = {
  retries: Number.MAX_SAFE_INTEGER,
  initialRetryTime: 300,
  maxRetryTime: 5000,
};

/**
 * Retry policy of the stages' transactional producers: bounded, because a transaction that fails
 * is aborted (or its producer fenced) and the whole round done again, which is what keeps it
 * exactly once; an endless retry would instead hold every tenant of the shard behind one
 * partition that cannot be written (a tenant's topic deleted under the round). The first retry
 * comes soon: the next transaction's first write meets CONCURRENT_TRANSACTIONS for the few
 * milliseconds the coordinator takes to write the last one's markers, and KafkaJS would wait its
 * usual 300 ms each time (KAFKA-5477 made the same cut in the Java client). A first write that
 * still meets it after these retries is sent again (afterPreviousTransaction in offsets.ts).
 */
export const TRANSACTIONAL_RETRY = { retries: 5, initialRetryTime: 20, maxRetryTime: 5000 };

/** How per-tenant topics are created. */
export interface TopicPolicy {
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Retention of the raw (unredacted) topic, in ms; -1 keeps it forever (legal hold). */
  readonly rawRetentionMs: number;
  /** Retention of the other tenant topics, in ms; absent uses the broker default. */
  readonly retentionMs?: number;
}

/** The retention.ms of each of a tenant's topics under `policy`. */
export function tenantTopicRetention(
  tenant: string,
  policy: TopicPolicy,
): { topic: string; retentionMs: number | undefined }[] {
  return tenantTopics(tenant).map((topic) => ({
    topic,
    retentionMs: parseTenantTopic(topic)!.stage === 'raw' ? policy.rawRetentionMs : policy.retentionMs,
  }));
}

/** The topics of one tenant with their configs (the raw topic has a short retention, DESIGN §7). */
export function tenantTopicConfigs(tenant: string, policy: TopicPolicy): ITopicConfig[] {
  return tenantTopics(tenant).map((topic) => {
    const stage = parseTenantTopic(topic)!.stage;
    const configEntries =
      stage === 'raw' ? [{ name: 'retention.ms', value: String(policy.rawRetentionMs) }] : [];
    return {
      topic,
      numPartitions: policy.partitions,
      replicationFactor: policy.replicationFactor,
      configEntries,
    };
  });
}

/** The shared topics: the compacted control topic, the health topic and the audit trail. */
export function sharedTopicConfigs(policy: TopicPolicy): ITopicConfig[] {
  return [
    {
      topic: SHARED_TOPICS.control,
      numPartitions: 1,
      replicationFactor: policy.replicationFactor,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
    {
      topic: SHARED_TOPICS.health,
      numPartitions: policy.partitions,
      replicationFactor: policy.replicationFactor,
    },
    {
      // One partition, so the audit trail has one order to chain; kept forever.
      topic: SHARED_TOPICS.audit,
      numPartitions: 1,
      replicationFactor: policy.replicationFactor,
      configEntries: [{ name: 'retention.ms', value: '-1' }],
    },
    {
      // Poison found on the topics above, kept like a tenant's dead letters (the broker default).
      topic: SHARED_TOPICS.deadLetters,
      numPartitions: 1,
      replicationFactor: policy.replicationFactor,
    },
  ];
}

/** Sets retention.ms on each topic (e.g. -1 under a legal hold, the tenant's policy after it). */
export async function setTopicRetention(
  admin: Admin,
  retention: readonly { topic: string; retentionMs: number | undefined }[],
): Promise<void> {
  await admin.alterConfigs({
    validateOnly: false,
    resources: retention.map(({ topic, retentionMs }) => ({
      type: ConfigResourceTypes.TOPIC,
      name: topic,
      configEntries: [{ name: 'retention.ms', value: String(retentionMs ?? DEFAULT_RETENTION_MS) }],
    })),
  });
}

/** Kafka's own default retention (7 days), restored when a tenant sets none. */
const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** About 7 s of looking again for a topic some broker has not heard of yet. */
const CREATE_SETTLE_ATTEMPTS = 8;

/**
 * Creates whichever of `topics` do not exist yet; returns the names it created. KafkaJS gives up
 * on the leader wait after a create when a broker it asks has not heard of the new topic yet
 * ("does not host this topic-partition", common on a cluster of several brokers), so the whole
 * step is retried on that answer alone while topics settle: the next round finds them and
 * creates nothing. Other failures (a broker down) are KafkaJS's to retry, and then the caller's.
 */
export async function ensureTopics(admin: Admin, topics: readonly ITopicConfig[]): Promise<string[]> {
  const created = new Set<string>();
  await whileTopicsSettle(
    async () => {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length === 0) return;
      // Another instance may create the same topics at the same moment; createTopics reports
      // "already exists" as false rather than failing, which is what we want.
      for (const { topic } of missing) created.add(topic);
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    },
    CREATE_SETTLE_ATTEMPTS,
    isUnknownTopic,
  );
  return [...created];
}

/**
 * Runs `operation`, again while it fails in a way that passes once a topic has settled, for up to
 * `attempts` tries: a topic created a moment ago, by this process or another starting beside it,
 * may not have a leader in every broker's metadata yet ("not the leader for that
 * topic-partition", "does not host this topic-partition"). Without this a service starting with
 * a fresh cluster exited at start-up.
 */
export async function whileTopicsSettle<T>(
  operation: () => Promise<T>,
  attempts = 20,
  retry: (error: unknown) => boolean = retriableKafkaError,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= attempts || !retry(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * Math.min(attempt, 8)));
    }
  }
}

/** Subscribes, retrying any failure for a while (see {@link whileTopicsSettle}). */
export function subscribeWhenReady(
  consumer: Consumer,
  subscription: ConsumerSubscribeTopics,
  attempts = 20,
): Promise<void> {
  return whileTopicsSettle(
    () => consumer.subscribe(subscription),
    attempts,
    () => true,
  );
}

/**
 * The partitions of a topic, fetched once and cached: the gateway picks each message's partition
 * itself so receipts can name it. A topic's partition count only grows by an operator's action,
 * and a restart picks that up.
 */
export function partitionCache(admin: Admin): (topic: string) => Promise<PartitionMetadata[]> {
  const cache = new Map<string, Promise<PartitionMetadata[]>>();
  return (topic) => {
    let partitions = cache.get(topic);
    if (!partitions) {
      partitions = admin.fetchTopicMetadata({ topics: [topic] }).then(({ topics }) => topics[0]!.partitions);
      partitions.catch(() => cache.delete(topic));
      cache.set(topic, partitions);
    }
    return partitions;
  };
}

/**
 * Removes a consumer group that never commits (a replay's, a live stream's), so such readers leave
 * no trace in the broker's group list.
 */
export async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    // Best effort: an empty group without offsets expires on its own.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
