import type { NormalizedEvent } from '@aispm/contracts';
import { coverageStatus, isFinding, isNearMiss, operatorSignal, postureDeltas, scorePenalty } from '../src';

const base = {
  schema_version: 'aispm.normalized_event.v1',
  tenant: 'acme',
  idempotency_key: 'k',
  content_hash: 'c',
  session_id: 's1',
  agent_id: 'a1',
  connector_type: 'codex',
  connector_id: 'c1',
  event_type: 'policy_decision',
  occurred_ms: 1,
  received_ms: 2,
  ingested_ms: 3,
  repository: 'o/r',
  environment: 'dev',
  region: '',
  tool_name: 't',
  action_type: 'x',
  target_summary: 'y',
  risk_classification: '',
  control_surface: 'general_policy',
  policy_pack: 'p',
  evidence_refs: [],
  payload_ref: '',
  payload_handling: 'metadata_only',
  signature_verified: false,
  hash_algorithm: 'sha256',
  payload_hash: '',
  redaction: { redactor: 'r', counts: {}, pointers: [] },
  source: { topic: 'aispm.acme.raw', partition: 0, offset: '0' },
} as const;

function event(
  id: string,
  decision: NormalizedEvent['decision'],
  severity: NormalizedEvent['severity'],
  surface: NormalizedEvent['control_surface'] = 'general_policy',
): NormalizedEvent {
  return { ...base, event_id: id, decision, severity, control_surface: surface, evidence_refs: [] };
}

const watermark = { watermark_ms: 5, lag: { redactor: 0, normalizer: 0, projector: 0 } };

describe('§11 classification', () => {
  it.each([
    ['block', 'none', true, false, 16],
    ['require_approval', 'low', true, true, 13],
    ['warn', 'none', true, true, 5],
    ['allow_with_attestation', 'none', false, true, 1],
    ['allow', 'critical', true, true, 30],
    ['audit_only', 'medium', false, false, 2],
    ['not_applicable', 'critical', false, false, 0],
  ] as const)(
    '%s at %s severity: finding %s, near miss %s, penalty %i',
    (decision, severity, finding, nearMiss, penalty) => {
      const e = event('e', decision, severity);
      expect(isFinding(e)).toBe(finding);
      expect(isNearMiss(e)).toBe(nearMiss);
      expect(scorePenalty(e)).toBe(penalty);
    },
  );

  it('names operator signals and coverage statuses by precedence', () => {
    expect(operatorSignal('require_approval')).toBe('approval_prevented_unreviewed_execution');
    expect(operatorSignal('allow')).toBe('review_recommended');
    expect(coverageStatus([])).toBe('not_observed_locally');
    expect(coverageStatus(['warn', 'block'])).toBe('enforced');
    expect(coverageStatus(['allow_with_attestation', 'warn'])).toBe('warning_only');
    expect(coverageStatus(['allow'])).toBe('observed');
  });
});

describe('postureDeltas', () => {
  it('publishes the overview, each finding and near miss, then coverage, all with the watermark', () => {
    const deltas = postureDeltas(
      'acme',
      [
        event('e1', 'block', 'high', 'sensitive_data'),
        event('e2', 'warn', 'none', 'mcp_tools'),
        event('e3', 'not_applicable', 'none'),
      ],
      watermark,
      99,
    );
    expect(deltas.map((d) => d.kind)).toEqual(['overview', 'finding', 'finding', 'near_miss', 'coverage']);
    expect(
      deltas.every((d) => d.watermark === watermark && d.tenant === 'acme' && d.produced_ms === 99),
    ).toBe(true);
    expect(deltas[0]!.data).toMatchObject({
      events: 3,
      decisions: 2,
      findings: 2,
      near_misses: 1,
      score_penalty: 16 + 18 + 5,
      event_ids: ['e1', 'e2', 'e3'],
    });
    expect(deltas[3]!.data).toMatchObject({
      event_id: 'e2',
      operator_signal: 'warning_allowed_with_operator_visibility',
    });
    expect(deltas[4]!.data).toEqual({
      surfaces: {
        sensitive_data: { decisions: 1, observed_status: 'enforced' },
        mcp_tools: { decisions: 1, observed_status: 'warning_only' },
      },
    });
  });

  it('publishes only the overview for a batch without decisions', () => {
    const deltas = postureDeltas('acme', [event('e1', 'not_applicable', 'none')], watermark, 1);
    expect(deltas.map((d) => d.kind)).toEqual(['overview']);
  });
});
