/**
 * Owns how a stage's input partitions are split among its instances. Every partition belongs to
 * one of a fixed number of shards, and the group assigns whole shards: each shard is owned by one
 * instance at a time and writes through a transactional id of its own, so the instance that takes
 * a shard over fences the one that had it (its `initTransactions` aborts the old owner's open
 * transaction and refuses its later ones). KafkaJS has no KIP-447 (its offset commits in a
 * transaction carry no group generation), so per-instance transactional ids would let an instance
 * that was paused past its session commit work the group had already handed to another.
 *
 * The shard count bounds how many instances of a stage do useful work, and every instance of a
 * stage must use the same count: it is in the assignment protocol's name, so a member with
 * another count cannot join the group (INCONSISTENT_GROUP_PROTOCOL) rather than break fencing.
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/** One partition of one topic. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** FNV-1a: a stable, cheap hash, the same in every instance and every release. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The shard of a partition. */
export function shardOf({ topic, partition }: TopicPartition, shards: number): number {
  return fnv1a(`${topic}:${partition}`) % shards;
}

/**
 * Which partitions each member gets: shard s goes to the s-th member (sorted by id, modulo the
 * member count), and every partition goes with its shard. Members beyond the shard count get
 * nothing. Pure.
 */
export function assignShards(
  memberIds: readonly string[],
  partitions: readonly TopicPartition[],
  shards: number,
): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const assignment = new Map<string, Record<string, number[]>>(members.map((id) => [id, {}]));
  if (members.length === 0) return assignment;
  for (const tp of partitions) {
    const owner = assignment.get(members[shardOf(tp, shards) % members.length]!)!;
    (owner[tp.topic] ??= []).push(tp.partition);
  }
  return assignment;
}

/** The group protocol name of a shard count. */
export function shardProtocol(shards: number): string {
  return `AispmShards${shards}`;
}

/** A KafkaJS partition assigner that hands out whole shards (see {@link assignShards}). */
export function shardAssigner(shards: number): PartitionAssigner {
  const name = shardProtocol(shards);
  return ({ cluster }) => ({
    name,
    version: 0,
    async assign({ members, topics }) {
      const partitions = topics.flatMap((topic) =>
        cluster
          .findTopicPartitionMetadata(topic)
          .map(({ partitionId }) => ({ topic, partition: partitionId })),
      );
      const assignment = assignShards(
        members.map(({ memberId }) => memberId),
        partitions,
        shards,
      );
      return [...assignment].map(([memberId, owned]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: owned,
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}
