/**
 * Owns the one hook into KafkaJS 2.2.4 (the last release, pinned in package.json) that its public
 * API lacks: every producer, consumer and admin gets a Cluster of its own from a private factory
 * on the client, and the repairs in this library (deleted-topics.ts, metadata-index.ts) and the
 * bulk offset reads (bulk-offsets.ts) need each Cluster as it is made. Applied by createKafka to
 * each client it makes, so a client made elsewhere is left as KafkaJS made it. The types below
 * are the parts of KafkaJS's Cluster, BrokerPool and Broker (src/cluster/, src/broker/) those
 * modules read or replace, and nothing else.
 */
import type { Kafka } from 'kafkajs';

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

export interface BrokerInternals {
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
