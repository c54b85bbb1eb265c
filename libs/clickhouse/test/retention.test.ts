import { parsePartition, planRetention, type TenantRetention } from '../src/retention';

const now = Date.parse('2026-11-29T00:00:00Z');
const tenant = (slug: string, over: Partial<TenantRetention> = {}): TenantRetention => ({
  slug,
  retentionDays: 30,
  deleted: false,
  onLegalHold: false,
  ...over,
});

describe('parsePartition', () => {
  it.each([
    ["('acme',202606)", { tenant: 'acme', month: 202606 }],
    ["('a-b',202611)", { tenant: 'a-b', month: 202611 }],
    ["('it\\'s',202601)", { tenant: "it's", month: 202601 }],
    ['202606', undefined],
  ])('%s', (input, expected) => expect(parsePartition(input)).toEqual(expected));
});

describe('planRetention', () => {
  const partitions = [
    { tenant: 'acme', month: 202606 },
    { tenant: 'acme', month: 202610 },
    { tenant: 'acme', month: 202611 },
  ];

  it('drops months wholly before the cutoff and trims the straddling month', () => {
    // 30 days before 2026-11-29 is 2026-10-30: June goes, October is trimmed, November stays.
    expect(planRetention(partitions, [tenant('acme')], now)).toEqual({
      dropPartitions: [{ tenant: 'acme', month: 202606 }],
      deleteBefore: [{ tenant: 'acme', cutoffMs: Date.parse('2026-10-30T00:00:00Z') }],
    });
  });

  it('keeps everything under a legal hold', () => {
    expect(planRetention(partitions, [tenant('acme', { onLegalHold: true, deleted: true })], now)).toEqual({
      dropPartitions: [],
      deleteBefore: [],
    });
  });

  it('drops every partition of a deleted tenant', () => {
    expect(planRetention(partitions, [tenant('acme', { deleted: true })], now).dropPartitions).toEqual(
      partitions,
    );
  });

  it('leaves tenants it does not know alone', () => {
    expect(planRetention(partitions, [tenant('other')], now)).toEqual({
      dropPartitions: [],
      deleteBefore: [],
    });
  });
});
