import type { ClickHouse } from '@aispm/clickhouse';
import type { KafkaAdmin } from '@aispm/kafka';
import type { Kms } from '@aispm/kms';
import { deletionEffects } from '../src/tenant-deletion';

/** An admin whose topic lists are scripted, one per call, and whose deletes may fail. */
function scriptedAdmin(lists: string[][], deletes: Array<Error | undefined>) {
  const deleted: string[][] = [];
  let listed = 0;
  const admin = {
    listTopics: async () => lists[Math.min(listed++, lists.length - 1)],
    deleteTopics: async ({ topics }: { topics: string[] }) => {
      deleted.push(topics);
      const failure = deletes[deleted.length - 1];
      if (failure) throw failure;
    },
  } as unknown as KafkaAdmin;
  const effects = deletionEffects(admin, {} as Kms, {} as ClickHouse, 'aispm');
  return { effects, deleted };
}

const gone = () =>
  Object.assign(new Error('This server does not host this topic-partition'), {
    type: 'UNKNOWN_TOPIC_OR_PARTITION',
  });

describe('deleteTopics', () => {
  it("deletes the tenant's topics and no other", async () => {
    const { effects, deleted } = scriptedAdmin([['aispm.acme.raw', 'aispm.other.raw', 'aispm.control']], []);
    await effects.deleteTopics('acme');
    expect(deleted).toEqual([['aispm.acme.raw']]);
  });

  it('lists again when another instance deleted some of them first', async () => {
    const { effects, deleted } = scriptedAdmin(
      [['aispm.acme.raw', 'aispm.acme.redacted'], ['aispm.acme.redacted']],
      [gone()],
    );
    await effects.deleteTopics('acme');
    expect(deleted).toEqual([['aispm.acme.raw', 'aispm.acme.redacted'], ['aispm.acme.redacted']]);
  });

  it('is done when the other instance deleted them all', async () => {
    const { effects, deleted } = scriptedAdmin([['aispm.acme.raw'], []], [gone()]);
    await effects.deleteTopics('acme');
    expect(deleted).toHaveLength(1);
  });

  it('fails on anything else', async () => {
    const refused = new Error('Not authorized');
    const { effects } = scriptedAdmin([['aispm.acme.raw']], [refused]);
    await expect(effects.deleteTopics('acme')).rejects.toBe(refused);
  });
});
