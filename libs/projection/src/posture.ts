/**
 * Owns the posture model of DESIGN §11: the `cavra.aispm.dashboard.v1` document and a session's
 * trace replay, computed from deduplicated decisions. Pure: the gateway feeds it aggregates and a
 * bounded list of recent decisions read from ClickHouse, and a test can feed it by hand.
 *
 * Interpretations where §11 is silent (docs/posture.md): repositories, policy packs and action
 * types count only non-empty values; a fingerprint is listed for every agent with at least one
 * decision; per-surface evidence confidence uses the surface's own decisions.
 */

import type { NormalizedEvent } from '@aispm/contracts';
import { coverageStatus, isFinding, isNearMiss } from './posture-delta';

/** What §11's finding and near-miss tests read (rows carry them as plain strings). */
type Severe = Pick<NormalizedEvent, 'decision' | 'severity'>;

/** Decisions of §11 (a `not_applicable` event is no decision). */
export type Decision =
  'allow' | 'warn' | 'block' | 'require_approval' | 'allow_with_attestation' | 'audit_only';

/** The six control surfaces, in the order the document lists them. */
export const CONTROL_SURFACES = [
  'sensitive_data',
  'infrastructure_iac',
  'mcp_tools',
  'source_control',
  'runtime_commands',
  'general_policy',
] as const;
export type ControlSurface = (typeof CONTROL_SURFACES)[number];

const SURFACE_LABELS: Record<ControlSurface, [string, string]> = {
  sensitive_data: ['Sensitive data', 'Secrets and .env files touched by agents.'],
  infrastructure_iac: ['Infrastructure as code', 'Terraform, OpenTofu and Kubernetes changes.'],
  mcp_tools: ['MCP and tools', 'MCP servers and tool calls.'],
  source_control: ['Source control', 'Git operations, branches and pull requests.'],
  runtime_commands: ['Runtime commands', 'Shell commands and scripts.'],
  general_policy: ['General policy', 'Every other governed action.'],
};

const W_DEC: Record<string, number> = {
  block: 16,
  require_approval: 10,
  warn: 5,
  audit_only: 2,
  allow_with_attestation: 1,
  allow: 0,
};
const W_SEV: Record<string, number> = { critical: 30, high: 18, medium: 9, low: 3, none: 0 };

/** Decisions with the same dimensions, counted once per idempotency key. */
export interface DecisionGroup {
  readonly agent_id: string;
  readonly repository: string;
  readonly policy_pack: string;
  readonly control_surface: string;
  readonly action_type: string;
  readonly decision: string;
  readonly severity: string;
  readonly count: number;
  /** How many of them carry at least one evidence ref. */
  readonly with_refs: number;
  /** How many carry a signed ref (`signed://…` or containing "signature"). */
  readonly signed: number;
}

/** Sessions and last activity of an agent, over all its events. */
export interface AgentActivity {
  readonly agent_id: string;
  readonly session_count: number;
  readonly last_seen_ms: number;
}

/** One decision, as findings, near misses, the timeline and replay show it. */
export interface DecisionRecord {
  readonly event_id: string;
  readonly session_id: string;
  readonly agent_id: string;
  readonly repository: string;
  readonly control_surface: string;
  readonly decision: string;
  readonly severity: string;
  readonly risk_classification: string;
  readonly target_summary: string;
  readonly evidence_refs: readonly string[];
  readonly occurred_ms: number;
}

/** What the dashboard is computed from. */
export interface PostureInput {
  readonly groups: readonly DecisionGroup[];
  readonly agents: readonly AgentActivity[];
  readonly totalSessions: number;
  /** The most recent findings and near misses, newest first (bounded by the caller). */
  readonly recentRisky: readonly DecisionRecord[];
  /** The most recent decisions, newest first (bounded by the caller). */
  readonly recentDecisions: readonly DecisionRecord[];
  /** A few evidence refs per surface. */
  readonly surfaceRefs: Readonly<Record<string, readonly string[]>>;
  readonly controlPlane: Record<string, unknown>;
}

/** A `cavra.aispm.dashboard.v1` document (schemas/cavra/aispm-dashboard.schema.json). */
export interface DashboardDocument {
  schema_version: 'cavra.aispm.dashboard.v1';
  product: 'CAVRA';
  edition: 'enterprise';
  mode: 'live_enterprise';
  data_provenance: 'enterprise_live_ingestion';
  overview: {
    posture_score: number;
    risk_level: 'low' | 'medium' | 'high' | 'critical';
    total_sessions: number;
    total_decisions: number;
    blocked_actions: number;
    approval_required_actions: number;
    risk_findings: number;
    evidence_confidence: string;
  };
  agents: {
    agent_id: string;
    session_count: number;
    decision_count: number;
    coverage_status: 'observed';
    drift_status: 'review_required' | 'baseline';
  }[];
  findings: Record<string, unknown>[];
  timeline: Record<string, unknown>[];
  control_coverage: {
    surface_id: ControlSurface;
    label: string;
    description: string;
    coverage_status: string;
    decision_count: number;
    blocked_actions: number;
    approval_required_actions: number;
    warned_actions: number;
    evidence_confidence: string;
    evidence_refs: string[];
  }[];
  near_misses: Record<string, unknown>[];
  behavior_fingerprints: {
    fingerprint_id: string;
    agent_id: string;
    repositories: string[];
    session_count: number;
    decision_count: number;
    action_profile: { name: string; count: number }[];
    decision_profile: { name: string; count: number }[];
    policy_packs: string[];
    control_surfaces: string[];
    risk_signals: string[];
    drift_status: 'baseline' | 'unusual_behavior' | 'review_required';
    drift_score: number;
    evidence_refs: string[];
    last_seen_at: string | null;
  }[];
  control_plane: Record<string, unknown>;
}

const clamp = (value: number) => Math.max(0, Math.min(100, value));

/** The risk level of a posture score. */
export function riskLevel(score: number): DashboardDocument['overview']['risk_level'] {
  if (score >= 85) return 'low';
  if (score >= 65) return 'medium';
  if (score >= 40) return 'high';
  return 'critical';
}

function sum(groups: readonly DecisionGroup[], weight: (g: DecisionGroup) => number): number {
  return groups.reduce((total, group) => total + weight(group), 0);
}

function countWhere(groups: readonly DecisionGroup[], decision: string): number {
  return sum(groups, (g) => (g.decision === decision ? g.count : 0));
}

/** evidence_confidence of a set of decisions. */
export function evidenceConfidence(groups: readonly DecisionGroup[]): string {
  if (sum(groups, (g) => g.count) === 0) return 'sample_or_empty';
  if (sum(groups, (g) => g.signed) > 0) return 'signed_evidence';
  if (sum(groups, (g) => g.with_refs) > 0) return 'activity_evidence_refs';
  return 'activity_metadata_only';
}

/** coverage_status of a surface from its decision groups. */
function surfaceCoverage(groups: readonly DecisionGroup[]): string {
  return coverageStatus(
    groups.filter((g) => g.count > 0).map((g) => g.decision as NormalizedEvent['decision']),
  );
}

function distinctNonEmpty(groups: readonly DecisionGroup[], pick: (g: DecisionGroup) => string): string[] {
  return [...new Set(groups.map(pick).filter((value) => value !== ''))].sort();
}

function profile(groups: readonly DecisionGroup[], pick: (g: DecisionGroup) => string) {
  const counts = new Map<string, number>();
  for (const group of groups) {
    const name = pick(group);
    if (name !== '') counts.set(name, (counts.get(name) ?? 0) + group.count);
  }
  return [...counts]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
}

const positiveMin = (cap: number, value: number) => (value > 0 ? Math.min(cap, value) : 0);

/** The behavior fingerprint of one agent's decisions (§11). */
export function fingerprint(
  agentId: string,
  groups: readonly DecisionGroup[],
  activity: AgentActivity | undefined,
  refs: readonly string[],
): DashboardDocument['behavior_fingerprints'][number] {
  const by = (decision: string) => countWhere(groups, decision);
  const sev = (severity: string) => sum(groups, (g) => (g.severity === severity ? g.count : 0));
  const repositories = distinctNonEmpty(groups, (g) => g.repository);
  const packs = distinctNonEmpty(groups, (g) => g.policy_pack);
  const surfaces = distinctNonEmpty(groups, (g) => g.control_surface);
  const actionTypes = distinctNonEmpty(groups, (g) => g.action_type);
  const [blocks, approvals, warns, attested] = [
    by('block'),
    by('require_approval'),
    by('warn'),
    by('allow_with_attestation'),
  ];
  const criticalOrHigh = sev('critical') + sev('high');
  const score = clamp(
    20 * blocks +
      14 * approvals +
      8 * warns +
      4 * attested +
      18 * sev('critical') +
      10 * sev('high') +
      4 * sev('medium') +
      positiveMin(12, 4 * (repositories.length - 1)) +
      positiveMin(10, 5 * (packs.length - 1)) +
      positiveMin(12, 4 * (surfaces.length - 1)) +
      positiveMin(10, 3 * (actionTypes.length - 2)),
  );
  const decisions = sum(groups, (g) => g.count);
  const signals: [boolean, string][] = [
    [blocks > 0, 'blocked_action'],
    [approvals > 0, 'approval_gate'],
    [warns > 0, 'warned_action'],
    [criticalOrHigh > 0, 'critical_or_high_decision'],
    [surfaces.includes('sensitive_data'), 'sensitive_data_access'],
    [surfaces.includes('infrastructure_iac'), 'infrastructure_change'],
    [surfaces.includes('mcp_tools'), 'mcp_or_tool_activity'],
    [repositories.length > 1, 'multi_repository_activity'],
    [packs.length > 1, 'multiple_policy_packs'],
    [actionTypes.length > 2, 'broad_action_profile'],
    [decisions > 0 && sum(groups, (g) => g.with_refs) === 0, 'metadata_only_evidence'],
  ];
  const riskSignals = signals.filter(([on]) => on).map(([, name]) => name);
  const driftStatus =
    blocks + approvals > 0 || score >= 35
      ? 'review_required'
      : riskSignals.length > 0 || score >= 12
        ? 'unusual_behavior'
        : 'baseline';
  return {
    fingerprint_id: `fp:${agentId}`,
    agent_id: agentId,
    repositories,
    session_count: activity?.session_count ?? 0,
    decision_count: decisions,
    action_profile: profile(groups, (g) => g.action_type),
    decision_profile: profile(groups, (g) => g.decision),
    policy_packs: packs,
    control_surfaces: surfaces,
    risk_signals: riskSignals,
    drift_status: driftStatus,
    drift_score: score,
    evidence_refs: [...refs],
    last_seen_at: activity ? new Date(activity.last_seen_ms).toISOString() : null,
  };
}

const OPERATOR_SIGNALS: Record<string, string> = {
  require_approval: 'approval_prevented_unreviewed_execution',
  warn: 'warning_allowed_with_operator_visibility',
  allow_with_attestation: 'allowed_with_evidence_attestation',
};

function decisionSummary(record: DecisionRecord) {
  return {
    decision_id: record.event_id,
    session_id: record.session_id,
    agent_id: record.agent_id,
    repository: record.repository,
    surface_id: record.control_surface,
    severity: record.severity,
    decision: record.decision,
    risk_classification: record.risk_classification,
    evidence_refs: [...record.evidence_refs],
    timestamp: new Date(record.occurred_ms).toISOString(),
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** The tenant's dashboard document (§11) from deduplicated decisions. */
export function postureDocument(input: PostureInput): DashboardDocument {
  const { groups } = input;
  const decisions = sum(groups, (g) => g.count);
  const findingGroups = groups.filter((g) => isFinding(g as Severe));
  const score = clamp(
    100 -
      sum(groups, (g) => (W_DEC[g.decision] ?? 0) * g.count) -
      sum(findingGroups, (g) => (W_SEV[g.severity] ?? 0) * g.count),
  );
  const bySurface = groupBy(groups, (g) => g.control_surface);
  const byAgent = groupBy(groups, (g) => g.agent_id);
  const activity = new Map(input.agents.map((agent) => [agent.agent_id, agent]));
  const agentRefs = groupBy(
    input.recentDecisions.filter((record) => record.evidence_refs.length > 0),
    (record) => record.agent_id,
  );
  return {
    schema_version: 'cavra.aispm.dashboard.v1',
    product: 'CAVRA',
    edition: 'enterprise',
    mode: 'live_enterprise',
    data_provenance: 'enterprise_live_ingestion',
    overview: {
      posture_score: score,
      risk_level: riskLevel(score),
      total_sessions: input.totalSessions,
      total_decisions: decisions,
      blocked_actions: countWhere(groups, 'block'),
      approval_required_actions: countWhere(groups, 'require_approval'),
      risk_findings: sum(findingGroups, (g) => g.count),
      evidence_confidence: evidenceConfidence(groups),
    },
    agents: [...input.agents]
      .sort((a, b) => a.agent_id.localeCompare(b.agent_id))
      .map((agent) => {
        const mine = byAgent.get(agent.agent_id) ?? [];
        return {
          agent_id: agent.agent_id,
          session_count: agent.session_count,
          decision_count: sum(mine, (g) => g.count),
          coverage_status: 'observed',
          drift_status:
            countWhere(mine, 'block') + countWhere(mine, 'require_approval') > 0
              ? 'review_required'
              : 'baseline',
        };
      }),
    findings: input.recentRisky
      .filter((record) => isFinding(record as Severe))
      .map((record) => ({ finding_id: `finding:${record.event_id}`, ...decisionSummary(record) })),
    timeline: input.recentDecisions.map((record) => ({
      event_id: record.event_id,
      ...decisionSummary(record),
    })),
    control_coverage: CONTROL_SURFACES.map((surface) => {
      const mine = bySurface.get(surface) ?? [];
      const [label, description] = SURFACE_LABELS[surface];
      return {
        surface_id: surface,
        label,
        description,
        coverage_status: surfaceCoverage(mine),
        decision_count: sum(mine, (g) => g.count),
        blocked_actions: countWhere(mine, 'block'),
        approval_required_actions: countWhere(mine, 'require_approval'),
        warned_actions: countWhere(mine, 'warn'),
        evidence_confidence: evidenceConfidence(mine),
        evidence_refs: [...(input.surfaceRefs[surface] ?? [])],
      };
    }),
    near_misses: input.recentRisky
      .filter((record) => isNearMiss(record as Severe))
      .map((record) => ({
        near_miss_id: `near_miss:${record.event_id}`,
        ...decisionSummary(record),
        reason: record.target_summary,
        operator_signal: OPERATOR_SIGNALS[record.decision] ?? 'review_recommended',
      })),
    behavior_fingerprints: [...byAgent.keys()]
      .sort()
      .map((agentId) =>
        fingerprint(
          agentId,
          byAgent.get(agentId)!,
          activity.get(agentId),
          [...new Set((agentRefs.get(agentId) ?? []).flatMap((record) => record.evidence_refs))].slice(0, 10),
        ),
      ),
    control_plane: input.controlPlane,
  };
}

/** A session's trace replay (§11): its decisions oldest first, numbered from 1, and a summary. */
export function traceReplay(sessionId: string, decisions: readonly DecisionRecord[]) {
  const ordered = [...decisions].sort(
    (a, b) => a.occurred_ms - b.occurred_ms || a.event_id.localeCompare(b.event_id),
  );
  const steps = ordered.map((record, index) => ({
    step: index + 1,
    event_id: record.event_id,
    agent_id: record.agent_id,
    decision: record.decision,
    severity: record.severity,
    risk_classification: record.risk_classification,
    control_surface: record.control_surface,
    target_summary: record.target_summary,
    evidence_refs: [...record.evidence_refs],
    timestamp: new Date(record.occurred_ms).toISOString(),
  }));
  const count = (test: (record: DecisionRecord) => boolean) => ordered.filter(test).length;
  return {
    session_id: sessionId,
    steps,
    summary: {
      steps: steps.length,
      blocks: count((r) => r.decision === 'block'),
      approvals: count((r) => r.decision === 'require_approval'),
      warnings: count((r) => r.decision === 'warn'),
      critical_or_high: count((r) => r.severity === 'critical' || r.severity === 'high'),
    },
  };
}
