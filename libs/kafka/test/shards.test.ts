import { assignShards, shardOf, shardProtocol } from '../src/shards';

const partitions = Array.from({ length: 300 }, (_, i) => ({
  topic: `aispm.t-${Math.floor(i / 3)}.raw`,
  partition: i % 3,
}));

describe('shards', () => {
  it('puts a partition in the same shard every time, within the shard count', () => {
    for (const tp of partitions) {
      const shard = shardOf(tp, 6);
      expect(shard).toBe(shardOf({ ...tp }, 6));
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(6);
    }
  });

  it('spreads partitions over every shard', () => {
    const counts = new Map<number, number>();
    for (const tp of partitions) counts.set(shardOf(tp, 6), (counts.get(shardOf(tp, 6)) ?? 0) + 1);
    expect(counts.size).toBe(6);
    for (const count of counts.values()) expect(count).toBeGreaterThan(20);
  });

  it('assigns every partition to exactly one member, whole shards at a time', () => {
    const assignment = assignShards(['m-b', 'm-a', 'm-c'], partitions, 6);
    const owners = new Map<string, string>();
    const shardOwners = new Map<number, Set<string>>();
    for (const [member, topics] of assignment)
      for (const [topic, owned] of Object.entries(topics))
        for (const partition of owned) {
          const key = `${topic}:${partition}`;
          expect(owners.has(key)).toBe(false);
          owners.set(key, member);
          const shard = shardOf({ topic, partition }, 6);
          shardOwners.set(shard, (shardOwners.get(shard) ?? new Set()).add(member));
        }
    expect(owners.size).toBe(partitions.length);
    for (const members of shardOwners.values()) expect(members.size).toBe(1);
  });

  it('gives the same answer whatever order the members come in', () => {
    const one = assignShards(['x', 'y'], partitions, 4);
    const other = assignShards(['y', 'x'], partitions, 4);
    expect(Object.fromEntries(one)).toEqual(Object.fromEntries(other));
  });

  it('leaves members beyond the shard count idle', () => {
    const assignment = assignShards(['a', 'b', 'c', 'd'], partitions, 2);
    const busy = [...assignment.values()].filter((topics) => Object.keys(topics).length > 0);
    expect(busy).toHaveLength(2);
  });

  it('names the shard count in the group protocol, so members that disagree cannot share a group', () => {
    expect(shardProtocol(6)).not.toBe(shardProtocol(8));
  });
});
