import { countOffsets, parseReplayRequest, planRanges, type ReplaySpec } from '../src';

const offsets = [
  { partition: 1, low: '5', high: '40' },
  { partition: 0, low: '0', high: '10' },
];

describe('parseReplayRequest', () => {
  it('reads offsets, times, partitions and rate', () => {
    expect(
      parseReplayRequest({
        tenant: 'acme',
        stage: 'normalized',
        partitions: ['2,0', '2'],
        fromOffset: '007',
        toTime: '2026-11-29T04:00:00Z',
        rate: '50',
      }),
    ).toEqual({
      tenant: 'acme',
      stage: 'normalized',
      partitions: [0, 2],
      from: { offset: '7' },
      to: { timeMs: Date.parse('2026-11-29T04:00:00Z') },
      rate: 50,
    });
    expect(parseReplayRequest({ tenant: 'acme', stage: 'dlq', fromTime: '1700000000000' })).toEqual({
      tenant: 'acme',
      stage: 'dlq',
      from: { timeMs: 1700000000000 },
    });
  });

  it.each([
    [{ stage: 'events' }, /stage must be one of/],
    [{ stage: 'raw', fromOffset: '1', fromTime: '1' }, /not both/],
    [{ stage: 'raw', fromOffset: '-1' }, /whole number/],
    [{ stage: 'raw', fromOffset: '9', toOffset: '3' }, /after to-offset/],
    [{ stage: 'raw', fromTime: '2026-01-02T00:00:00Z', toTime: '2026-01-01T00:00:00Z' }, /after to-time/],
    [{ stage: 'raw', toTime: '2026-01-01 00:00' }, /ISO 8601/],
    [{ stage: 'raw', partitions: ['x'] }, /partition must be/],
    [{ stage: 'raw', rate: '0' }, /positive/],
    [{ stage: 'raw', rate: 'fast' }, /positive/],
  ])('refuses %j', (fields, message) => {
    expect(() => parseReplayRequest({ tenant: 'acme', ...fields })).toThrow(message);
    try {
      parseReplayRequest({ tenant: 'acme', ...fields });
    } catch (error) {
      expect((error as { code: string }).code).toBe('REPLAY_INVALID_REQUEST');
    }
  });

  it('refuses a bad tenant slug', () => {
    expect(() => parseReplayRequest({ tenant: 'A!', stage: 'raw' })).toThrow(/slug/);
  });
});

describe('planRanges', () => {
  const spec: ReplaySpec = { tenant: 'acme', stage: 'redacted' };

  it('reads every partition from its first kept offset to the end captured now', () => {
    expect(planRanges(spec, offsets)).toEqual([
      { partition: 0, from: '0', to: '10' },
      { partition: 1, from: '5', to: '40' },
    ]);
  });

  it('makes --to-offset inclusive and clamps both bounds to the log', () => {
    expect(planRanges({ ...spec, from: { offset: '2' }, to: { offset: '20' } }, offsets)).toEqual([
      { partition: 0, from: '2', to: '10' },
      { partition: 1, from: '5', to: '21' },
    ]);
  });

  it('gives partitions not asked for an empty range at their end', () => {
    expect(planRanges({ ...spec, partitions: [1] }, offsets)).toEqual([
      { partition: 0, from: '10', to: '10' },
      { partition: 1, from: '5', to: '40' },
    ]);
  });

  it('uses the offsets of time bounds, per partition', () => {
    const from = new Map([
      [0, '3'],
      [1, '40'],
    ]);
    const to = new Map([
      [0, '8'],
      [1, '40'],
    ]);
    expect(planRanges({ ...spec, from: { timeMs: 1 }, to: { timeMs: 2 } }, offsets, from, to)).toEqual([
      { partition: 0, from: '3', to: '8' },
      { partition: 1, from: '40', to: '40' },
    ]);
  });

  it('never plans a range that ends before it starts', () => {
    const ranges = planRanges({ ...spec, from: { offset: '30' }, to: { offset: '35' } }, offsets);
    expect(ranges).toEqual([
      { partition: 0, from: '10', to: '10' },
      { partition: 1, from: '30', to: '36' },
    ]);
    expect(countOffsets(ranges)).toBe(6);
  });

  it('refuses a partition the topic does not have', () => {
    expect(() => planRanges({ ...spec, partitions: [7] }, offsets)).toThrow(/no partition 7/);
  });
});
