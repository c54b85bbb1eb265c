/**
 * Owns the session timeline: the trace replay of `GET /enterprise/aispm/replay/{session_id}`
 * (DESIGN §11, §12), oldest step first. Replaying is an auditor's act and the server records each
 * one in the audit trail, so the page says so and viewers are told the page is not theirs.
 */
import * as api from '../api';
import { ApiError } from '../api';
import {
  Badge,
  Card,
  Chips,
  count,
  ErrorBox,
  EventLink,
  humanize,
  Id,
  Loading,
  StatCards,
  text,
  Time,
} from '../format';
import { useLoad } from '../hooks';
import { canAudit } from '../session';
import type { TraceReplay } from '../types';

export function SessionPage({ id }: { readonly id: string }) {
  return (
    <>
      <div class="page-head">
        <h1>
          Session <Id value={id} />
        </h1>
      </div>
      {canAudit.value ? (
        <Timeline id={id} />
      ) : (
        <div class="alert alert-warn" role="alert">
          Session timelines are replays, which need the auditor role.
        </div>
      )}
    </>
  );
}

function Timeline({ id }: { readonly id: string }) {
  const load = useLoad(`session:${id}`, (signal) => api.sessionReplay(id, signal));
  const replay = load.data;
  return (
    <>
      <p class="muted small">Each replay of a session is recorded in the tenant's audit trail.</p>
      {load.error instanceof ApiError && load.error.status === 404 ? (
        <div class="alert alert-warn" role="alert">
          No decisions in this session in your tenant.
        </div>
      ) : load.error ? (
        <ErrorBox error={load.error} />
      ) : null}
      {replay ? <Steps replay={replay} /> : load.error ? null : <Loading />}
    </>
  );
}

function Steps({ replay }: { readonly replay: TraceReplay }) {
  const { summary } = replay;
  return (
    <>
      <div class="grid stats">
        <StatCards
          stats={[
            ['Steps', count(summary.steps)],
            ['Blocks', count(summary.blocks)],
            ['Approvals', count(summary.approvals)],
            ['Warnings', count(summary.warnings)],
            ['Critical or high', count(summary.critical_or_high)],
          ]}
        />
      </div>
      <Card title="Timeline, oldest first">
        <ol class="timeline" data-testid="session-timeline">
          {replay.steps.map((step, index) => (
            <li key={`${text(step.event_id)}#${index}`} class="step">
              <div class="step-head">
                <span class="step-no" aria-label={`Step ${text(step.step)}`}>
                  {text(step.step)}
                </span>
                <Time value={step.timestamp} />
                <Badge value={step.decision} />
                <Badge value={step.severity} />
                <span class="muted">{humanize(step.control_surface)}</span>
              </div>
              <div class="step-body">
                <p class="step-summary">{text(step.target_summary)}</p>
                <dl class="inline-fields">
                  <dt>Agent</dt>
                  <dd>{text(step.agent_id)}</dd>
                  <dt>Risk</dt>
                  <dd>{text(step.risk_classification)}</dd>
                  <dt>Event</dt>
                  <dd>
                    <EventLink id={step.event_id} />
                  </dd>
                  <dt>Evidence</dt>
                  <dd>
                    <Chips values={step.evidence_refs} />
                  </dd>
                </dl>
              </div>
            </li>
          ))}
        </ol>
      </Card>
    </>
  );
}
