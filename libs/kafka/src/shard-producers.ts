/**
 * Owns the producers of a transform stage's shards (see shards.ts) and what was committed for
 * their partitions. A shard's producer is made when the instance takes the shard up, and anew
 * after its transaction failed: its `initTransactions` fences whoever held the shard's
 * transactional id before (another instance, or this one's failed transaction), and only after
 * that are the shard's committed offsets read, so they can no longer move under the new owner.
 *
 * A shard the group leaves with this instance across a rebalance keeps its producer. That is
 * safe without knowing what happened between: anyone who held the shard meanwhile made a
 * producer of its own for it, which fenced this one, so this one's next transaction fails and
 * the shard is taken up anew.
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { Logger } from '@aispm/observability';
import { committedOffsets } from './bulk-offsets';
import { PARTITIONER, TRANSACTIONAL_RETRY } from './client';
import { announceTopics } from './clusters';

/** Where a partition's next record is, and the metadata committed with that offset. */
export interface Committed {
  /** The offset of the next record to process; -1 when the group never committed one. */
  readonly next: bigint;
  readonly metadata: string | null;
}

/** A shard's producer, with the committed positions read after it fenced the previous holder. */
export interface ShardLease {
  readonly producer: Producer;
  /** Reads what the group has committed for those of `topics` not read under this lease yet, in one request. */
  load(topics: readonly string[]): Promise<void>;
  /** What the group had committed for a partition of a loaded topic when it was loaded. */
  committed(topic: string, partition: number): Committed;
}

export class ShardProducers {
  private readonly held = new Map<number, Promise<ShardLease>>();

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly groupId: string,
    /** false: plain idempotent producers, offsets committed by the consumer (no fencing). */
    private readonly transactional: boolean,
    private readonly logger: Logger,
    /** The topics the shards' producers write to now, named to each as it opens. */
    private readonly outputTopics: () => readonly string[],
  ) {}

  /** The transactional id of a shard. */
  transactionalId(shard: number): string {
    return `${this.groupId}-shard-${shard}`;
  }

  /** The group rebalanced: the shards it took away are let go; the others keep their lease. */
  retain(owned: ReadonlySet<number>): void {
    for (const shard of [...this.held.keys()]) if (!owned.has(shard)) this.forget(shard);
  }

  /** The shard's lease, fencing the previous holder first if the shard is not held yet. */
  async lease(shard: number): Promise<ShardLease> {
    const held = this.held.get(shard);
    if (held) return held;
    const lease = this.open(shard);
    this.held.set(shard, lease);
    lease.catch(() => this.held.delete(shard));
    return lease;
  }

  /** Drops a shard's lease after a failed transaction; the next lease fences it and reads again. */
  forget(shard: number): void {
    const held = this.held.get(shard);
    if (!held) return;
    this.held.delete(shard);
    void this.release(held);
  }

  async stop(): Promise<void> {
    const held = [...this.held.values()];
    this.held.clear();
    await Promise.all(held.map((h) => this.release(h)));
  }

  private async release(held: Promise<ShardLease>): Promise<void> {
    await held.then((lease) => lease.producer.disconnect()).catch(() => undefined);
  }

  private async open(shard: number): Promise<ShardLease> {
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: PARTITIONER,
      retry: TRANSACTIONAL_RETRY,
      ...(this.transactional ? { transactionalId: this.transactionalId(shard) } : {}),
    });
    await producer.connect();
    // Only saves metadata refreshes: the producer still learns a topic on its first send.
    await announceTopics(producer, this.outputTopics()).catch((error: unknown) =>
      this.logger.warn(
        { err: error, shard },
        'output topics not named to the shard producer; it learns each on first send',
      ),
    );
    if (this.transactional) {
      // A transaction with nothing in it sends no EndTxn; beginning it runs InitProducerId, which
      // bumps the epoch of the shard's transactional id and aborts whatever the old holder left open.
      await (await producer.transaction()).abort();
      this.logger.debug({ shard, transactionalId: this.transactionalId(shard) }, 'shard fenced');
    }
    const positions = new Map<string, Map<number, Committed>>();
    return {
      producer,
      load: async (topics) => {
        const missing = [...new Set(topics)].filter((topic) => !positions.has(topic));
        if (missing.length === 0) return;
        for (const [topic, ofTopic] of await this.readCommitted(missing)) positions.set(topic, ofTopic);
      },
      committed: (topic, partition) => {
        const ofTopic = positions.get(topic);
        if (!ofTopic) throw new Error(`committed offsets of ${topic} were not loaded`);
        return ofTopic.get(partition) ?? { next: -1n, metadata: null };
      },
    };
  }

  private async readCommitted(topics: string[]): Promise<Map<string, Map<number, Committed>>> {
    const committed = await committedOffsets(this.admin, this.groupId, topics);
    return new Map(
      [...committed].map(([topic, partitions]) => [
        topic,
        new Map(partitions.map(({ partition, offset, metadata }) => [partition, { next: offset, metadata }])),
      ]),
    );
  }
}
