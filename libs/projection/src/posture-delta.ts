/**
 * Owns what a live subscriber learns when a batch of events is projected (DESIGN §10): the
 * overview's change, each new finding and near miss, and the coverage the batch observed, in the
 * terms of §11. Pure: the projector publishes what this returns after its ClickHouse insert.
 *
 * Deltas are increments, not the document: a subscriber that needs the whole posture reads the
 * dashboard document and then applies deltas. A redelivered batch publishes its deltas again (the
 * projector is at least once), so every delta names its events and a subscriber that adds
 * increments drops event ids it has seen.
 */
import type { NormalizedEvent, PostureDelta } from '@aispm/contracts';

type Decision = NormalizedEvent['decision'];
type Severity = NormalizedEvent['severity'];

/** §11's W_dec: what each decision takes off the posture score. */
export const DECISION_WEIGHT: Readonly<Record<Decision, number>> = {
  block: 16,
  require_approval: 10,
  warn: 5,
  audit_only: 2,
  allow_with_attestation: 1,
  allow: 0,
  not_applicable: 0,
};

/** §11's W_sev: what each finding's severity takes off the posture score. */
export const SEVERITY_WEIGHT: Readonly<Record<Severity, number>> = {
  critical: 30,
  high: 18,
  medium: 9,
  low: 3,
  none: 0,
};

/** A decision is any event whose decision is not `not_applicable`. */
export function isDecision(event: Pick<NormalizedEvent, 'decision'>): boolean {
  return event.decision !== 'not_applicable';
}

function criticalOrHigh(event: Pick<NormalizedEvent, 'severity'>): boolean {
  return event.severity === 'critical' || event.severity === 'high';
}

/** A finding: a decision that is block, require_approval or warn, or of critical or high severity. */
export function isFinding(event: Pick<NormalizedEvent, 'decision' | 'severity'>): boolean {
  return (
    isDecision(event) &&
    (['block', 'require_approval', 'warn'].includes(event.decision) || criticalOrHigh(event))
  );
}

/** A near miss: warn, require_approval, allow_with_attestation or critical/high, but never block. */
export function isNearMiss(event: Pick<NormalizedEvent, 'decision' | 'severity'>): boolean {
  return (
    isDecision(event) &&
    event.decision !== 'block' &&
    (['warn', 'require_approval', 'allow_with_attestation'].includes(event.decision) || criticalOrHigh(event))
  );
}

/** §11's operator_signal of a near miss. */
export function operatorSignal(decision: Decision): string {
  switch (decision) {
    case 'require_approval':
      return 'approval_prevented_unreviewed_execution';
    case 'warn':
      return 'warning_allowed_with_operator_visibility';
    case 'allow_with_attestation':
      return 'allowed_with_evidence_attestation';
    default:
      return 'review_recommended';
  }
}

/** §11's coverage_status of a surface, from the decisions observed on it. */
export function coverageStatus(decisions: readonly Decision[]): string {
  if (decisions.length === 0) return 'not_observed_locally';
  for (const [decision, status] of [
    ['block', 'enforced'],
    ['require_approval', 'approval_gated'],
    ['warn', 'warning_only'],
    ['allow_with_attestation', 'attested'],
  ] as const) {
    if (decisions.includes(decision)) return status;
  }
  return 'observed';
}

/** What the score loses to one event: W_dec of a decision, plus W_sev when it is a finding. */
export function scorePenalty(event: Pick<NormalizedEvent, 'decision' | 'severity'>): number {
  if (!isDecision(event)) return 0;
  return DECISION_WEIGHT[event.decision] + (isFinding(event) ? SEVERITY_WEIGHT[event.severity] : 0);
}

function eventSummary(event: NormalizedEvent) {
  return {
    event_id: event.event_id,
    idempotency_key: event.idempotency_key,
    session_id: event.session_id,
    agent_id: event.agent_id,
    repository: event.repository,
    policy_pack: event.policy_pack,
    decision: event.decision,
    severity: event.severity,
    risk_classification: event.risk_classification,
    control_surface: event.control_surface,
    target_summary: event.target_summary,
    occurred_ms: event.occurred_ms,
    received_ms: event.received_ms,
  };
}

/** The watermark part of a delta. */
export type DeltaWatermark = NonNullable<PostureDelta['watermark']>;

/**
 * The deltas of one tenant's projected batch, in publishing order: the overview, then findings
 * and near misses in event order, then coverage when the batch held decisions.
 */
export function postureDeltas(
  tenant: string,
  events: readonly NormalizedEvent[],
  watermark: DeltaWatermark,
  nowMs: number,
): PostureDelta[] {
  const delta = (kind: PostureDelta['kind'], data: object): PostureDelta => ({
    schema_version: 'aispm.posture_delta.v1',
    tenant,
    kind,
    produced_ms: nowMs,
    data,
    watermark,
  });
  const decisions = events.filter(isDecision);
  const byDecision: Partial<Record<Decision, number>> = {};
  for (const event of decisions) byDecision[event.decision] = (byDecision[event.decision] ?? 0) + 1;
  const out = [
    delta('overview', {
      events: events.length,
      decisions: decisions.length,
      findings: decisions.filter(isFinding).length,
      near_misses: decisions.filter(isNearMiss).length,
      score_penalty: decisions.reduce((sum, event) => sum + scorePenalty(event), 0),
      by_decision: byDecision,
      event_ids: events.map((event) => event.event_id),
    }),
  ];
  for (const event of decisions) {
    if (isFinding(event)) out.push(delta('finding', eventSummary(event)));
    if (isNearMiss(event))
      out.push(
        delta('near_miss', { ...eventSummary(event), operator_signal: operatorSignal(event.decision) }),
      );
  }
  if (decisions.length > 0) {
    const bySurface = new Map<string, Decision[]>();
    for (const event of decisions) {
      bySurface.set(event.control_surface, [...(bySurface.get(event.control_surface) ?? []), event.decision]);
    }
    out.push(
      delta('coverage', {
        surfaces: Object.fromEntries(
          [...bySurface].map(([surface, seen]) => [
            surface,
            // The status this batch alone shows; the surface's status is at least this.
            { decisions: seen.length, observed_status: coverageStatus(seen) },
          ]),
        ),
      }),
    );
  }
  return out;
}
