/**
 * The posture document and the reader endpoints, end to end: a generated mix of events goes
 * through the real gateway, redactor, normalizer and projector and is read from the API; the
 * dashboard is checked against the shared JSON Schema and against §11's numbers computed here,
 * independently, from the events as sent. Then every normalized record is delivered to the
 * projector a second time (what a crash between insert and commit does), and the document must
 * not change.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Kafka, logLevel } from 'kafkajs';
import { name, sql } from '@aispm/clickhouse';
import { CAVRA_CONTRACTS_DIR, type Envelope } from '@aispm/contracts';
import { stageGroupId } from '@aispm/kafka';
import { CONTROL_SURFACES } from '@aispm/projection';
import {
  clickhouse,
  eventually,
  exampleEnvelope,
  KAFKA_BROKERS,
  postToGateway,
  startPipeline,
  uniqueSuffix,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(300_000);

const DECISIONS = [
  'allow',
  'warn',
  'block',
  'require_approval',
  'allow_with_attestation',
  'audit_only',
  'not_applicable',
];
const SEVERITIES = ['none', 'low', 'medium', 'high', 'critical'];
// [event_type, action_type, target] triples that between them reach every control surface.
const ACTIONS = [
  ['file_action', 'read_file', 'config/secrets.yaml'],
  ['file_action', 'modify_file', 'app/.env.local'],
  ['cloud_iac_event', 'apply_plan', 'terraform/network'],
  ['cloud_iac_event', 'apply_manifest', 'kubernetes/deploy'],
  ['mcp_activity', 'invoke', 'server:docs'],
  ['tool_call', 'tool_use', 'workspace'],
  ['git_operation', 'git_push', 'origin'],
  ['git_operation', 'open_pull_request', 'feature-branch'],
  ['shell_command', 'run_command', 'npm test'],
  ['shell_command', 'run_script', 'build'],
  ['policy_decision', 'modify_file', 'docs/readme'],
];
const REFS = [[], ['cavra://evidence/a'], ['signed://evidence/b'], ['cavra://evidence/c', 'x-signature-ref']];

/** A deterministic generator, so a failure reproduces. */
function prng(seed: number) {
  let state = seed;
  return (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
}

interface Sent {
  event_id: string;
  event_type: string;
  session_id: string;
  agent_id: string;
  repository: string;
  policy_pack: string;
  action_type: string;
  target: string;
  decision: string;
  severity: string;
  refs: string[];
  occurred_ms: number;
}

function generate(tenantRef: string, count: number, tag: string): { envelopes: Envelope[]; sent: Sent[] } {
  const pick = prng(count + tag.length);
  const envelopes: Envelope[] = [];
  const sent: Sent[] = [];
  const base = Date.parse('2026-06-11T08:00:00Z');
  for (let i = 0; i < count; i++) {
    const [eventType, actionType, target] = ACTIONS[pick(ACTIONS.length)]!;
    const s: Sent = {
      event_id: `evt_${tag}_${i}`,
      event_type: eventType!,
      session_id: `sess_${tag}_${pick(6)}`,
      agent_id: `agent-${pick(4)}`,
      repository: ['acme/api', 'acme/web', 'acme/infra', ''][pick(4)]!,
      policy_pack: ['baseline', 'strict', ''][pick(3)]!,
      action_type: actionType!,
      target: target!,
      decision: DECISIONS[pick(DECISIONS.length)]!,
      severity: SEVERITIES[pick(SEVERITIES.length)]!,
      refs: REFS[pick(REFS.length)]!,
      occurred_ms: base + i * 1000,
    };
    sent.push(s);
    const envelope = exampleEnvelope();
    envelope.tenant.tenant_ref = tenantRef;
    envelope.transport.idempotency_key = s.event_id;
    const event = envelope.event as Record<string, unknown>;
    Object.assign(event, {
      event_id: s.event_id,
      event_type: s.event_type,
      occurred_at: new Date(s.occurred_ms).toISOString(),
      session_id: s.session_id,
      agent_id: s.agent_id,
      action_type: s.action_type,
      target_summary: s.target,
      decision: s.decision,
      severity: s.severity,
      evidence_refs: s.refs,
    });
    for (const [field, value] of [
      ['repository', s.repository],
      ['policy_pack', s.policy_pack],
    ] as const) {
      if (value) event[field] = value;
      else delete event[field];
    }
    envelopes.push(envelope);
  }
  return { envelopes, sent };
}

// ---- §11, written out again from the design text, independent of libs/projection ----

function surfaceOf(s: Sent): string {
  const target = s.target.toLowerCase();
  const action = s.action_type.toLowerCase();
  if (target.includes('secret') || target.includes('.env')) return 'sensitive_data';
  if (['terraform', 'tofu', 'kubernetes'].some((w) => target.includes(w))) return 'infrastructure_iac';
  if (action.includes('mcp') || action.includes('tool') || s.event_type === 'mcp_activity')
    return 'mcp_tools';
  if (action.includes('git') || action.includes('pull_request') || target.includes('branch'))
    return 'source_control';
  if (['command', 'shell', 'script'].some((w) => action.includes(w))) return 'runtime_commands';
  return 'general_policy';
}

const W_DEC: Record<string, number> = {
  block: 16,
  require_approval: 10,
  warn: 5,
  audit_only: 2,
  allow_with_attestation: 1,
  allow: 0,
};
const W_SEV: Record<string, number> = { critical: 30, high: 18, medium: 9, low: 3, none: 0 };

function expected(all: Sent[]) {
  const decisions = all.filter((s) => s.decision !== 'not_applicable');
  const finding = (s: Sent) =>
    ['block', 'require_approval', 'warn'].includes(s.decision) || ['critical', 'high'].includes(s.severity);
  const nearMiss = (s: Sent) =>
    s.decision !== 'block' &&
    (['warn', 'require_approval', 'allow_with_attestation'].includes(s.decision) ||
      ['critical', 'high'].includes(s.severity));
  const signed = (s: Sent) => s.refs.some((r) => r.startsWith('signed://') || r.includes('signature'));
  const confidence = (list: Sent[]) =>
    list.length === 0
      ? 'sample_or_empty'
      : list.some(signed)
        ? 'signed_evidence'
        : list.some((s) => s.refs.length > 0)
          ? 'activity_evidence_refs'
          : 'activity_metadata_only';
  let score = 100;
  for (const s of decisions) score -= W_DEC[s.decision]!;
  for (const s of decisions.filter(finding)) score -= W_SEV[s.severity]!;
  score = Math.max(0, Math.min(100, score));
  const n = (list: Sent[], d: string) => list.filter((s) => s.decision === d).length;
  const coverage = CONTROL_SURFACES.map((surface) => {
    const mine = decisions.filter((s) => surfaceOf(s) === surface);
    let status = 'observed';
    if (mine.length === 0) status = 'not_observed_locally';
    else if (n(mine, 'block')) status = 'enforced';
    else if (n(mine, 'require_approval')) status = 'approval_gated';
    else if (n(mine, 'warn')) status = 'warning_only';
    else if (n(mine, 'allow_with_attestation')) status = 'attested';
    return {
      surface_id: surface,
      coverage_status: status,
      decision_count: mine.length,
      blocked_actions: n(mine, 'block'),
      approval_required_actions: n(mine, 'require_approval'),
      warned_actions: n(mine, 'warn'),
      evidence_confidence: confidence(mine),
    };
  });
  const agentIds = [...new Set(all.map((s) => s.agent_id))].sort();
  const fingerprints = agentIds
    .filter((agent) => decisions.some((s) => s.agent_id === agent))
    .map((agent) => {
      const mine = decisions.filter((s) => s.agent_id === agent);
      const distinct = (f: (s: Sent) => string) => new Set(mine.map(f).filter((v) => v !== '')).size;
      const repos = distinct((s) => s.repository);
      const packs = distinct((s) => s.policy_pack);
      const surfaces = new Set(mine.map(surfaceOf));
      const actions = distinct((s) => s.action_type);
      const sev = (v: string) => mine.filter((s) => s.severity === v).length;
      const capped = (cap: number, x: number) => (x > 0 ? Math.min(cap, x) : 0);
      const drift = Math.max(
        0,
        Math.min(
          100,
          20 * n(mine, 'block') +
            14 * n(mine, 'require_approval') +
            8 * n(mine, 'warn') +
            4 * n(mine, 'allow_with_attestation') +
            18 * sev('critical') +
            10 * sev('high') +
            4 * sev('medium') +
            capped(12, 4 * (repos - 1)) +
            capped(10, 5 * (packs - 1)) +
            capped(12, 4 * (surfaces.size - 1)) +
            capped(10, 3 * (actions - 2)),
        ),
      );
      const signals: string[] = [];
      if (n(mine, 'block')) signals.push('blocked_action');
      if (n(mine, 'require_approval')) signals.push('approval_gate');
      if (n(mine, 'warn')) signals.push('warned_action');
      if (sev('critical') + sev('high')) signals.push('critical_or_high_decision');
      if (surfaces.has('sensitive_data')) signals.push('sensitive_data_access');
      if (surfaces.has('infrastructure_iac')) signals.push('infrastructure_change');
      if (surfaces.has('mcp_tools')) signals.push('mcp_or_tool_activity');
      if (repos > 1) signals.push('multi_repository_activity');
      if (packs > 1) signals.push('multiple_policy_packs');
      if (actions > 2) signals.push('broad_action_profile');
      if (!mine.some((s) => s.refs.length > 0)) signals.push('metadata_only_evidence');
      const gated = n(mine, 'block') + n(mine, 'require_approval') > 0;
      return {
        agent_id: agent,
        decision_count: mine.length,
        drift_score: drift,
        risk_signals: signals,
        drift_status:
          gated || drift >= 35
            ? 'review_required'
            : signals.length || drift >= 12
              ? 'unusual_behavior'
              : 'baseline',
      };
    });
  return {
    overview: {
      posture_score: score,
      risk_level: score >= 85 ? 'low' : score >= 65 ? 'medium' : score >= 40 ? 'high' : 'critical',
      total_sessions: new Set(all.map((s) => s.session_id)).size,
      total_decisions: decisions.length,
      blocked_actions: n(decisions, 'block'),
      approval_required_actions: n(decisions, 'require_approval'),
      risk_findings: decisions.filter(finding).length,
      evidence_confidence: confidence(decisions),
    },
    agents: agentIds.map((agent) => {
      const mine = decisions.filter((s) => s.agent_id === agent);
      return {
        agent_id: agent,
        session_count: new Set(all.filter((s) => s.agent_id === agent).map((s) => s.session_id)).size,
        decision_count: mine.length,
        coverage_status: 'observed',
        drift_status: n(mine, 'block') + n(mine, 'require_approval') > 0 ? 'review_required' : 'baseline',
      };
    }),
    coverage,
    fingerprints,
    findings: decisions.filter(finding).length,
    nearMisses: decisions.filter(nearMiss).length,
  };
}

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function comparable(doc: Doc) {
  return {
    overview: doc.overview,
    agents: doc.agents,
    coverage: doc.control_coverage.map(
      ({ label: _l, description: _d, evidence_refs: _r, ...rest }: Doc) => rest,
    ),
    fingerprints: doc.behavior_fingerprints.map((f: Doc) => ({
      agent_id: f.agent_id,
      decision_count: f.decision_count,
      drift_score: f.drift_score,
      risk_signals: f.risk_signals,
      drift_status: f.drift_status,
    })),
    findings: doc.findings.length,
    nearMisses: doc.near_misses.length,
  };
}

describe('posture document and reader endpoints', () => {
  let pipeline: Pipeline;
  const keys: Record<string, string> = {};
  let sent: Sent[] = [];
  let otherSent: Sent[] = [];
  let otherTenant: string;
  let lastAcceptedMs = 0;
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(
    JSON.parse(readFileSync(path.join(CAVRA_CONTRACTS_DIR, 'aispm-dashboard.schema.json'), 'utf8')) as object,
  );

  async function get(route: string, key: string): Promise<{ status: number; body: Doc }> {
    const response = await fetch(`${pipeline.apiUrl}/enterprise/aispm${route}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: response.status, body: (await response.json()) as Doc };
  }

  async function reader(tenant: string, role: string): Promise<string> {
    const created = await pipeline.admin('POST', '/readers', { tenant, role });
    expect(created.status).toBe(201);
    return String(created.body.api_key);
  }

  async function postAll(envelopes: Envelope[], apiKey: string, secret: string) {
    const response = await postToGateway(
      pipeline.gatewayUrl,
      '/enterprise/aispm/events/batch',
      apiKey,
      envelopes,
      {
        secret,
      },
    );
    expect([200, 202]).toContain(response.status);
  }

  async function projected(tenant: string, count: number) {
    const ch = clickhouse();
    try {
      await eventually(`${count} rows of ${tenant}`, async () => {
        const [row] = await ch.query<{ n: string }>(
          sql`SELECT count() AS n FROM ${name(pipeline.database)}.events FINAL WHERE tenant = ${tenant}`,
        );
        return Number(row?.n) >= count ? true : undefined;
      });
    } finally {
      await ch.close();
    }
  }

  beforeAll(async () => {
    pipeline = await startPipeline();
    otherTenant = `${pipeline.tenant}-${uniqueSuffix()}`;
    const created = await pipeline.admin('POST', '/tenants', {
      slug: otherTenant,
      tenant_ref: `tenant:other-${otherTenant}`,
    });
    expect(created.status).toBe(201);
    const otherCollector = await pipeline.admin('POST', '/collectors', {
      tenant: otherTenant,
      require_signature: true,
    });
    keys.viewer = await reader(pipeline.tenant, 'viewer');
    keys.auditor = await reader(pipeline.tenant, 'auditor');
    keys.otherViewer = await reader(otherTenant, 'viewer');
    keys.otherAuditor = await reader(otherTenant, 'auditor');
    const mine = generate(pipeline.tenantRef, 60, 'a');
    sent = mine.sent;
    await postAll(mine.envelopes, pipeline.apiKey, pipeline.signingSecret);
    const other = generate(`tenant:other-${otherTenant}`, 5, 'b');
    otherSent = other.sent;
    await postAll(
      other.envelopes,
      String(otherCollector.body.api_key),
      String(otherCollector.body.signing_secret),
    );
    lastAcceptedMs = Date.now();
    await Promise.all([projected(pipeline.tenant, sent.length), projected(otherTenant, 5)]);
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('serves a document valid against the shared schema, with the numbers of §11', async () => {
    // Rows are in ClickHouse before the projector commits their offsets, so the stage lags reach
    // 0 a moment after every event is projected.
    const { status, body } = await eventually('a dashboard with every stage caught up', async () => {
      const answer = await get('/dashboard', keys.viewer!);
      const freshness = (answer.body.control_plane as Doc | undefined)?.freshness as Doc | undefined;
      const stages = (freshness?.stages ?? []) as { lag: number }[];
      return stages.length > 0 && stages.every((stage) => stage.lag === 0) ? answer : undefined;
    });
    expect(status).toBe(200);
    expect(validate(body)).toBe(true);
    expect(validate.errors ?? []).toEqual([]);
    expect(body).toMatchObject({
      schema_version: 'cavra.aispm.dashboard.v1',
      edition: 'enterprise',
      mode: 'live_enterprise',
      data_provenance: 'enterprise_live_ingestion',
    });
    expect(comparable(body)).toEqual(expected(sent));
    // Every event was projected before the request, so the watermark is after the last 202.
    const freshness = body.control_plane.freshness as Doc;
    expect(freshness.stages).toEqual([
      { stage: 'raw', lag: 0 },
      { stage: 'redacted', lag: 0 },
      { stage: 'normalized', lag: 0 },
    ]);
    expect(freshness.watermark_ms).toBeGreaterThanOrEqual(lastAcceptedMs);
  });

  it('applies the repository, agent, policy pack and since filters', async () => {
    const since = sent[20]!.occurred_ms;
    for (const [query, keep] of [
      ['agent_id=agent-1', (s: Sent) => s.agent_id === 'agent-1'],
      ['repository=ACME/api', (s: Sent) => s.repository === 'acme/api'],
      ['policy_pack=strict', (s: Sent) => s.policy_pack === 'strict'],
      [`since=${new Date(since).toISOString()}`, (s: Sent) => s.occurred_ms >= since],
    ] as const) {
      const { status, body } = await get(`/dashboard?${query}`, keys.viewer!);
      expect(status).toBe(200);
      expect(validate(body)).toBe(true);
      expect({ query, ...comparable(body) }).toEqual({ query, ...expected(sent.filter(keep)) });
    }
    expect((await get('/dashboard?since=yesterday', keys.viewer!)).status).toBe(400);
  });

  it('counts each idempotency key once when every event is delivered again', async () => {
    const before = comparable((await get('/dashboard', keys.viewer!)).body);
    // Collector retries: the gateway answers duplicate and nothing is produced twice.
    const { envelopes } = generate(pipeline.tenantRef, 60, 'a');
    await postAll(envelopes, pipeline.apiKey, pipeline.signingSecret);
    // Reprocessing: every normalized record is put on the topic again, as a crash between the
    // projector's insert and its offset commit would redeliver it.
    const kafka = new Kafka({
      clientId: 'posture-test',
      brokers: KAFKA_BROKERS.split(','),
      logLevel: logLevel.NOTHING,
    });
    const topic = `aispm.${pipeline.tenant}.normalized`;
    const consumer = kafka.consumer({ groupId: `posture-copy-${uniqueSuffix()}` });
    const producer = kafka.producer();
    await Promise.all([consumer.connect(), producer.connect()]);
    const copies: { key: Buffer | null; value: Buffer | null; headers: Record<string, unknown> }[] = [];
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        copies.push({ key: message.key, value: message.value, headers: message.headers ?? {} });
      },
    });
    await eventually('every normalized record read', async () => (copies.length >= 60 ? true : undefined));
    await consumer.disconnect();
    await producer.send({ topic, messages: copies.slice(0, 60) as never });
    await producer.disconnect();
    // Processed means the projector has committed past the copies. Counting the stored rows
    // instead raced ClickHouse's background merges, which may already have collapsed them.
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(topic);
      await eventually('the projector to commit past the copies', async () => {
        const [committed] = await admin.fetchOffsets({
          groupId: stageGroupId(String(pipeline.env.AISPM_GROUP_PREFIX), 'projector'),
          topics: [topic],
        });
        // An empty partition has nothing committed (-1) and nothing to commit.
        const behind = ends.filter(
          (end) =>
            Math.max(
              0,
              Number(committed!.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1'),
            ) < Number(end.high),
        );
        return behind.length === 0 ? true : undefined;
      });
    } finally {
      await admin.disconnect();
    }
    const after = await get('/dashboard', keys.viewer!);
    expect(comparable(after.body)).toEqual(before);
    expect(comparable(after.body)).toEqual(expected(sent));
  });

  it('reads one event by id, with raw payload references only for auditors', async () => {
    const target = sent[7]!;
    const asViewer = await get(`/events/${target.event_id}`, keys.viewer!);
    expect(asViewer.status).toBe(200);
    expect(asViewer.body).toMatchObject({
      tenant: pipeline.tenant,
      event_id: target.event_id,
      session_id: target.session_id,
      decision: target.decision,
      occurred_ms: target.occurred_ms,
    });
    expect(asViewer.body).not.toHaveProperty('payload_ref');
    expect(asViewer.body).not.toHaveProperty('source');
    const asAuditor = await get(`/events/${target.event_id}`, keys.auditor!);
    expect(asAuditor.body).toMatchObject({
      payload_ref: 'enterprise-private://tenant/opaque-event-ref',
      source: { topic: `aispm.${pipeline.tenant}.raw` },
    });
    expect((await get('/events/evt_nobody', keys.viewer!)).status).toBe(404);
  });

  it('refuses other tenants, collectors and viewers where the role is missing', async () => {
    const target = sent[3]!;
    // Another tenant's reader: its reads are scoped to its own tenant, where the id does not exist.
    expect((await get(`/events/${target.event_id}`, keys.otherViewer!)).status).toBe(404);
    expect((await get(`/replay/${target.session_id}`, keys.otherAuditor!)).status).toBe(404);
    // ...and its dashboard holds its own tenant's events and nothing else.
    const other = await get('/dashboard', keys.otherViewer!);
    expect(comparable(other.body)).toEqual(expected(otherSent));
    expect((other.body.control_plane as Doc).tenant).toBe(otherTenant);
    expect((await get('/dashboard', pipeline.apiKey)).status).toBe(403);
    expect((await get(`/replay/${target.session_id}`, keys.viewer!)).status).toBe(403);
    expect((await get('/dashboard', 'not-a-real-key-0000000000')).status).toBe(401);
  });

  it('replays a session as its ordered timeline of decisions', async () => {
    const session = sent[0]!.session_id;
    const { status, body } = await get(`/replay/${session}`, keys.auditor!);
    expect(status).toBe(200);
    const mine = sent
      .filter((s) => s.session_id === session && s.decision !== 'not_applicable')
      .sort((a, b) => a.occurred_ms - b.occurred_ms);
    expect(body.steps.map((s: Doc) => [s.step, s.event_id, s.decision, s.control_surface])).toEqual(
      mine.map((s, i) => [i + 1, s.event_id, s.decision, surfaceOf(s)]),
    );
    expect(body.summary).toEqual({
      steps: mine.length,
      blocks: mine.filter((s) => s.decision === 'block').length,
      approvals: mine.filter((s) => s.decision === 'require_approval').length,
      warnings: mine.filter((s) => s.decision === 'warn').length,
      critical_or_high: mine.filter((s) => ['critical', 'high'].includes(s.severity)).length,
    });
  });
});
