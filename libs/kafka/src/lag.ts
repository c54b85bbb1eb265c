/**
 * Owns consumer lag (DESIGN §13): for a consumer group and a set of topics, the end offset minus
 * the committed offset of every partition, read from the broker, never from the consumer's own
 * position, so a stuck or dead consumer shows growing lag instead of none.
 */
import type { Admin } from 'kafkajs';
import { tenantTopic } from '@aispm/contracts';
import { committedOffsets, logOffsets } from './bulk-offsets';
import { stageGroupId } from './loop';

/** The lag of one partition. */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset; -1 when it has committed nothing on this partition. */
  readonly committed: bigint;
  /** The first offset still in the log (the low watermark). */
  readonly start: bigint;
  /** The offset the next message will get (the high watermark). */
  readonly end: bigint;
  /** Messages the group has yet to process. */
  readonly lag: bigint;
}

/**
 * Lag from the offsets of one partition. With nothing committed the group starts at the first
 * retained message (stages subscribe from the beginning), so every retained message is lag. A
 * committed offset below the start (retention dropped unread messages) counts only what is left.
 */
export function partitionLag(committed: bigint, start: bigint, end: bigint): bigint {
  const position = committed < 0n ? start : committed < start ? start : committed;
  return end > position ? end - position : 0n;
}

/**
 * Reads committed offsets of `groupId`, then the start and end offsets of each topic: one request
 * for the first and one per broker for each end of the second, however many topics
 * (bulk-offsets.ts). Topics that do not exist (a tenant deleted a moment ago) are left out.
 */
export async function consumerLag(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<PartitionLag[]> {
  if (topics.length === 0) return [];
  const committed = await committedOffsets(admin, groupId, topics);
  const logs = await logOffsets(admin, [...committed.keys()]);
  const lags: PartitionLag[] = [];
  for (const [topic, partitions] of logs) {
    const committedOf = new Map((committed.get(topic) ?? []).map((p) => [p.partition, p.offset]));
    for (const { partition, low: start, high: end } of partitions) {
      const done = committedOf.get(partition) ?? -1n;
      lags.push({ topic, partition, committed: done, start, end, lag: partitionLag(done, start, end) });
    }
  }
  return lags;
}

/** Messages retained in a topic (end minus start over its partitions), e.g. a DLQ's depth. */
export async function retainedMessages(admin: Admin, topic: string): Promise<bigint> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, { low, high }) => sum + (BigInt(high) - BigInt(low)), 0n);
}

/** The consumer stages of the pipeline, in flow order: each service and the tenant stage it reads. */
export const PIPELINE_STAGES = [
  { service: 'redactor', input: 'raw' },
  { service: 'normalizer', input: 'redacted' },
  { service: 'projector', input: 'normalized' },
] as const;

/** One stage's offsets on a tenant's input topic. */
export interface StageOffsets {
  readonly service: string;
  /** The tenant stage it reads (raw, redacted, normalized). */
  readonly input: string;
  readonly topic: string;
  readonly group: string;
  readonly partitions: readonly PartitionLag[];
}

/**
 * Every stage's offsets for `tenants`, in flow order, by tenant. The stages are read one after the
 * other, in flow order: an event a stage passes on while the offsets are read was already in the
 * next stage's topic when that one was read, so it shows as lag somewhere and never nowhere, which
 * the freshness watermark relies on. Each stage is one read for all tenants. A tenant whose raw
 * topic is gone (deleted a moment ago) is left out.
 */
export async function pipelineOffsets(
  admin: Admin,
  groupPrefix: string,
  tenants: readonly string[],
): Promise<Map<string, StageOffsets[]>> {
  const offsets = new Map(tenants.map((tenant) => [tenant, [] as StageOffsets[]]));
  for (const { service, input } of PIPELINE_STAGES) {
    const group = stageGroupId(groupPrefix, service);
    const lags = await consumerLag(
      admin,
      group,
      tenants.map((tenant) => tenantTopic(tenant, input)),
    );
    const byTopic = new Map<string, PartitionLag[]>();
    for (const lag of lags) byTopic.set(lag.topic, [...(byTopic.get(lag.topic) ?? []), lag]);
    for (const tenant of tenants) {
      const topic = tenantTopic(tenant, input);
      offsets.get(tenant)!.push({ service, input, topic, group, partitions: byTopic.get(topic) ?? [] });
    }
  }
  for (const [tenant, stages] of offsets) {
    if (stages[0]!.partitions.length === 0) offsets.delete(tenant);
  }
  return offsets;
}
