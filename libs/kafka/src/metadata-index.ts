/**
 * Owns one repair to KafkaJS 2.2.4: it finds a topic in its cached metadata by scanning the list
 * of every topic it knows, and checks that all of a client's topics are known by scanning that
 * list once per topic. Every consumer fetch, every produce and every admin lookup runs the check
 * over all the client's topics, so its cost grows with the square of the tenants (three topics
 * each): at a thousand tenants, hundreds of thousands of string comparisons per fetch and per
 * produce. Both lookups here go through a Set and a Map built once per metadata response (KafkaJS
 * replaces the response object on every refresh and never changes one in place), with the same
 * answers and the same refresh rule: refresh when nothing is cached, when the cache is older than
 * `metadataMaxAge`, or when a topic asked about is not in it.
 */
import type { Kafka } from 'kafkajs';
import {
  onEachCluster,
  type BrokerPoolInternals,
  type ClusterInternals,
  type MetadataResponse,
  type TopicMetadata,
} from './clusters';

const indexes = new WeakMap<MetadataResponse, Map<string, TopicMetadata>>();

/** The topics of a metadata response by name, built on first use. */
export function indexOf(metadata: MetadataResponse): Map<string, TopicMetadata> {
  let index = indexes.get(metadata);
  if (!index) {
    index = new Map(metadata.topicMetadata.map((topic) => [topic.topic, topic]));
    indexes.set(metadata, index);
  }
  return index;
}

/**
 * Whether a pool's cached metadata answers for `topics` at `now` without a refresh: it lists them
 * all and is at most `maxAgeMs` old (by default the client's own max age, which for an admin is 0:
 * KafkaJS's admin refreshes on every lookup).
 */
export function metadataCovers(
  pool: Pick<BrokerPoolInternals, 'metadata' | 'metadataExpireAt' | 'metadataMaxAge'>,
  topics: readonly string[],
  now: number,
  maxAgeMs = pool.metadataMaxAge,
): boolean {
  const { metadata, metadataExpireAt, metadataMaxAge } = pool;
  if (metadata == null || metadataExpireAt == null) return false;
  const fetchedAt = metadataExpireAt - metadataMaxAge;
  if (now > fetchedAt + maxAgeMs) return false;
  const index = indexOf(metadata);
  return topics.every((topic) => index.has(topic));
}

function repair(cluster: ClusterInternals): void {
  const pool = cluster.brokerPool;
  pool.refreshMetadataIfNecessary = async (topics) => {
    if (!metadataCovers(pool, topics, Date.now())) await pool.refreshMetadata(topics);
  };
  const find = cluster.findTopicPartitionMetadata.bind(cluster);
  cluster.findTopicPartitionMetadata = (topic) => {
    // Without metadata, KafkaJS's own lookup throws its usual error.
    if (!pool.metadata) return find(topic);
    return indexOf(pool.metadata).get(topic)?.partitionMetadata ?? [];
  };
}

/** `kafka`, whose Clusters look topics up in their metadata in constant time. */
export function indexMetadata(kafka: Kafka): Kafka {
  onEachCluster(kafka, repair);
  return kafka;
}
