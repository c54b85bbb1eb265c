/**
 * Owns `aispm verify`: walks a tenant's integrity chain (DESIGN §8) in the normalized topic
 * (read_committed) and in ClickHouse, partition by partition, names the first broken link or says
 * from which offset to which the chain holds, and checks that every stored row carries the hash
 * the topic holds at its position.
 */
import { name, sql, trusted } from '@aispm/clickhouse';
import {
  assertTenantSlug,
  tenantTopic,
  type NormalizedEvent,
  type NormalizedEventV1,
} from '@aispm/contracts';
import { committedRanges, readCommitted, StageCodec } from '@aispm/kafka';
import {
  upcastNormalized,
  verifyEventChains,
  type PartitionVerdict,
  type StoredRecord,
} from '@aispm/normalization';
import { EVENT_RECORD_COLUMNS, fromEventRow } from '@aispm/projection';
import type { Command } from './command';
import { kafkaFor, withClickHouse } from './connections';
import type { CliConfig } from './env';
import { requireString } from './options';

/** The committed records of a tenant's normalized topic. */
async function topicRecords(topic: string, config: CliConfig): Promise<StoredRecord[]> {
  const kafka = kafkaFor(config);
  const codec = new StageCodec(config.SCHEMA_REGISTRY_URL);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ranges = await committedRanges(admin, topic);
    const records: StoredRecord[] = [];
    await readCommitted(
      kafka,
      topic,
      ranges.map(({ partition, low, end }) => ({ partition, from: low, to: end })),
      async (partition, message) => {
        const value = await codec.decode<NormalizedEvent | NormalizedEventV1>(message.value);
        records.push({ partition, offset: message.offset, event: upcastNormalized(value) });
      },
      { groupPrefix: config.AISPM_GROUP_PREFIX },
    );
    return records;
  } finally {
    await admin.disconnect();
  }
}

/** One line per partition, as the command prints it. */
function describe(where: string, verdict: PartitionVerdict): string {
  if (!verdict.ok)
    return `${where} partition ${verdict.partition}: broken at offset ${verdict.offset}: ${verdict.reason}`;
  const before = verdict.unchained > 0 ? `${verdict.unchained} record(s) written before the chain` : '';
  if (verdict.links === 0)
    return `${where} partition ${verdict.partition}: no chained records yet; ${before}`;
  const holds = `${where} partition ${verdict.partition}: the chain holds from offset ${verdict.from} to ${verdict.to} (${verdict.links} records)`;
  return before ? `${holds}, after ${before}` : holds;
}

/** Rows whose hash differs from the topic's record at the same position. */
function mismatches(topic: readonly StoredRecord[], stored: readonly StoredRecord[]): PartitionVerdict[] {
  const hashes = new Map(
    topic.map(({ partition, offset, event }) => [`${partition}:${offset}`, event.record_hash]),
  );
  const found: PartitionVerdict[] = [];
  const ordered = [...stored].sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
  for (const { partition, offset, event } of ordered) {
    const expected = hashes.get(`${partition}:${offset}`);
    if (
      expected !== undefined &&
      expected !== event.record_hash &&
      !found.some((f) => f.partition === partition)
    ) {
      found.push({ partition, ok: false, offset, reason: 'the row is not the record the topic holds here' });
    }
  }
  return found;
}

export const VERIFY_COMMANDS: Readonly<Record<string, Command>> = {
  verify: {
    usage: 'aispm verify --tenant SLUG [--database NAME]',
    summary: 'Check a tenant’s event hash chain in its normalized topic and in ClickHouse.',
    async run(_positionals, options, config) {
      const tenant = assertTenantSlug(requireString(options, 'tenant'));
      const topic = tenantTopic(tenant, 'normalized');
      const fromTopic = await topicRecords(topic, config);
      const fromStorage = await withClickHouse(options, config, async (clickhouse, database) => {
        const rows = await clickhouse.query<Parameters<typeof fromEventRow>[0]>(
          sql`SELECT ${trusted(EVENT_RECORD_COLUMNS.join(', '))} FROM ${name(database)}.events WHERE tenant = ${tenant}`,
        );
        return rows.map((row) => {
          const { event, position } = fromEventRow(row);
          return { ...position, event };
        });
      });
      const topicVerdicts = verifyEventChains(fromTopic);
      const differing = mismatches(fromTopic, fromStorage);
      const storageVerdicts = verifyEventChains(fromStorage).map((verdict) => {
        const mismatch = differing.find((m) => m.partition === verdict.partition);
        if (!mismatch || mismatch.ok) return verdict;
        return verdict.ok || BigInt(mismatch.offset) < BigInt(verdict.offset) ? mismatch : verdict;
      });
      const lines = [
        ...topicVerdicts.map((verdict) => describe(`topic ${topic}`, verdict)),
        ...storageVerdicts.map((verdict) => describe('clickhouse', verdict)),
      ];
      const broken = [...topicVerdicts, ...storageVerdicts].filter((verdict) => !verdict.ok);
      if (broken.length > 0) throw new Error(`chain broken:\n${lines.join('\n')}`);
      return { tenant, holds: true, topic: topicVerdicts, clickhouse: storageVerdicts, summary: lines };
    },
  },
};
