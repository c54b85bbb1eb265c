/**
 * Owns the posture overview (DESIGN §17): score and risk level, decisions by outcome, coverage by
 * control surface, findings and near misses, recent decisions, agents with their behaviour
 * fingerprints, and the freshness watermark, all from one `GET /enterprise/aispm/dashboard` with
 * the URL's filters. The document is re-read when the live stream reports a change, so the counts
 * follow new events without a reload and always equal the API's document.
 */
import { useEffect, useRef } from 'preact/hooks';
import * as api from '../api';
import { OutcomeChart, outcomesOf } from '../chart';
import {
  Badge,
  Card,
  Chips,
  count,
  ErrorBox,
  EventLink,
  humanize,
  Loading,
  PageHead,
  SessionLink,
  StatCards,
  Table,
  text,
  Time,
  type Column,
} from '../format';
import { useLoad } from '../hooks';
import * as live from '../live';
import { Link, location, filtersOf, paths } from '../router';
import type { Dashboard, DecisionSummary, Filters, Fingerprint, NearMiss, TimelineEntry } from '../types';
import { FilterBar } from './Filters';

/** Re-read the document at most this often while deltas keep arriving. */
const REFRESH_MS = 400;

export function Overview() {
  const query = location.value.query;
  const filters = filtersOf(query);
  const key = JSON.stringify(filters);
  const load = useLoad(key, (signal) => api.dashboard(filters, signal));

  // Follow the live stream: one re-read shortly after a delta, however many arrive meanwhile.
  const changed = live.postureChanged.value;
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    if (changed === 0 || pending.current !== undefined) return;
    pending.current = setTimeout(() => {
      pending.current = undefined;
      load.reload();
    }, REFRESH_MS);
  }, [changed]);
  useEffect(() => () => clearTimeout(pending.current), []);

  const doc = load.data;
  return (
    <>
      <PageHead
        title="Posture overview"
        readAt={doc?.control_plane.generated_at || undefined}
        loading={load.loading}
        onRefresh={load.reload}
      />
      <FilterBar filters={filters} agents={doc ? doc.agents.map((a) => a.agent_id) : []} />
      {load.error ? <ErrorBox error={load.error} /> : null}
      {doc ? <Document doc={doc} filters={filters} /> : load.error ? null : <Loading />}
    </>
  );
}

function Document({ doc, filters }: { readonly doc: Dashboard; readonly filters: Filters }) {
  const { overview } = doc;
  const outcomes = outcomesOf(doc.behavior_fingerprints.map((fp) => fp.decision_profile));
  const limits = doc.control_plane.limits ?? {};
  return (
    <>
      <div class="grid stats">
        <section class="card score" aria-labelledby="score-label">
          <div class="stat-label" id="score-label">
            Posture score
          </div>
          <div class="score-row">
            <span class="score-value" data-testid="posture-score">
              {String(overview.posture_score)}
            </span>
            <span class="score-max">/ 100</span>
            <Badge value={overview.risk_level} label={`${humanize(overview.risk_level)} risk`} />
          </div>
          <meter
            min={0}
            max={100}
            low={40}
            high={85}
            optimum={100}
            value={overview.posture_score}
            aria-label="Posture score out of 100"
          />
        </section>
        <StatCards
          stats={[
            ['Decisions', String(overview.total_decisions), 'total-decisions'],
            ['Sessions', count(overview.total_sessions)],
            ['Blocked', count(overview.blocked_actions)],
            ['Approval required', count(overview.approval_required_actions)],
            ['Findings', count(overview.risk_findings)],
          ]}
        />
        <FreshnessCard doc={doc} />
      </div>

      <div class="grid two">
        <Card title="Decisions by outcome">
          {overview.total_decisions === 0 ? (
            <p class="muted">No decisions match these filters.</p>
          ) : (
            <OutcomeChart outcomes={outcomes} />
          )}
          <Table
            caption="Decisions by outcome"
            rows={outcomes}
            rowKey={(row) => row.name}
            columns={[
              { header: 'Outcome', cell: (row) => <Badge value={row.name} /> },
              { header: 'Decisions', kind: 'num', cell: (row) => count(row.count) },
              {
                header: 'Share',
                kind: 'num',
                cell: (row) => share(row.count, overview.total_decisions),
              },
            ]}
          />
          <p class="muted small">Evidence confidence: {humanize(overview.evidence_confidence)}</p>
        </Card>
        <Card title="Coverage by control surface">
          <Table
            caption="Coverage by control surface"
            rows={doc.control_coverage}
            rowKey={(row) => text(row.surface_id)}
            columns={[
              {
                header: 'Surface',
                cell: (row) => (
                  <>
                    <div>{text(row.label)}</div>
                    <div class="muted small">{text(row.description)}</div>
                  </>
                ),
              },
              {
                header: 'Status',
                cell: (row) => (
                  <>
                    <Badge value={row.coverage_status} />
                    <div class="muted small">{humanize(row.evidence_confidence)}</div>
                  </>
                ),
              },
              { header: 'Decisions', kind: 'num', cell: (row) => count(row.decision_count) },
              { header: 'Blocked', kind: 'num', cell: (row) => count(row.blocked_actions) },
              { header: 'Approval', kind: 'num', cell: (row) => count(row.approval_required_actions) },
              { header: 'Warned', kind: 'num', cell: (row) => count(row.warned_actions) },
            ]}
          />
        </Card>
      </div>

      <Card title="Findings">
        <Table<DecisionSummary>
          caption="Findings, newest first"
          rows={doc.findings}
          rowKey={(row, index) => `${text(row.decision_id)}#${index}`}
          empty="No findings match these filters."
          columns={decisionColumns}
        />
        <ListLimit shown={doc.findings.length} limit={limits.findings_and_near_misses} />
      </Card>

      <Card title="Near misses">
        <Table<NearMiss>
          caption="Near misses, newest first"
          rows={doc.near_misses}
          rowKey={(row, index) => `${text(row.decision_id)}#${index}`}
          empty="No near misses match these filters."
          columns={nearMissColumns}
        />
        <ListLimit shown={doc.near_misses.length} limit={limits.findings_and_near_misses} />
      </Card>

      <Card title="Agents and behaviour fingerprints">
        <AgentsTable doc={doc} filters={filters} />
      </Card>

      <Card title="Recent decisions">
        <Table<TimelineEntry>
          caption="Recent decisions, newest first"
          rows={doc.timeline}
          rowKey={(row, index) => `${text(row.event_id)}#${index}`}
          empty="No decisions match these filters."
          columns={decisionColumns}
        />
        <ListLimit shown={doc.timeline.length} limit={limits.timeline} />
      </Card>
    </>
  );
}

/** `part` of `whole` as a percentage, never showing a non-zero part as 0. */
function share(part: number, whole: number): string {
  if (!(whole > 0)) return '—';
  const percent = (100 * part) / whole;
  return part > 0 && percent < 0.1 ? '< 0.1 %' : `${percent.toFixed(1)} %`;
}

function ListLimit({ shown, limit }: { readonly shown: number; readonly limit: number | undefined }) {
  if (limit === undefined || shown < limit) return null;
  return <p class="muted small">The {count(limit)} most recent are listed; the counts above are exact.</p>;
}

const decisionColumns: readonly Column<DecisionSummary>[] = [
  { header: 'Time', cell: (row) => <Time value={row.timestamp} /> },
  { header: 'Decision', cell: (row) => <Badge value={row.decision} /> },
  { header: 'Severity', cell: (row) => <Badge value={row.severity} /> },
  { header: 'Agent', cell: (row) => text(row.agent_id) },
  { header: 'Repository', cell: (row) => text(row.repository) },
  { header: 'Surface', cell: (row) => humanize(row.surface_id) },
  { header: 'Risk', cell: (row) => text(row.risk_classification) },
  { header: 'Event', cell: (row) => <EventLink id={row.decision_id} /> },
  { header: 'Session', cell: (row) => <SessionLink id={row.session_id} /> },
];

const nearMissColumns: readonly Column<NearMiss>[] = [
  { header: 'Time', cell: (row) => <Time value={row.timestamp} /> },
  { header: 'Decision', cell: (row) => <Badge value={row.decision} /> },
  { header: 'Severity', cell: (row) => <Badge value={row.severity} /> },
  { header: 'Signal', cell: (row) => humanize(row.operator_signal) },
  { header: 'What', kind: 'wide', cell: (row) => text(row.reason) },
  { header: 'Agent', cell: (row) => text(row.agent_id) },
  { header: 'Event', cell: (row) => <EventLink id={row.decision_id} /> },
  { header: 'Session', cell: (row) => <SessionLink id={row.session_id} /> },
];

function FreshnessCard({ doc }: { readonly doc: Dashboard }) {
  const freshness = doc.control_plane.freshness;
  return (
    <section class="card freshness" aria-labelledby="freshness-label">
      <div class="stat-label" id="freshness-label">
        Freshness watermark
      </div>
      <div class="stat-value small-value">
        {freshness?.watermark_ms ? (
          <Time value={freshness.watermark_ms} />
        ) : (
          <span class="muted">Not known yet</span>
        )}
      </div>
      <div class="muted small">
        {freshness === undefined ? (
          'The document carries no watermark.'
        ) : freshness.caught_up ? (
          <Badge value="ok" label="Caught up" />
        ) : (
          <>
            <Badge value="degraded" label="Lagging" />{' '}
            {(freshness.stages ?? []).map((stage) => `${text(stage.stage)} ${count(stage.lag)}`).join(' · ')}
          </>
        )}
      </div>
      <p class="muted small">Events accepted before this time are in every number on this page.</p>
    </section>
  );
}

function profileText(profile: Fingerprint['action_profile'], max = 3): string {
  if (profile.length === 0) return '—';
  const shown = profile.slice(0, max).map((item) => `${humanize(item.name)} ×${count(item.count)}`);
  return profile.length > max ? `${shown.join(', ')}, +${profile.length - max}` : shown.join(', ');
}

interface AgentLine {
  readonly agent_id: string;
  readonly session_count: number;
  readonly decision_count: number;
  readonly fingerprint?: Fingerprint;
}

function AgentsTable({ doc, filters }: { readonly doc: Dashboard; readonly filters: Filters }) {
  const fingerprints = new Map(doc.behavior_fingerprints.map((fp) => [fp.agent_id, fp]));
  const lines: AgentLine[] = doc.agents.map((agent) => ({
    agent_id: agent.agent_id,
    session_count: agent.session_count,
    decision_count: agent.decision_count,
    fingerprint: fingerprints.get(agent.agent_id),
  }));
  return (
    <Table<AgentLine>
      caption="Agents and their behaviour fingerprints"
      rows={lines}
      rowKey={(line, index) => `${text(line.agent_id)}#${index}`}
      empty="No agents match these filters."
      columns={[
        {
          header: 'Agent',
          cell: (line) =>
            filters.agent_id === line.agent_id ? (
              text(line.agent_id)
            ) : (
              <Link
                href={paths.overview({ ...filters, agent_id: line.agent_id })}
                title="Filter by this agent"
              >
                {text(line.agent_id)}
              </Link>
            ),
        },
        { header: 'Sessions', kind: 'num', cell: (line) => count(line.session_count) },
        { header: 'Decisions', kind: 'num', cell: (line) => count(line.decision_count) },
        {
          header: 'Drift',
          cell: (line) =>
            line.fingerprint ? (
              <>
                <Badge value={line.fingerprint.drift_status} />{' '}
                <span class="muted small">{count(line.fingerprint.drift_score)}/100</span>
              </>
            ) : (
              <span class="muted">No decisions</span>
            ),
        },
        {
          header: 'Risk signals',
          kind: 'wide',
          cell: (line) => <Chips values={(line.fingerprint?.risk_signals ?? []).map(humanize)} />,
        },
        { header: 'Actions', cell: (line) => profileText(line.fingerprint?.action_profile ?? []) },
        { header: 'Outcomes', cell: (line) => profileText(line.fingerprint?.decision_profile ?? []) },
        { header: 'Repositories', cell: (line) => <Chips values={line.fingerprint?.repositories} /> },
        { header: 'Policy packs', cell: (line) => <Chips values={line.fingerprint?.policy_packs} /> },
        { header: 'Last seen', cell: (line) => <Time value={line.fingerprint?.last_seen_at} /> },
      ]}
    />
  );
}
