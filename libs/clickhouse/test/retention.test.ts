import { isEmptyPlan, parsePartition, planRetention, type TenantRetention } from '../src/retention';

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
  // 30 days before 2026-11-29 is 2026-10-30.
  const cutoffMs = Date.parse('2026-10-30T00:00:00Z');
  const oldEvidence = [{ tenant: 'acme', oldestMs: Date.parse('2026-06-11T08:00:00Z') }];

  it('drops months wholly before the cutoff, trims the straddling month and old evidence', () => {
    // June goes, October is trimmed, November stays.
    expect(planRetention(partitions, oldEvidence, [tenant('acme')], now)).toEqual({
      dropPartitions: [{ tenant: 'acme', month: 202606 }],
      deleteBefore: [{ tenant: 'acme', cutoffMs }],
      trimEvidence: [{ tenant: 'acme', cutoffMs }],
    });
  });

  it('leaves evidence within the retention alone', () => {
    const recent = [{ tenant: 'acme', oldestMs: cutoffMs }];
    expect(planRetention([], recent, [tenant('acme')], now).trimEvidence).toEqual([]);
  });

  it('keeps everything under a legal hold', () => {
    const plan = planRetention(
      partitions,
      oldEvidence,
      [tenant('acme', { onLegalHold: true, deleted: true })],
      now,
    );
    expect(plan).toEqual({ dropPartitions: [], deleteBefore: [], trimEvidence: [] });
    expect(isEmptyPlan(plan)).toBe(true);
  });

  it('drops every partition and all the evidence of a deleted tenant', () => {
    const recent = [{ tenant: 'acme', oldestMs: now }];
    const plan = planRetention(partitions, recent, [tenant('acme', { deleted: true })], now);
    expect(plan.dropPartitions).toEqual(partitions);
    expect(plan.trimEvidence).toEqual([{ tenant: 'acme' }]);
  });

  it('leaves tenants it does not know alone', () => {
    expect(isEmptyPlan(planRetention(partitions, oldEvidence, [tenant('other')], now))).toBe(true);
  });
});
