import { readFileSync } from 'node:fs';
import path from 'node:path';
import { evidenceSince, Metrics, readEvidence } from '../src';

const UNIT = /_(total|ms|messages|bytes|seconds|up|timestamp_ms)$/;

describe('Metrics', () => {
  const platform = new Metrics('test').registry
    .getMetricsAsArray()
    .filter((metric) => metric.name.startsWith('aispm_'));

  it('gives every platform metric help text and a unit in its name', () => {
    expect(platform.length).toBeGreaterThan(10);
    for (const metric of platform) {
      expect([metric.name, UNIT.test(metric.name)]).toEqual([metric.name, true]);
      expect([metric.name, metric.help.length > 20]).toEqual([metric.name, true]);
    }
  });

  it('lists every platform metric in docs/observability.md', () => {
    const documented = readFileSync(path.resolve(__dirname, '../../../docs/observability.md'), 'utf8');
    for (const metric of platform)
      expect([metric.name, documented.includes(`\`${metric.name}\``)]).toEqual([metric.name, true]);
  });
});

describe('health evidence from metrics', () => {
  it('reports per tenant the counts of the interval, gauges, and process-wide values', async () => {
    const metrics = new Metrics('test');
    metrics.ingestItems.inc({ tenant: 'acme', outcome: 'rejected', reason: 'GW_SCHEMA_INVALID' }, 2);
    metrics.dlqMessages.inc({ service: 'redactor', tenant: 'acme', code: 'KAFKA_DECODE_FAILED' });
    metrics.storageUp.set({ store: 'clickhouse' }, 1);
    const first = await readEvidence(metrics);
    expect(evidenceSince(undefined, first, ['idle'])).toEqual(
      new Map([
        ['idle', { storage_up: 1 }],
        ['acme', { storage_up: 1, 'rejected.GW_SCHEMA_INVALID': 2, 'dlq.KAFKA_DECODE_FAILED': 1 }],
      ]),
    );
    metrics.ingestItems.inc({ tenant: 'acme', outcome: 'rejected', reason: 'GW_SCHEMA_INVALID' });
    metrics.storageFailures.inc({ operation: 'ping' });
    metrics.storageUp.set({ store: 'clickhouse' }, 0);
    metrics.collectorLastSeen.set({ tenant: 'acme', collector: 'col_1' }, 1234);
    const second = await readEvidence(metrics);
    expect(evidenceSince(first, second, [], new Map([['acme', { lag_messages: 4 }]]))).toEqual(
      new Map([
        [
          'acme',
          {
            storage_up: 0,
            storage_failures: 1,
            'rejected.GW_SCHEMA_INVALID': 1,
            'collector_last_seen_ms.col_1': 1234,
            lag_messages: 4,
          },
        ],
      ]),
    );
  });
});
