/**
 * Owns the live feed (DESIGN §17): events as the stream reports them, newest first, with the
 * stream's state (live, reconnecting, resumed) and the freshness the last delta carried. The
 * connection itself lives in live.ts, so the feed keeps filling while other views are open.
 */
import * as live from '../live';
import { Badge, count, EventLink, humanize, SessionLink, Table, text, Time } from '../format';

const STATUS_TEXT: Readonly<Record<live.StreamStatus, string>> = {
  off: 'Not connected',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Connection lost, reconnecting…',
  restarting: 'Stream refused by the server, retrying…',
};

export function LiveFeed() {
  const status = live.status.value;
  const resumed = live.resumed.value;
  const watermark = live.watermark.value;
  const rows = live.rows.value;
  return (
    <>
      <div class="page-head">
        <h1>Live feed</h1>
        <div class="page-meta">
          <span
            class={`stream-status stream-${status}`}
            role="status"
            aria-live="polite"
            data-testid="stream-status"
          >
            <span class="dot" aria-hidden="true" />
            {STATUS_TEXT[status]}
          </span>
        </div>
      </div>
      <div class="grid stats">
        <div class="card">
          <div class="stat-label">Events in the feed</div>
          <div class="stat-value">{count(rows.length)}</div>
          <div class="muted small">the latest {count(live.FEED_LIMIT)} are kept</div>
        </div>
        <div class="card">
          <div class="stat-label">Deltas received</div>
          <div class="stat-value">{count(live.deltasSeen.value)}</div>
        </div>
        <div class="card">
          <div class="stat-label">Resumed</div>
          <div class="stat-value small-value">
            {resumed ? <Time value={resumed.at_ms} /> : <span class="muted">Never dropped</span>}
          </div>
          {resumed ? (
            <div class="muted small">
              {count(resumed.count)} reconnection{resumed.count === 1 ? '' : 's'}, each resumed after the last
              delta shown
            </div>
          ) : null}
        </div>
        <div class="card">
          <div class="stat-label">Watermark</div>
          <div class="stat-value small-value">
            {watermark && watermark.watermark_ms > 0 ? (
              <Time value={watermark.watermark_ms} />
            ) : (
              <span class="muted">Not reported yet</span>
            )}
          </div>
          {watermark ? (
            <div class="muted small">
              Lag:{' '}
              {Object.entries(watermark.lag ?? {})
                .map(([stage, lag]) => `${text(stage)} ${count(lag)}`)
                .join(' · ')}
            </div>
          ) : null}
        </div>
      </div>
      {live.notice.value ? (
        <div class="alert alert-warn" role="status">
          {live.notice.value}{' '}
          <button type="button" class="link-button" onClick={() => (live.notice.value = undefined)}>
            Dismiss
          </button>
        </div>
      ) : null}
      <section class="card">
        <div class="card-head">
          <h2>Events, newest first</h2>
        </div>
        <Table<live.FeedRow>
          caption="Live events, newest first"
          testId="live-feed"
          rows={rows}
          rowKey={(row) => row.event_id}
          empty={
            status === 'live'
              ? 'Waiting for events. New ones appear here as soon as they are projected.'
              : 'No events yet.'
          }
          columns={[
            { header: 'Received', cell: (row) => <Time value={row.received_ms} /> },
            { header: 'Event', cell: (row) => <EventLink id={row.event_id} /> },
            {
              header: 'Decision',
              cell: (row) => (row.decision ? <Badge value={row.decision} /> : <span class="muted">—</span>),
            },
            {
              header: 'Severity',
              cell: (row) => (row.severity ? <Badge value={row.severity} /> : <span class="muted">—</span>),
            },
            {
              header: 'Kind',
              cell: (row) =>
                row.finding || row.near_miss ? (
                  [row.finding ? 'Finding' : '', row.near_miss ? 'Near miss' : ''].filter(Boolean).join(', ')
                ) : (
                  <span class="muted">Event</span>
                ),
            },
            { header: 'Agent', cell: (row) => text(row.agent_id) },
            { header: 'Repository', cell: (row) => text(row.repository) },
            { header: 'Surface', cell: (row) => humanize(row.control_surface) },
            { header: 'What', kind: 'wide', cell: (row) => text(row.target_summary) },
            { header: 'Session', cell: (row) => <SessionLink id={row.session_id} /> },
          ]}
        />
      </section>
    </>
  );
}
