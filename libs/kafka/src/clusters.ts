/**
 * Owns the one hook into KafkaJS 2.2.4 (the last release, pinned in package.json) that its public
 * API lacks: every producer, consumer and admin gets a Cluster of its own from a private factory
 * on the client, and the repairs in this library (deleted-topics.ts, metadata-index.ts), the
 * bulk offset reads (bulk-offsets.ts) and the stages' fetches (stage-fetch.ts) need each
 * Cluster as it is made, or the one behind an admin or a consumer. Applied by createKafka to each
 * client it makes, so a client made elsewhere is left as KafkaJS made it. The types below are the
 * parts of KafkaJS's Cluster, BrokerPool and Broker (src/cluster/, src/broker/) those modules read
 * or replace, and nothing else.
 */
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';

/** A partition as KafkaJS's cached metadata describes it. */
export interface PartitionMetadata {
  readonly partitionId: number;
  readonly leader: number | null;
}

/** A topic as KafkaJS's cached metadata describes it. */
export interface TopicMetadata {
  readonly topic: string;
  readonly partitionMetadata: readonly PartitionMetadata[];
}

/** A Metadata response; KafkaJS replaces the cached one on every refresh and never edits it. */
export interface MetadataResponse {
  readonly topicMetadata: readonly TopicMetadata[];
}

interface TopicOffsetsResponse<P> {
  readonly responses: readonly { readonly topic: string; readonly partitions: readonly P[] }[];
}

/** The partitions of one topic a fetch asks for, and where to read each. */
export interface FetchTopic {
  readonly topic: string;
  readonly partitions: readonly {
    readonly partition: number;
    readonly fetchOffset: string;
    readonly maxBytes: number;
  }[];
}

/** A Fetch request as a consumer hands it to its Broker. */
export interface FetchRequest {
  readonly maxWaitTime: number;
  readonly minBytes: number;
  readonly topics: readonly FetchTopic[];
  readonly [field: string]: unknown;
}

/** A Fetch response: the records of each partition it lists; the session fields from version 7. */
export interface FetchResponse {
  readonly errorCode?: number;
  readonly sessionId?: number;
  readonly responses: readonly {
    readonly topicName: string;
    readonly partitions: readonly { readonly messages: readonly unknown[] }[];
  }[];
}

/** How a Broker fetches. */
export type BrokerFetch = (request: FetchRequest) => Promise<FetchResponse>;

export interface BrokerInternals {
  fetch: BrokerFetch;
  /** The protocol request of `definitions` at the best version both sides speak. */
  lookupRequest(apiKey: number, definitions: object): (request: object) => unknown;
  metadata(topics: string[]): Promise<MetadataResponse>;
  offsetFetch(request: {
    groupId: string;
    topics: { topic: string; partitions: { partition: number }[] }[];
  }): Promise<TopicOffsetsResponse<{ partition: number; offset: string; metadata: string | null }>>;
  listOffsets(request: {
    topics: { topic: string; partitions: { partition: number; timestamp: number }[] }[];
  }): Promise<TopicOffsetsResponse<{ partition: number; offset: string }>>;
}

export interface BrokerPoolInternals {
  metadata: MetadataResponse | null;
  metadataExpireAt: number | null;
  /** How long KafkaJS trusts its metadata; 0 for an admin's. */
  readonly metadataMaxAge: number;
  findConnectedBroker(): Promise<BrokerInternals>;
  refreshMetadata(topics: string[]): Promise<void>;
  refreshMetadataIfNecessary(topics: string[]): Promise<void>;
}

export interface ClusterInternals {
  targetTopics: Set<string>;
  readonly logger: { warn(message: string, extra: object): void };
  readonly brokerPool: BrokerPoolInternals;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findTopicPartitionMetadata(topic: string): readonly PartitionMetadata[];
  findGroupCoordinator(request: { groupId: string }): Promise<BrokerInternals>;
  findBroker(request: { nodeId: string }): Promise<BrokerInternals>;
}

/** What KafkaJS 2.2.4's client calls the factory of its Clusters (src/index.js, PRIVATE.CREATE_CLUSTER). */
const CREATE_CLUSTER = 'private:Kafka:createCluster';

/** Has `visit` see every Cluster `kafka` makes from now on, before the client uses it. */
export function onEachCluster(kafka: Kafka, visit: (cluster: ClusterInternals) => void): void {
  const client = kafka as unknown as Record<symbol, (options: object) => ClusterInternals>;
  const factory = Object.getOwnPropertySymbols(client).find((key) => key.description === CREATE_CLUSTER);
  // TRICKY: a KafkaJS that makes its Clusters some other way would silently drop the repairs;
  // failing at the first client made says so at once (the version is pinned, so only an upgrade
  // can get here).
  if (factory === undefined) throw new Error('KafkaJS no longer has the Cluster factory clusters.ts hooks');
  const create = client[factory]!;
  client[factory] = (options) => {
    const cluster = create(options);
    visit(cluster);
    return cluster;
  };
}

const clusters = new WeakMap<Admin | Consumer | Producer, ClusterInternals>();

/**
 * `kafka`, whose admins, consumers and producers remember their Cluster (see {@link clusterOf}).
 * KafkaJS's `admin()`, `consumer()` and `producer()` make the Cluster through the client's factory
 * and then the client, synchronously, so the last Cluster made is the one behind what they return.
 */
export function trackClusters(kafka: Kafka): Kafka {
  let last: ClusterInternals | undefined;
  onEachCluster(kafka, (cluster) => (last = cluster));
  const remembering =
    <O, C extends Admin | Consumer | Producer>(make: (options: O) => C) =>
    (options: O): C => {
      const made = make(options);
      clusters.set(made, last!);
      return made;
    };
  kafka.admin = remembering(kafka.admin.bind(kafka));
  kafka.consumer = remembering(kafka.consumer.bind(kafka));
  kafka.producer = remembering(kafka.producer.bind(kafka));
  return kafka;
}

/** The Cluster behind an admin, a consumer or a producer of a client made by createKafka. */
export function clusterOf(client: Admin | Consumer | Producer): ClusterInternals {
  const cluster = clusters.get(client);
  if (!cluster)
    throw new Error('the client behind this admin, consumer or producer was not made by createKafka');
  return cluster;
}

/**
 * Names `topics` to a connected `producer` in one metadata refresh. KafkaJS learns a topic on the
 * first send to it and then refreshes the metadata of every topic it knows, so a process started
 * with a thousand tenants asked the broker about all of them once per tenant: after a restart with
 * 1,200 tenants, the gateway's producer alone made about 1,200 refreshes of up to 1,200 topics.
 */
export async function announceTopics(producer: Producer, topics: readonly string[]): Promise<void> {
  if (topics.length > 0) await clusterOf(producer).addMultipleTargetTopics([...topics]);
}
