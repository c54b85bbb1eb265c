/**
 * Chains the audit trail into ClickHouse: reads `aispm.audit` (one partition, so one order) and
 * writes each record with prev_hash and record_hash. The chain resumes from the last stored link,
 * and offsets are committed only after the insert, so a restart rewrites, never skips, a link.
 * A record that cannot be decoded is dead-lettered to `aispm.dlq` and takes its position in the
 * chain as an `audit.dead_lettered` link, so the chain stays unbroken and says where it was.
 */
import { identifier, name, sql, type ClickHouse } from '@aispm/clickhouse';
import { SHARED_TOPICS, TOPIC_SCHEMAS, type AuditRecord } from '@aispm/contracts';
import { systemActor } from '@aispm/control';
import { chainHash, canonicalJson, GENESIS_HASH } from '@aispm/integrity';
import { TopicFollower, type FollowedBatch, type KafkaClient, type StageCodec } from '@aispm/kafka';
import type { Logger } from '@aispm/observability';

export class AuditChainWriter {
  private readonly reader: TopicFollower;
  private readonly table: string;

  constructor(
    kafka: KafkaClient,
    groupPrefix: string,
    codec: StageCodec,
    private readonly clickhouse: ClickHouse,
    private readonly database: string,
    private readonly logger: Logger,
  ) {
    // Resumes after the last committed link, after a start or a crash.
    this.reader = new TopicFollower(
      kafka,
      codec,
      logger,
      {
        name: 'projector audit chain writer',
        topic: SHARED_TOPICS.audit,
        groupId: `${groupPrefix}-audit-chain`,
        from: { kind: 'committed' },
        poison: 'dead-letter',
      },
      (batch) => this.chain(batch),
    );
    this.table = `${identifier(database)}.audit_log`;
  }

  async start(): Promise<void> {
    await this.reader.start();
  }

  async stop(): Promise<void> {
    await this.reader.stop();
  }

  /** Writes a batch's links, each chained to the one before it. */
  private async chain(batch: FollowedBatch): Promise<void> {
    let prevHash = await this.hashBefore(BigInt(batch.messages[0]!.offset));
    const rows = [];
    for (const message of batch.messages) {
      const record =
        (await batch.decode<AuditRecord>(message, TOPIC_SCHEMAS.audit)) ??
        deadLetteredLink(batch.partition, message.offset, message.timestampMs);
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
    this.logger.debug({ links: rows.length }, 'audit records chained');
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
