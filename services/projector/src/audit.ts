/**
 * Chains the audit trail into ClickHouse: reads `aispm.audit` (one partition, so one order) and
 * writes each record with prev_hash and record_hash. The chain resumes from the last stored link,
 * and offsets are committed only after the insert, so a restart rewrites, never skips, a link.
 * A record that cannot be decoded is dead-lettered to `aispm.dlq` and takes its position in the
 * chain as an `audit.dead_lettered` link, so the chain stays unbroken and says where it was.
 */
import type { Consumer, Kafka } from 'kafkajs';
import { identifier, name, sql, type ClickHouse } from '@aispm/clickhouse';
import { SHARED_TOPICS, TOPIC_SCHEMAS, type AuditRecord } from '@aispm/contracts';
import { systemActor } from '@aispm/control';
import { chainHash, canonicalJson, GENESIS_HASH } from '@aispm/integrity';
import { FollowedReader, SharedDeadLetters, subscribeWhenReady, type StageCodec } from '@aispm/kafka';
import type { Logger } from '@aispm/observability';

export class AuditChainWriter {
  private readonly consumer: Consumer;
  private readonly reader: FollowedReader;
  private readonly table: string;
  private readonly deadLetters: SharedDeadLetters;

  constructor(
    kafka: Kafka,
    groupPrefix: string,
    private readonly codec: StageCodec,
    private readonly clickhouse: ClickHouse,
    private readonly database: string,
    private readonly logger: Logger,
  ) {
    this.consumer = kafka.consumer({ groupId: `${groupPrefix}-audit-chain`, allowAutoTopicCreation: false });
    this.deadLetters = new SharedDeadLetters(kafka, codec, logger, 'projector audit chain writer');
    this.reader = new FollowedReader(this.consumer, {
      name: 'audit chain writer',
      logger,
      follow: () => this.follow(),
    });
    this.table = `${identifier(database)}.audit_log`;
  }

  async start(): Promise<void> {
    await this.reader.start();
  }

  async stop(): Promise<void> {
    await this.reader.stop();
    await this.deadLetters.stop();
  }

  /** Resumes after the last committed link, after a start or a crash. */
  private async follow(): Promise<void> {
    await subscribeWhenReady(this.consumer, { topics: [SHARED_TOPICS.audit], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        if (batch.messages.length === 0) return;
        const first = BigInt(batch.messages[0]!.offset);
        let prevHash = await this.hashBefore(first);
        const rows = [];
        for (const message of batch.messages) {
          const record =
            (await this.deadLetters.decodeOr<AuditRecord>(
              batch.topic,
              batch.partition,
              message,
              TOPIC_SCHEMAS.audit,
            )) ?? deadLetteredLink(batch.partition, message.offset, Number(message.timestamp));
          const recordHash = chainHash(prevHash, record);
          rows.push({
            position: message.offset,
            at_ms: record.at_ms,
            tenant: record.tenant,
            action: record.action,
            actor_kind: record.actor.kind,
            actor_id: record.actor.id,
            record: canonicalJson(record),
            prev_hash: prevHash,
            record_hash: recordHash,
            written_ms: Date.now(),
          });
          prevHash = recordHash;
        }
        await this.clickhouse.insert(this.table, rows);
        const last = batch.messages[batch.messages.length - 1]!.offset;
        await this.consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
        ]);
        resolveOffset(last);
        await heartbeat();
        this.logger.debug({ links: rows.length }, 'audit records chained');
      },
    });
  }

  /** The record_hash of the link just before `position`: where the chain resumes. */
  private async hashBefore(position: bigint): Promise<string> {
    if (position === 0n) return GENESIS_HASH;
    const [row] = await this.clickhouse.query<{ record_hash: string }>(
      sql`SELECT record_hash FROM ${name(this.database)}.audit_log FINAL WHERE position = ${position - 1n}`,
    );
    if (!row) throw new Error(`audit_log has no link at ${position - 1n}; cannot continue the chain`);
    return row.record_hash;
  }
}

/** The link that stands in the chain for a record that was dead-lettered; the same on a rewrite. */
function deadLetteredLink(partition: number, offset: string, atMs: number): AuditRecord {
  return {
    schema_version: 'aispm.audit_record.v1',
    action: 'audit.dead_lettered',
    actor: systemActor('projector audit chain writer'),
    tenant: '',
    at_ms: atMs,
    detail: { topic: SHARED_TOPICS.audit, partition, offset, dead_letters: SHARED_TOPICS.deadLetters },
  };
}
