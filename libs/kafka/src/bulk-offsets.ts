/**
 * Owns reading the offsets of many topics at once: what a consumer group committed, and where
 * each partition's log starts and ends. KafkaJS 2.2.4's admin reads log offsets one topic per call
 * (two ListOffsets requests each), and for committed offsets looks every topic up on its own
 * under the client's one "updating target topics" lock, each time checking the client's metadata
 * in time quadratic in the topics it knows. With a thousand tenants those lookups queued on the
 * lock until they timed out (KafkaJSLockTimeout), every lag read failed, and its fallback of one
 * read per topic sent thousands of requests per interval. Here a read of any number of topics
 * names them to the client once (one lock, one metadata refresh if any is new), then sends one
 * OffsetFetch to the group coordinator and one ListOffsets per leader broker for each end of the
 * log. Topics that no longer exist (a tenant deleted a moment ago) are left out.
 *
 * It reaches KafkaJS's Cluster behind an admin, which the admin does not expose (clusterOf in
 * clusters.ts). KafkaJS is pinned.
 */
import type { Admin } from 'kafkajs';
import { clusterOf, type ClusterInternals, type PartitionMetadata } from './clusters';
import { isStaleMetadata, isUnknownTopic } from './kafkajs-errors';
import { metadataCovers } from './metadata-index';

/** Where a partition's log starts and ends. */
export interface LogOffsets {
  readonly partition: number;
  /** The first offset still in the log. */
  readonly low: bigint;
  /** The offset the next record will get, as a read_committed consumer sees it. */
  readonly high: bigint;
}

/** What a group committed for a partition; offset -1 when it never committed one. */
export interface CommittedOffset {
  readonly partition: number;
  readonly offset: bigint;
  readonly metadata: string | null;
}

/** KafkaJS's ListOffsets timestamps for each end of the log. */
const LATEST = -1;
const EARLIEST = -2;

/**
 * How old the metadata a bulk read goes by may be. A read that meets a moved leader or a deleted
 * topic refreshes at once (againAfterRefresh), so this only bounds how late a topic's new
 * partitions are seen. TRICKY: an admin's own rule refreshes on every lookup; with a thousand
 * tenants that was a metadata request for 3,000 topics several times a second from the projector's
 * watermark alone, 40% of the broker's CPU under load.
 */
export const BULK_METADATA_MAX_AGE_MS = 30_000;

/**
 * The partitions of those of `topics` that exist, by topic. TRICKY: a topic that does not exist
 * makes the refresh fail; the client's deleted-topics repair then forgets it and refreshes again,
 * so it is simply absent here.
 */
async function partitionsOf(
  cluster: ClusterInternals,
  topics: readonly string[],
): Promise<Map<string, readonly PartitionMetadata[]>> {
  await cluster.addMultipleTargetTopics([...topics]);
  // TRICKY: KafkaJS shares one metadata refresh among concurrent callers, so the refresh that
  // naming new topics starts can be one already under way for the topics named before, which
  // does not list them: refresh while the metadata lacks any of them, twice at most, since the
  // first refresh can itself be one started before. Each check costs constant time per topic
  // (metadata-index.ts).
  for (
    let refreshes = 0;
    refreshes < 2 && !metadataCovers(cluster.brokerPool, topics, Date.now(), BULK_METADATA_MAX_AGE_MS);
    refreshes += 1
  )
    await cluster.refreshMetadata();
  const found = new Map<string, readonly PartitionMetadata[]>();
  for (const topic of new Set(topics)) {
    const partitions = cluster.findTopicPartitionMetadata(topic);
    if (partitions.length > 0) found.set(topic, partitions);
  }
  return found;
}

/**
 * Runs `read` once more after a metadata refresh if it fails on stale metadata: a topic deleted
 * or a leader moved since the client's metadata was read fails the whole request. A broker that
 * does not answer fails at once, so a reader answers 503 while Kafka is away instead of waiting
 * for it.
 */
async function againAfterRefresh<T>(cluster: ClusterInternals, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!isStaleMetadata(error)) throw error;
    await cluster.refreshMetadata().catch((refreshError: unknown) => {
      if (!isUnknownTopic(refreshError)) throw refreshError;
    });
    return read();
  }
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const values = map.get(key);
  if (values) values.push(value);
  else map.set(key, [value]);
}

/** What `groupId` committed on every partition of `topics`, in one request; missing topics left out. */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<Map<string, CommittedOffset[]>> {
  const cluster = clusterOf(admin);
  return againAfterRefresh(cluster, async () => {
    const partitions = await partitionsOf(cluster, topics);
    if (partitions.size === 0) return new Map();
    const coordinator = await cluster.findGroupCoordinator({ groupId });
    const { responses } = await coordinator.offsetFetch({
      groupId,
      topics: [...partitions].map(([topic, ofTopic]) => ({
        topic,
        partitions: ofTopic.map(({ partitionId }) => ({ partition: partitionId })),
      })),
    });
    return new Map(
      responses.map(({ topic, partitions: committed }) => [
        topic,
        committed.map(({ partition, offset, metadata }) => ({
          partition,
          offset: BigInt(offset),
          metadata: metadata ?? null,
        })),
      ]),
    );
  });
}

/** Where every partition of `topics` starts and ends: two requests per leader broker; missing topics left out. */
export async function logOffsets(
  admin: Admin,
  topics: readonly string[],
): Promise<Map<string, LogOffsets[]>> {
  const cluster = clusterOf(admin);
  return againAfterRefresh(cluster, async () => {
    const partitions = await partitionsOf(cluster, topics);
    /** Each leader's partitions, by topic. */
    const byLeader = new Map<number, Map<string, number[]>>();
    for (const [topic, ofTopic] of partitions)
      for (const { partitionId, leader } of ofTopic) {
        if (leader === null || leader < 0)
          throw Object.assign(new Error(`partition ${topic}:${partitionId} has no leader`), {
            type: 'LEADER_NOT_AVAILABLE',
          });
        if (!byLeader.has(leader)) byLeader.set(leader, new Map());
        pushTo(byLeader.get(leader)!, topic, partitionId);
      }
    /** Each partition's offset at one end of the log, by `topic:partition`. */
    const offsetsAt = async (timestamp: number): Promise<Map<string, bigint>> => {
      const offsets = new Map<string, bigint>();
      await Promise.all(
        [...byLeader].map(async ([leader, byTopic]) => {
          const broker = await cluster.findBroker({ nodeId: String(leader) });
          const { responses } = await broker.listOffsets({
            topics: [...byTopic].map(([topic, ofTopic]) => ({
              topic,
              partitions: ofTopic.map((partition) => ({ partition, timestamp })),
            })),
          });
          for (const { topic, partitions: answered } of responses)
            for (const { partition, offset } of answered)
              offsets.set(`${topic}:${partition}`, BigInt(offset));
        }),
      );
      return offsets;
    };
    const [low, high] = await Promise.all([offsetsAt(EARLIEST), offsetsAt(LATEST)]);
    return new Map(
      [...partitions].map(([topic, ofTopic]) => [
        topic,
        ofTopic
          .map(({ partitionId }) => partitionId)
          .sort((a, b) => a - b)
          .map((partition) => ({
            partition,
            low: low.get(`${topic}:${partition}`)!,
            high: high.get(`${topic}:${partition}`)!,
          })),
      ]),
    );
  });
}
