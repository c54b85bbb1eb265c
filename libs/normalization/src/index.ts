/**
 * Owns the canonical event (DESIGN §8): a redacted envelope becomes one flat, typed record with
 * UTC-millisecond times, a canonical repository, defaults for decision and severity, its control
 * surface (§11), a derived risk classification and the raw-topic position it came from; sealing
 * links it into its partition's hash chain; older versions are upcast to the current one. Pure:
 * no I/O, no clock of its own.
 */
import type { NormalizedEvent, NormalizedEventV1, RedactedEnvelope } from '@aispm/contracts';
import { AppError } from '@aispm/errors';
import { canonicalJson, chainHash, verifyChain } from '@aispm/integrity';

type ControlSurface = NormalizedEvent['control_surface'];
type RiskLevel = NormalizedEvent['derived_risk_classification'];

/** A canonical event before it has a place in a chain. */
export type UnsealedEvent = Omit<NormalizedEvent, 'prev_hash' | 'record_hash'>;

const SEVERITY_RANK: Readonly<Record<NormalizedEvent['severity'], number>> = {
  none: 0,
  low: 1,
  medium: 2,
  high: 3,
  critical: 4,
};
const RISK_BY_RANK: readonly RiskLevel[] = ['none', 'low', 'medium', 'high', 'critical'];

/**
 * The risk the platform assigns, whatever the client claimed: the event's severity, raised to
 * what its decision implies (a block is at least high, an approval gate or warning at least
 * medium, an attested or audit-only allow at least low). The §11 weights rank these the same way.
 */
export function deriveRiskClassification(
  decision: NormalizedEvent['decision'],
  severity: NormalizedEvent['severity'],
): RiskLevel {
  const floor =
    decision === 'block'
      ? 3
      : decision === 'require_approval' || decision === 'warn'
        ? 2
        : decision === 'allow_with_attestation' || decision === 'audit_only'
          ? 1
          : 0;
  return RISK_BY_RANK[Math.max(floor, SEVERITY_RANK[severity])]!;
}

/** The record_hash of `event` chained after `prevHash` (DESIGN §8). */
export function recordHash(event: UnsealedEvent, prevHash: string): string {
  return chainHash(prevHash, event);
}

/** `event` linked after the record whose hash is `prevHash`. */
export function sealEvent(event: UnsealedEvent, prevHash: string): NormalizedEvent {
  return { ...event, prev_hash: prevHash, record_hash: recordHash(event, prevHash) };
}

/** The part of a sealed event its record_hash covers. */
export function unsealed(event: NormalizedEvent): UnsealedEvent {
  const { prev_hash: _prev, record_hash: _hash, ...rest } = event;
  return rest;
}

/**
 * Any version of the normalized event as the current one. A v1 record gets its derived risk
 * classification computed now and empty chain fields: it was written before the chain existed,
 * and inventing hashes for it would claim an integrity it never had.
 */
export function upcastNormalized(event: NormalizedEvent | NormalizedEventV1): NormalizedEvent {
  if (event.schema_version === 'aispm.normalized_event.v2') return event;
  return {
    ...event,
    schema_version: 'aispm.normalized_event.v2',
    derived_risk_classification: deriveRiskClassification(event.decision, event.severity),
    prev_hash: '',
    record_hash: '',
  };
}

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

/** The canonical event of a redacted envelope of `tenant`, normalized at `nowMs`, not yet chained. */
export function normalize(message: RedactedEnvelope, tenant: string, nowMs: number): UnsealedEvent {
  const { envelope, report, source } = message;
  const { event } = envelope;
  const actionType = event.action_type ?? '';
  const target = event.target_summary ?? '';
  const decision = event.decision ?? 'not_applicable';
  const severity = event.severity ?? 'none';
  return {
    schema_version: 'aispm.normalized_event.v2',
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
    decision,
    severity,
    risk_classification: event.risk_classification ?? '',
    derived_risk_classification: deriveRiskClassification(decision, severity),
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

/** A canonical event as stored, at its position in the normalized topic. */
export interface StoredRecord {
  readonly partition: number;
  readonly offset: string;
  readonly event: NormalizedEvent;
}

/** What walking one partition's chain found. */
export type PartitionVerdict =
  | {
      readonly partition: number;
      readonly ok: true;
      readonly from: string | undefined;
      readonly to: string | undefined;
      readonly links: number;
      /** Records written before the chain existed (upcast from v1), which precede it. */
      readonly unchained: number;
    }
  | { readonly partition: number; readonly ok: false; readonly offset: string; readonly reason: string };

/**
 * Checks the chain of each partition: records in offset order, each prev_hash the record_hash of
 * the record before, each record_hash recomputed from the record. The first record's prev_hash is
 * taken as given, since retention may have removed what came before it. Two different records at
 * one position (e.g. a replaced storage row) are a broken link too.
 */
export function verifyEventChains(records: readonly StoredRecord[]): PartitionVerdict[] {
  const byPartition = new Map<number, StoredRecord[]>();
  for (const record of records)
    byPartition.set(record.partition, [...(byPartition.get(record.partition) ?? []), record]);
  return [...byPartition.entries()]
    .sort(([a], [b]) => a - b)
    .map(([partition, list]) => verifyPartition(partition, list));
}

function verifyPartition(partition: number, records: readonly StoredRecord[]): PartitionVerdict {
  const sorted = [...records].sort((a, b) =>
    BigInt(a.offset) < BigInt(b.offset) ? -1 : BigInt(a.offset) > BigInt(b.offset) ? 1 : 0,
  );
  const unique: StoredRecord[] = [];
  for (const record of sorted) {
    const previous = unique[unique.length - 1];
    if (previous?.offset !== record.offset) {
      unique.push(record);
    } else if (canonicalJson(previous.event) !== canonicalJson(record.event)) {
      return {
        partition,
        ok: false,
        offset: record.offset,
        reason: 'two different records at this position',
      };
    }
  }
  let unchained = 0;
  while (unchained < unique.length && unique[unchained]!.event.record_hash === '') unchained += 1;
  const chained = unique.slice(unchained);
  const gap = chained.find((record) => record.event.record_hash === '');
  if (gap)
    return { partition, ok: false, offset: gap.offset, reason: 'a record without a hash inside the chain' };
  const verdict = verifyChain(
    chained.map(({ offset, event }) => ({
      position: offset,
      prevHash: event.prev_hash,
      recordHash: event.record_hash,
      record: unsealed(event),
    })),
    chained[0]?.event.prev_hash,
  );
  return verdict.ok
    ? { partition, ok: true, from: verdict.from, to: verdict.to, links: verdict.links, unchained }
    : { partition, ok: false, offset: verdict.position, reason: verdict.reason };
}

/** What the normalizer checks beyond the contract, per tenant (DESIGN §8, issue #5). */
export interface SemanticPolicy {
  /** Patterns (`*` matches any text) of the `source.collector_version` values this normalizer understands. */
  readonly collectorVersions: readonly string[];
  /** Events that occurred longer ago are refused; undefined means no limit. */
  readonly maxEventAgeDays: number | undefined;
}

const DAY_MS = 24 * 3600 * 1000;

/** Whether `version` matches `pattern`, where `*` stands for any text and everything else is literal. */
export function versionMatches(pattern: string, version: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(version);
}

/**
 * Throws the rule a redacted envelope breaks that the gateway could not check: a collector version
 * the normalizer does not know (the gateway passes any string), or an event older than the
 * tenant's maximum age at normalization time (the gateway checks no age). The stage dead-letters
 * the event with the error's code and moves on.
 */
export function checkSemantics(message: RedactedEnvelope, policy: SemanticPolicy, nowMs: number): void {
  const version = message.envelope.source.collector_version;
  if (
    version !== undefined &&
    !policy.collectorVersions.some((pattern) => versionMatches(pattern, version))
  ) {
    throw new AppError(
      'NORMALIZE_UNKNOWN_COLLECTOR',
      `collector_version ${version} matches none of ${policy.collectorVersions.join(', ')}`,
    );
  }
  if (policy.maxEventAgeDays !== undefined) {
    const occurred = utcMs(message.envelope.event.occurred_at, '/event/occurred_at');
    if (nowMs - occurred > policy.maxEventAgeDays * DAY_MS) {
      throw new AppError(
        'NORMALIZE_EVENT_TOO_OLD',
        `occurred_at ${message.envelope.event.occurred_at} is older than the tenant's ${policy.maxEventAgeDays} days`,
      );
    }
  }
}
