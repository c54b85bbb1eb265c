import type { QuotaDecision, QuotaLimits } from '../src';
import { TenantQuotas } from '../src';

// 10 events/s with a burst of 20; 1000 bytes/s with a burst of 4000.
const LIMITS: QuotaLimits = {
  eventsPerSecond: 10,
  eventBurst: 20,
  bytesPerSecond: 1000,
  byteBurst: 4000,
  maxKeys: 100,
};

/** A step of a scenario: at `atMs`, take `events` and `bytes` from `key`, expecting `decision`. */
type Step = [atMs: number, events: number, bytes: number, decision: QuotaDecision, key?: string];

const OK: QuotaDecision = { ok: true };
const wait = (dimension: 'events' | 'bytes', retryAfterSeconds: number): QuotaDecision => ({
  ok: false,
  tooLarge: false,
  dimension,
  retryAfterSeconds,
});
const tooLarge = (dimension: 'events' | 'bytes'): QuotaDecision => ({ ok: false, tooLarge: true, dimension });

function run(steps: Step[], limits: QuotaLimits = LIMITS): TenantQuotas {
  const quotas = new TenantQuotas(limits);
  steps.forEach(([atMs, events, bytes, decision, key = 'acme'], index) => {
    expect([index, quotas.take(key, events, bytes, atMs)]).toEqual([index, decision]);
  });
  return quotas;
}

describe('TenantQuotas.take', () => {
  it.each<[string, Step[]]>([
    ['a new key starts with full buckets', [[0, 20, 4000, OK]]],
    ['nothing is free to take', [[0, 0, 0, OK]]],
    [
      'the burst drains',
      [
        [0, 20, 0, OK],
        [0, 1, 0, wait('events', 1)],
      ],
    ],
    [
      'tokens refill continuously, not in whole seconds',
      [
        [0, 20, 0, OK],
        [500, 5, 0, OK],
        [500, 1, 0, wait('events', 1)],
        [600, 1, 0, OK],
      ],
    ],
    [
      'retry-after is the ceiling of the wait',
      [
        [0, 20, 0, OK],
        [0, 15, 0, wait('events', 2)],
        [1000, 15, 0, wait('events', 1)],
        [1500, 15, 0, OK],
      ],
    ],
    [
      'retry-after is at least a second',
      [
        [0, 20, 0, OK],
        [950, 10, 0, wait('events', 1)],
      ],
    ],
    [
      'refill stops at the burst',
      [
        [0, 20, 4000, OK],
        [60_000, 20, 4000, OK],
        [60_000, 1, 0, wait('events', 1)],
      ],
    ],
    [
      'a refusal takes nothing from either bucket',
      [
        [0, 0, 3500, OK],
        [0, 5, 1000, wait('bytes', 1)],
        [0, 20, 500, OK],
      ],
    ],
    [
      'bytes limit on their own',
      [
        [0, 1, 4000, OK],
        [0, 1, 2500, wait('bytes', 3)],
      ],
    ],
    [
      'when both run short, the slower one is named and waited for',
      [
        [0, 20, 4000, OK],
        [0, 10, 3000, wait('bytes', 3)],
        [0, 20, 1000, wait('events', 2)],
      ],
    ],
    [
      'exactly the burst passes; one more is too large, even on a full bucket',
      [
        [0, 21, 0, tooLarge('events')],
        [0, 0, 4001, tooLarge('bytes')],
        [0, 20, 4000, OK],
      ],
    ],
    [
      'too large is reported before any wait',
      [
        [0, 20, 4000, OK],
        [0, 1, 5000, tooLarge('bytes')],
      ],
    ],
    [
      'keys have separate buckets',
      [
        [0, 20, 0, OK, 'acme'],
        [0, 20, 0, OK, 'beta'],
        [0, 1, 0, wait('events', 1), 'acme'],
      ],
    ],
    [
      'a clock that steps back refills nothing',
      [
        [10_000, 20, 0, OK],
        [5_000, 1, 0, wait('events', 1)],
        [10_100, 1, 0, OK],
      ],
    ],
  ])('%s', (_name, steps) => {
    run(steps);
  });

  it('passes a request right at the boundary after many small refills', () => {
    const quotas = new TenantQuotas(LIMITS);
    expect(quotas.take('acme', 20, 4000, 0)).toEqual(OK);
    for (let atMs = 1; atMs < 1000; atMs += 1) quotas.take('acme', 0, 0, atMs);
    expect(quotas.take('acme', 10, 1000, 1000)).toEqual(OK);
    expect(quotas.take('acme', 1, 0, 1000)).toEqual(wait('events', 1));
  });

  it('handles fractional rates', () => {
    run(
      [
        [0, 1, 0, OK],
        [0, 1, 0, wait('events', 4)],
        [3_999, 1, 0, wait('events', 1)],
        [4_000, 1, 0, OK],
      ],
      { ...LIMITS, eventsPerSecond: 0.25, eventBurst: 1 },
    );
  });

  it.each([
    [-1, 0],
    [0, -1],
    [Number.NaN, 0],
    [0, Infinity],
  ])('refuses to take %p events and %p bytes', (events, bytes) => {
    expect(() => new TenantQuotas(LIMITS).take('acme', events, bytes, 0)).toThrow(RangeError);
  });
});

describe('TenantQuotas memory', () => {
  it('holds at most maxKeys buckets, dropping the least recently used', () => {
    const quotas = run(
      [
        [0, 20, 0, OK, 'a'],
        [0, 20, 0, OK, 'b'],
        // Using a (even in vain) makes b the least recently used, so c evicts b.
        [0, 1, 0, wait('events', 1), 'a'],
        [0, 20, 0, OK, 'c'],
        [0, 1, 0, wait('events', 1), 'a'],
        [0, 20, 0, OK, 'b'],
      ],
      { ...LIMITS, maxKeys: 2 },
    );
    expect(quotas.size).toBe(2);
  });

  it('never grows past maxKeys', () => {
    const quotas = new TenantQuotas({ ...LIMITS, maxKeys: 3 });
    for (let i = 0; i < 1000; i += 1) quotas.take(`tenant-${i}`, 1, 1, i);
    expect(quotas.size).toBe(3);
  });
});

describe('TenantQuotas limits', () => {
  it.each<[Partial<QuotaLimits>, RegExp]>([
    [{ eventsPerSecond: 0 }, /eventsPerSecond/],
    [{ eventBurst: -1 }, /eventBurst/],
    [{ bytesPerSecond: Number.NaN }, /bytesPerSecond/],
    [{ byteBurst: Infinity }, /byteBurst/],
    [{ maxKeys: 0 }, /maxKeys/],
    [{ maxKeys: 2.5 }, /maxKeys/],
  ])('refuses %p', (overrides, message) => {
    const build = () => new TenantQuotas({ ...LIMITS, ...overrides });
    expect(build).toThrow(message);
    expect(build).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
