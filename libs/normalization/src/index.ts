/**
 * Owns the canonical event (DESIGN §8): a redacted envelope becomes one flat, typed record with
 * UTC-millisecond times, a canonical repository, defaults for decision and severity, its control
 * surface (§11) and the raw-topic position it came from. Pure: no I/O, no clock of its own.
 */
import type { NormalizedEvent, RedactedEnvelope } from '@aispm/contracts';
import { AppError } from '@aispm/errors';

type ControlSurface = NormalizedEvent['control_surface'];

/** The control surface of an event: the first rule of DESIGN §11 that matches. */
export function controlSurface(eventType: string, actionType: string, target: string): ControlSurface {
  const action = actionType.toLowerCase();
  const where = target.toLowerCase();
  if (where.includes('secret') || where.includes('.env')) return 'sensitive_data';
  if (['terraform', 'tofu', 'kubernetes'].some((word) => where.includes(word))) return 'infrastructure_iac';
  if (action.includes('mcp') || action.includes('tool') || eventType === 'mcp_activity') return 'mcp_tools';
  if (action.includes('git') || action.includes('pull_request') || where.includes('branch'))
    return 'source_control';
  if (['command', 'shell', 'script'].some((word) => action.includes(word))) return 'runtime_commands';
  return 'general_policy';
}

/**
 * `owner/name` in lower case, from a bare slug or a git remote URL
 * (`https://host/Owner/Name.git`, `git@host:Owner/Name.git`); empty when absent.
 */
export function canonicalRepository(repository: string | undefined): string {
  if (!repository) return '';
  const trimmed = repository
    .trim()
    .replace(/\.git$/i, '')
    .replace(/\/+$/, '');
  const parts = trimmed.split(/[/:]/).filter(Boolean);
  if (parts.length < 2) return trimmed.toLowerCase();
  return `${parts[parts.length - 2]}/${parts[parts.length - 1]}`.toLowerCase();
}

function utcMs(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms))
    throw new AppError('NORMALIZE_INVALID_ENVELOPE', `${field} is not a date-time: ${iso}`);
  return ms;
}

/** The canonical event of a redacted envelope of `tenant`, normalized at `nowMs`. */
export function normalize(message: RedactedEnvelope, tenant: string, nowMs: number): NormalizedEvent {
  const { envelope, report, source } = message;
  const { event } = envelope;
  const actionType = event.action_type ?? '';
  const target = event.target_summary ?? '';
  return {
    schema_version: 'aispm.normalized_event.v1',
    tenant,
    event_id: event.event_id,
    idempotency_key: envelope.transport.idempotency_key ?? event.event_id,
    content_hash: message.content_hash,
    session_id: event.session_id,
    agent_id: event.agent_id,
    connector_type: envelope.source.connector_type,
    connector_id: envelope.source.connector_id,
    event_type: event.event_type,
    occurred_ms: utcMs(event.occurred_at, '/event/occurred_at'),
    received_ms: message.received_ms,
    ingested_ms: nowMs,
    repository: canonicalRepository(event.repository),
    environment: envelope.tenant.environment,
    region: envelope.tenant.region ?? '',
    tool_name: event.tool_name ?? '',
    action_type: actionType,
    target_summary: target,
    decision: event.decision ?? 'not_applicable',
    severity: event.severity ?? 'none',
    risk_classification: event.risk_classification ?? '',
    control_surface: controlSurface(event.event_type, actionType, target),
    policy_pack: event.policy_pack ?? '',
    evidence_refs: event.evidence_refs ?? [],
    payload_ref: event.payload_ref ?? '',
    payload_handling: envelope.redaction.payload_handling,
    // Signature checks arrive with gateway authentication; until then nothing is claimed verified.
    signature_verified: false,
    hash_algorithm: envelope.integrity.hash_algorithm,
    payload_hash: envelope.integrity.payload_hash ?? '',
    redaction: report,
    source,
  };
}
