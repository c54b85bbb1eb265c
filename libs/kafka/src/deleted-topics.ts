/**
 * Owns one repair to KafkaJS 2.2.4 (the last release, pinned in package.json): a client keeps
 * every topic it ever produced to, subscribed to or asked about in its cluster's target topics,
 * and asks the broker about all of them on each metadata refresh. Once one of them is deleted,
 * as a tenant's topics are when the tenant is, every later refresh of that client fails with
 * UNKNOWN_TOPIC_OR_PARTITION, whatever topic it is for, until the process restarts
 * (tulios/kafkajs#1146 and #1622, open). A gateway would then answer 503 for every tenant
 * onboarded after a deletion, and for all of them once its metadata ages out; so would each
 * stage's producer and consumer.
 *
 * The repair: when a refresh fails that way, the target topics the broker no longer lists are
 * forgotten, and the refresh runs once more. The client's own cached metadata cannot tell which
 * topics were deleted: KafkaJS replaces it with a listing of every topic whenever it refreshes
 * for no topic in particular (listTopics), so it is the broker's listing that decides. A topic
 * created a moment ago and not listed yet is forgotten too; the caller's request for it fails
 * or finds no partitions, as it would have without the repair, and names it again when retried.
 *
 * Applied by createKafka to each Cluster its client makes (clusters.ts).
 */
import type { Kafka } from 'kafkajs';
import { onEachCluster, type ClusterInternals } from './clusters';
import { isUnknownTopic } from './kafkajs-errors';

/** Drops the target topics the broker no longer lists, and names them. */
async function forgetDeletedTopics(cluster: ClusterInternals): Promise<string[]> {
  // No topics named: the broker lists them all. TRICKY: the broker KafkaJS's own refresh asks,
  // since a client whose first refresh failed knows no other broker yet.
  const broker = await cluster.brokerPool.findConnectedBroker();
  const listed = await broker.metadata([]);
  const existing = new Set(listed.topicMetadata.map((t) => t.topic));
  const deleted = [...cluster.targetTopics].filter((topic) => !existing.has(topic));
  for (const topic of deleted) cluster.targetTopics.delete(topic);
  if (deleted.length > 0)
    cluster.logger.warn('Forgot deleted topics to refresh metadata', { topics: deleted });
  return deleted;
}

/** Repairs both of a Cluster's metadata refreshes; the Cluster's own calls go through them too. */
function repair(cluster: ClusterInternals): void {
  for (const method of ['refreshMetadata', 'refreshMetadataIfNecessary'] as const) {
    const refresh = cluster[method].bind(cluster);
    cluster[method] = async () => {
      try {
        await refresh();
      } catch (error) {
        if (!isUnknownTopic(error) || (await forgetDeletedTopics(cluster)).length === 0) throw error;
        await refresh();
      }
    };
  }
}

/** `kafka`, with every Cluster it makes from now on repaired. */
export function repairDeletedTopics(kafka: Kafka): Kafka {
  onEachCluster(kafka, repair);
  return kafka;
}
