import type { ControlCollector, HealthEvidence } from '@aispm/contracts';
import type { StageOffsets } from '@aispm/kafka';
import { HealthState, tenantHealth, type HealthInputs } from '../src';

const NOW = 1_000_000_000;

function record(service: string, observedMs: number, metrics: Record<string, number>): HealthEvidence {
  return {
    schema_version: 'aispm.health_evidence.v1',
    service,
    instance: `${service}-0`,
    tenant: 'acme',
    observed_ms: observedMs,
    metrics,
  };
}

function collector(id: string, extra: Partial<ControlCollector> = {}): ControlCollector {
  return {
    type: 'collector',
    collector_id: id,
    tenant: 'acme',
    key_sha256: '0'.repeat(64),
    require_signature: false,
    scopes: { connector_types: [], connector_ids: [], repositories: [], environments: [], event_types: [] },
    revoked: false,
    ...extra,
  };
}

function stage(lag: bigint): StageOffsets {
  return {
    service: 'redactor',
    input: 'raw',
    topic: 'aispm.acme.raw',
    group: 'aispm-redactor',
    partitions: [{ topic: 'aispm.acme.raw', partition: 0, committed: 10n - lag, start: 0n, end: 10n, lag }],
  };
}

function inputs(state: HealthState, extra: Partial<HealthInputs> = {}): HealthInputs {
  return {
    tenant: 'acme',
    nowMs: NOW,
    stages: [stage(0n)],
    dlqDepth: 0n,
    state,
    reportMaxAgeMs: 3000,
    collectors: [],
    seenHere: () => undefined,
    knownSinceMs: NOW - 60_000,
    freshness: { watermark_ms: NOW - 5, caught_up: true },
    ...extra,
  };
}

describe('HealthState', () => {
  it('sums interval counts within the window only', () => {
    const state = new HealthState(10_000);
    state.apply(record('ingest-gateway', NOW - 20_000, { 'rejected.GW_SCHEMA_INVALID': 7 }), NOW);
    state.apply(record('ingest-gateway', NOW - 2000, { 'rejected.GW_SCHEMA_INVALID': 2 }), NOW);
    state.apply(record('ingest-gateway', NOW - 1000, { 'rejected.GW_BAD_JSON': 1, accepted: 3 }), NOW);
    expect(state.counts('acme', 'rejected.', NOW)).toEqual({ GW_SCHEMA_INVALID: 2, GW_BAD_JSON: 1 });
    expect(state.counts('acme', 'rejected.', NOW + 8500)).toEqual({ GW_BAD_JSON: 1 });
    expect(state.counts('other', 'rejected.', NOW)).toEqual({});
  });

  it('counts a record that arrives twice once', () => {
    const state = new HealthState(10_000);
    const twice = record('redactor', NOW - 1000, { 'dlq.KAFKA_DECODE_FAILED': 1 });
    state.apply(twice, NOW);
    state.apply(record('redactor', NOW - 500, { 'dlq.KAFKA_DECODE_FAILED': 2 }), NOW);
    state.apply(twice, NOW);
    expect(state.counts('acme', 'dlq.', NOW)).toEqual({ KAFKA_DECODE_FAILED: 3 });
  });

  it('keeps the latest last-seen time of a collector, even from old records', () => {
    const state = new HealthState(10_000);
    state.apply(
      record('ingest-gateway', NOW - 50_000, { 'collector_last_seen_ms.col_1': NOW - 50_000 }),
      NOW,
    );
    state.apply(
      record('ingest-gateway', NOW - 60_000, { 'collector_last_seen_ms.col_1': NOW - 60_000 }),
      NOW,
    );
    expect(state.collectorSeenMs('acme', 'col_1')).toBe(NOW - 50_000);
  });
});

describe('tenantHealth', () => {
  it('reports rejections, retries, dead letters and a healthy pipeline', () => {
    const state = new HealthState(60_000);
    state.apply(record('ingest-gateway', NOW - 1000, { 'rejected.GW_SCHEMA_INVALID': 2 }), NOW);
    state.apply(record('redactor', NOW - 1000, { 'dlq.KAFKA_DECODE_FAILED': 1, lag_messages: 0 }), NOW);
    state.apply(record('projector', NOW - 1000, { 'retries.projector_batch': 3, storage_up: 1 }), NOW);
    const health = tenantHealth(inputs(state, { dlqDepth: 1n }));
    expect(health).toMatchObject({
      status: 'degraded',
      rejections: { total: 2, by_reason: { GW_SCHEMA_INVALID: 2 } },
      retries: { total: 3, by_operation: { projector_batch: 3 } },
      dlq: { depth: 1, added: 1, by_code: { KAFKA_DECODE_FAILED: 1 } },
      storage: { status: 'ok' },
      freshness: { watermark_ms: NOW - 5, caught_up: true },
      collectors: { total: 0, stale: [] },
    });
  });

  it('reports failing storage from the latest projector report, and unknown without one', () => {
    const state = new HealthState(60_000);
    expect(tenantHealth(inputs(state)).storage.status).toBe('unknown');
    state.apply(record('projector', NOW - 1000, { storage_up: 0, storage_failures: 2 }), NOW);
    expect(tenantHealth(inputs(state))).toMatchObject({
      status: 'degraded',
      storage: { status: 'failing', failures: 2, reported_ms: NOW - 1000 },
    });
    expect(tenantHealth(inputs(state, { nowMs: NOW + 10_000 })).storage.status).toBe('unknown');
  });

  it('shows the freshness it is given beside the lag per stage', () => {
    const state = new HealthState(60_000);
    const freshness = { watermark_ms: NOW - 9000, caught_up: false };
    const lagging = tenantHealth(inputs(state, { stages: [stage(3n)], freshness }));
    expect(lagging.freshness).toEqual(freshness);
    expect(lagging.stages?.[0]).toMatchObject({ service: 'redactor', lag: 3 });
  });

  it('lists collectors not seen for longer than their expected interval', () => {
    const state = new HealthState(60_000);
    state.apply(record('ingest-gateway', NOW - 5000, { 'collector_last_seen_ms.seen_old': NOW - 5000 }), NOW);
    const collectors = [
      collector('seen_old', { expected_interval_s: 2 }),
      collector('seen_here', { expected_interval_s: 2 }),
      collector('never_new', { expected_interval_s: 10, created_ms: NOW - 3000 }),
      collector('never_old', { expected_interval_s: 10, created_ms: NOW - 30_000 }),
      collector('revoked', { expected_interval_s: 1, revoked: true }),
      collector('default_interval'),
    ];
    const health = tenantHealth(
      inputs(state, { collectors, seenHere: (id) => (id === 'seen_here' ? NOW - 500 : undefined) }),
    );
    expect(health.collectors.total).toBe(5);
    expect(health.collectors.stale).toEqual([
      { collector_id: 'seen_old', last_seen_ms: NOW - 5000, expected_interval_s: 2, silent_for_ms: 5000 },
      { collector_id: 'never_old', last_seen_ms: null, expected_interval_s: 10, silent_for_ms: 30_000 },
    ]);
    expect(health.status).toBe('degraded');
  });

  it('calls the tenant stalled while a stage it lags at reports a stalled batch', () => {
    const state = new HealthState(60_000);
    state.apply(record('redactor', NOW - 1000, { stalled_ms: 75_000 }), NOW);
    const held = tenantHealth(inputs(state, { stages: [stage(4n)] }));
    expect(held.status).toBe('stalled');
    expect(held.stalled).toEqual([{ service: 'redactor', instance: 'redactor-0', stalled_ms: 75_000 }]);
    // No lag there: the stall holds nothing of this tenant back.
    expect(tenantHealth(inputs(state, { stages: [stage(0n)] })).status).toBe('ok');
    // The stage went through: its next report has no stalled_ms.
    state.apply(record('redactor', NOW - 500, { lag_messages: 4 }), NOW);
    expect(tenantHealth(inputs(state, { stages: [stage(4n)] })).status).toBe('ok');
  });
});
