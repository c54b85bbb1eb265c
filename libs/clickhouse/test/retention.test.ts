import { isEmptyPlan, planRetention, type TenantRetention } from '../src/retention';

const now = Date.parse('2026-11-29T00:00:00Z');
const tenant = (slug: string, over: Partial<TenantRetention> = {}): TenantRetention => ({
  slug,
  retentionDays: 30,
  deleted: false,
  onLegalHold: false,
  ...over,
});

describe('planRetention', () => {
  // 30 days before 2026-11-29 is 2026-10-30.
  const cutoffMs = Date.parse('2026-10-30T00:00:00Z');
  const old = [{ tenant: 'acme', oldestMs: Date.parse('2026-06-11T08:00:00Z') }];
  const recent = [{ tenant: 'acme', oldestMs: cutoffMs }];

  it('deletes the events and the evidence from before the cutoff', () => {
    expect(planRetention(old, old, [tenant('acme')], now)).toEqual({
      events: [{ tenant: 'acme', cutoffMs }],
      evidence: [{ tenant: 'acme', cutoffMs }],
    });
  });

  it('leaves rows within the retention alone', () => {
    const plan = planRetention(recent, recent, [tenant('acme')], now);
    expect(isEmptyPlan(plan)).toBe(true);
  });

  it('trims each table by its own oldest row', () => {
    expect(planRetention(recent, old, [tenant('acme')], now)).toEqual({
      events: [],
      evidence: [{ tenant: 'acme', cutoffMs }],
    });
  });

  it('keeps everything under a legal hold, even of a deleted tenant', () => {
    const plan = planRetention(old, old, [tenant('acme', { onLegalHold: true, deleted: true })], now);
    expect(plan).toEqual({ events: [], evidence: [] });
    expect(isEmptyPlan(plan)).toBe(true);
  });

  it('deletes every row of a deleted tenant, however recent', () => {
    const plan = planRetention(recent, recent, [tenant('acme', { deleted: true })], now);
    expect(plan).toEqual({ events: [{ tenant: 'acme' }], evidence: [{ tenant: 'acme' }] });
  });

  it('has nothing to do for a deleted tenant whose rows are gone', () => {
    expect(isEmptyPlan(planRetention([], [], [tenant('acme', { deleted: true })], now))).toBe(true);
  });

  it('leaves tenants it does not know alone', () => {
    expect(isEmptyPlan(planRetention(old, old, [tenant('other')], now))).toBe(true);
  });
});
