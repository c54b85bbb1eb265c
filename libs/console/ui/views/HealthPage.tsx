/**
 * Owns the ingestion-health view (DESIGN §13, §17): `GET /enterprise/aispm/ingestion/health`,
 * re-read every few seconds while the page is visible: lag per stage, stalled instances,
 * rejections by reason, retries, the dead-letter queue, storage, freshness and stale collectors.
 */
import * as api from '../api';
import {
  Badge,
  Card,
  count,
  CountTable,
  duration,
  ErrorBox,
  humanize,
  Id,
  Loading,
  PageHead,
  Stat,
  Table,
  text,
  Time,
} from '../format';
import { useInterval, useLoad } from '../hooks';
import type { Health } from '../types';

const REFRESH_MS = 10_000;

export function HealthPage() {
  const load = useLoad('health', (signal) => api.health(signal));
  useInterval(load.reload, REFRESH_MS);
  const doc = load.data;
  return (
    <>
      <PageHead
        title="Ingestion health"
        readAt={doc?.observed_ms}
        loading={load.loading}
        onRefresh={load.reload}
      />
      {load.error ? <ErrorBox error={load.error} /> : null}
      {doc ? <HealthDocument doc={doc} /> : load.error ? null : <Loading />}
    </>
  );
}

type StageRow = NonNullable<Health['stages']>[number];

function HealthDocument({ doc }: { readonly doc: Health }) {
  return (
    <>
      <div class="grid stats">
        <div class="card">
          <div class="stat-label">Status</div>
          <div class="stat-value small-value">
            <Badge value={doc.status} />
          </div>
          <div class="muted small">counts over the last {duration(doc.window_ms)}</div>
        </div>
        <div class="card">
          <Stat label="Rejections" value={count(doc.rejections.total)} />
        </div>
        <div class="card">
          <Stat
            label="DLQ depth"
            value={doc.dlq.depth === null ? 'unknown' : count(doc.dlq.depth)}
            testId="dlq-depth"
          >
            <div class="muted small">{count(doc.dlq.added)} dead-lettered in the window</div>
          </Stat>
        </div>
        <div class="card">
          <Stat label="Stale collectors" value={count(doc.collectors.stale.length)}>
            <div class="muted small">of {count(doc.collectors.total)} active</div>
          </Stat>
        </div>
        <div class="card">
          <div class="stat-label">Freshness watermark</div>
          <div class="stat-value small-value">
            {doc.freshness.watermark_ms ? (
              <Time value={doc.freshness.watermark_ms} />
            ) : (
              <span class="muted">Not known yet</span>
            )}
          </div>
          <div class="small">
            {doc.freshness.caught_up ? (
              <Badge value="ok" label="Caught up" />
            ) : (
              <Badge value="degraded" label="Lagging" />
            )}
          </div>
        </div>
        <div class="card">
          <div class="stat-label">Storage</div>
          <div class="stat-value small-value">
            <Badge value={doc.storage.status} />
          </div>
          <div class="muted small">{count(doc.storage.failures)} failures in the window</div>
        </div>
      </div>

      <Card title="Lag per stage">
        {doc.stages === null ? (
          <div class="alert alert-warn" role="status">
            The broker could not be read: lag is unknown.
          </div>
        ) : (
          <Table<StageRow>
            caption="Lag per stage, in flow order"
            rows={doc.stages}
            rowKey={(row) => text(row.service)}
            columns={[
              { header: 'Stage', cell: (row) => humanize(row.service) },
              { header: 'Topic', cell: (row) => <Id value={row.topic} /> },
              { header: 'Lag', kind: 'num', cell: (row) => count(row.lag) },
              {
                header: 'Partitions (committed / end)',
                kind: 'wide',
                cell: (row) =>
                  row.partitions
                    .map((p) => `${text(p.partition)}: ${count(p.committed)} / ${count(p.end)}`)
                    .join(' · ') || '—',
              },
            ]}
          />
        )}
        {doc.stalled.length > 0 ? (
          <>
            <h3>Stalled instances</h3>
            <Table
              caption="Stalled instances"
              rows={doc.stalled}
              rowKey={(row, index) => `${text(row.instance)}#${index}`}
              columns={[
                { header: 'Service', cell: (row) => text(row.service) },
                { header: 'Instance', cell: (row) => <Id value={row.instance} /> },
                { header: 'Stalled for', kind: 'num', cell: (row) => duration(row.stalled_ms) },
              ]}
            />
          </>
        ) : null}
      </Card>

      <div class="grid three">
        <Card title="Rejections by reason">
          <CountTable
            caption="Rejections by reason"
            counts={doc.rejections.by_reason}
            nameHeader="Reason"
            empty="No rejections in the window."
          />
        </Card>
        <Card title="Dead letters by code">
          <CountTable
            caption="Dead letters by code"
            counts={doc.dlq.by_code}
            nameHeader="Code"
            empty="No dead letters in the window."
          />
        </Card>
        <Card title="Retries by operation">
          <CountTable
            caption="Retries by operation"
            counts={doc.retries.by_operation}
            nameHeader="Operation"
            empty="No retries in the window."
          />
        </Card>
      </div>

      <Card title="Stale collectors">
        <Table
          caption="Collectors silent for longer than their expected interval"
          rows={doc.collectors.stale}
          rowKey={(row) => text(row.collector_id)}
          empty="Every collector reported within its expected interval."
          columns={[
            { header: 'Collector', cell: (row) => <Id value={row.collector_id} /> },
            {
              header: 'Last seen',
              cell: (row) =>
                row.last_seen_ms === null ? (
                  <span class="muted">Never</span>
                ) : (
                  <Time value={row.last_seen_ms} />
                ),
            },
            { header: 'Silent for', kind: 'num', cell: (row) => duration(row.silent_for_ms) },
            {
              header: 'Expected every',
              kind: 'num',
              cell: (row) => duration(row.expected_interval_s * 1000),
            },
          ]}
        />
      </Card>
    </>
  );
}
