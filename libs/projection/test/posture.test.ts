import {
  CONTROL_SURFACES,
  FreshnessTracker,
  fingerprint,
  postureDocument,
  traceReplay,
  type DecisionGroup,
} from '../src';

const group = (over: Partial<DecisionGroup>): DecisionGroup => ({
  agent_id: 'a1',
  repository: 'o/r',
  policy_pack: 'p',
  control_surface: 'general_policy',
  action_type: 'x',
  decision: 'allow',
  severity: 'none',
  count: 1,
  with_refs: 0,
  signed: 0,
  ...over,
});

const empty = {
  agents: [],
  totalSessions: 0,
  recentRisky: [],
  recentDecisions: [],
  surfaceRefs: {},
  controlPlane: {},
};

describe('postureDocument', () => {
  it.each([
    // [groups, score, risk level, evidence confidence]
    [[], 100, 'low', 'sample_or_empty'],
    [
      [group({ decision: 'block', severity: 'critical', count: 3, with_refs: 1 })],
      0,
      'critical',
      'activity_evidence_refs',
    ],
    [[group({ decision: 'warn', severity: 'low' })], 92, 'low', 'activity_metadata_only'],
    [
      [group({ decision: 'audit_only', severity: 'high', signed: 1, with_refs: 1 })],
      80,
      'medium',
      'signed_evidence',
    ],
    [
      [group({ decision: 'require_approval', severity: 'medium', count: 3 })],
      43,
      'high',
      'activity_metadata_only',
    ],
  ] as const)('scores %j', (groups, score, level, confidence) => {
    const doc = postureDocument({ ...empty, groups });
    expect(doc.overview).toMatchObject({
      posture_score: score,
      risk_level: level,
      evidence_confidence: confidence,
    });
    expect(doc.control_coverage.map((c) => c.surface_id)).toEqual(CONTROL_SURFACES);
  });

  it('ranks coverage: enforced over approval over warning over attested', () => {
    const doc = postureDocument({
      ...empty,
      groups: [
        group({ control_surface: 'mcp_tools', decision: 'warn' }),
        group({ control_surface: 'mcp_tools', decision: 'require_approval' }),
        group({ control_surface: 'sensitive_data', decision: 'allow_with_attestation' }),
      ],
    });
    const status = Object.fromEntries(doc.control_coverage.map((c) => [c.surface_id, c.coverage_status]));
    expect(status).toMatchObject({
      mcp_tools: 'approval_gated',
      sensitive_data: 'attested',
      source_control: 'not_observed_locally',
    });
  });
});

describe('fingerprint', () => {
  it('adds the breadth terms only when positive and caps them', () => {
    const groups = ['a', 'b', 'c', 'd', 'e'].map((repo, i) =>
      group({ repository: repo, action_type: `act${i}`, policy_pack: `p${i % 2}` }),
    );
    // repos 5 -> min(12,16)=12; packs 2 -> 5; surfaces 1 -> 0; actions 5 -> min(10,9)=9
    const fp = fingerprint('a1', groups, undefined, []);
    expect(fp.drift_score).toBe(26);
    expect(fp.risk_signals).toEqual([
      'multi_repository_activity',
      'multiple_policy_packs',
      'broad_action_profile',
      'metadata_only_evidence',
    ]);
    expect(fp.drift_status).toBe('unusual_behavior');
    expect(fingerprint('a1', [group({})], undefined, []).drift_score).toBe(0);
    expect(fingerprint('a1', [group({ with_refs: 1 })], undefined, []).drift_status).toBe('baseline');
  });
});

describe('traceReplay', () => {
  it('orders oldest first and numbers from 1', () => {
    const record = (event_id: string, occurred_ms: number, decision: string) => ({
      event_id,
      occurred_ms,
      decision,
      session_id: 's',
      agent_id: 'a',
      repository: '',
      control_surface: 'general_policy',
      severity: 'high',
      risk_classification: '',
      target_summary: '',
      evidence_refs: [],
    });
    const replay = traceReplay('s', [record('e2', 2, 'block'), record('e1', 1, 'warn')]);
    expect(replay.steps.map((s) => [s.step, s.event_id])).toEqual([
      [1, 'e1'],
      [2, 'e2'],
    ]);
    expect(replay.summary).toEqual({ steps: 2, blocks: 1, approvals: 0, warnings: 1, critical_or_high: 2 });
  });
});

describe('FreshnessTracker', () => {
  const stage = (input: string, ...lags: bigint[]) => ({
    input,
    partitions: lags.map((lag, partition) => ({ partition, lag })),
  });

  it('is exact when caught up and holds the last caught-up time under lag', () => {
    const tracker = new FreshnessTracker();
    expect(tracker.observe('t', [stage('raw', 1n)], 100)).toMatchObject({
      watermark_ms: null,
      caught_up: false,
    });
    const caughtUp = tracker.observe('t', [stage('raw', 0n), stage('normalized', 0n)], 200);
    expect(caughtUp).toMatchObject({ watermark_ms: 200, caught_up: true });
    const lagging = tracker.observe('t', [stage('raw', 2n), stage('normalized', 0n)], 300);
    expect(lagging.watermark_ms).toBe(200);
    expect(lagging.stages).toEqual([
      { stage: 'raw', lag: 2 },
      { stage: 'normalized', lag: 0 },
    ]);
    expect(tracker.watermarkOf('t')).toBe(200);
    expect(tracker.observe('u', [stage('raw', 0n)], 400).watermark_ms).toBe(400);
  });

  it('takes the partition seen caught up longest ago, and none until every one has been', () => {
    const tracker = new FreshnessTracker();
    expect(tracker.observe('t', [stage('raw', 0n, 3n)], 100).watermark_ms).toBeNull();
    expect(tracker.watermarkOf('t')).toBeNull();
    expect(tracker.observe('t', [stage('raw', 0n, 0n)], 200).watermark_ms).toBe(200);
    // Partition 1 lags again: its last caught-up time holds the watermark, partition 0 moves on.
    expect(tracker.observe('t', [stage('raw', 0n, 5n)], 300).watermark_ms).toBe(200);
    // A partition lagging at a later stage holds it back as much as one lagging at the first.
    expect(tracker.observe('t', [stage('raw', 0n, 0n), stage('redacted', 0n, 1n)], 400).watermark_ms).toBe(
      200,
    );
    expect(tracker.observe('t', [stage('raw', 0n, 0n), stage('redacted', 0n, 0n)], 500).watermark_ms).toBe(
      500,
    );
    tracker.forget('t');
    expect(tracker.watermarkOf('t')).toBeNull();
  });
});
