/**
 * Owns turning what an adapter saw into a contract envelope (DESIGN §16). An adapter describes an
 * event as a draft plus its natural identity (what makes it this event and not another: a
 * session, a tool-use id, a log record); the event id and idempotency key are a digest of that
 * identity, so the same observation delivered twice, by a retry, a re-run hook or a re-sent
 * OTLP batch, carries the same key and counts once.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '@aispm/integrity';
import type { Envelope } from '@aispm/contracts';

export type EventFields = Envelope['event'];
export type ConnectorType = Envelope['source']['connector_type'];
export type Environment = Envelope['tenant']['environment'];

/** What an adapter produces for one observed event. */
export interface Draft {
  readonly connectorType: ConnectorType;
  /** The natural identity of the event; any JSON value, digested into the event id. */
  readonly identity: unknown;
  /** The event's fields, less the id the builder derives. */
  readonly event: Omit<EventFields, 'event_id'>;
  /** The observed tool's version, when it says. */
  readonly runtimeVersion?: string;
  /** The environment the tool itself names (an OTLP resource); the collector's otherwise. */
  readonly environment?: Environment;
}

/** What every envelope of one collector shares. */
export interface EnvelopeSettings {
  readonly tenantRef: string;
  readonly environment: Environment;
  /** The connector id; `<connector type>@<host>` when empty. */
  readonly connectorId: string;
  readonly hostName: string;
  readonly collectorVersion: string;
  /** True when the collector signs its requests; the gateway then insists on a signature. */
  readonly signed: boolean;
}

/** The version written into `source.collector_version`. */
export const COLLECTOR_VERSION = 'aispm-collector/0.1.0';

/**
 * The stable event id of an identity: a name-based UUID (version 8, RFC 9562) from the first 128
 * bits of its SHA-256. A UUID rather than a prefixed digest, because the redactor reads a long
 * mixed run such as `evt_<hex>` as a high-entropy secret and would mask the id itself.
 */
export function stableEventId(connectorType: ConnectorType, identity: unknown): string {
  const bytes = createHash('sha256')
    .update(canonicalJson([connectorType, identity]))
    .digest()
    .subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A contract envelope for `draft`; fields the adapter left undefined are omitted. */
export function buildEnvelope(draft: Draft, settings: EnvelopeSettings): Envelope {
  const eventId = stableEventId(draft.connectorType, draft.identity);
  const event = Object.fromEntries(
    Object.entries({ event_id: eventId, ...draft.event }).filter(([, value]) => value !== undefined),
  ) as EventFields;
  return {
    schema_version: 'cavra.aispm.enterprise_live_ingestion_envelope.v1',
    product: 'CAVRA',
    edition: 'enterprise',
    contract_visibility: 'public_contract',
    event,
    source: {
      connector_type: draft.connectorType,
      connector_id: settings.connectorId || `${draft.connectorType}@${settings.hostName}`,
      ...(draft.runtimeVersion ? { runtime_version: draft.runtimeVersion } : {}),
      collector_version: settings.collectorVersion,
    },
    tenant: { tenant_ref: settings.tenantRef, environment: draft.environment ?? settings.environment },
    // Collectors send metadata only: prompts, reasoning and tool output never leave the machine.
    redaction: {
      payload_handling: 'metadata_only',
      raw_prompt_included: false,
      reasoning_included: false,
      tool_output_included: false,
      redaction_profile: 'collector-metadata-only',
    },
    integrity: { signature_required: settings.signed, hash_algorithm: 'sha256' },
    transport: {
      ingress_mode: 'https',
      delivery_semantics: 'at_least_once',
      idempotency_key: eventId,
      retry_count: 0,
    },
    enterprise_boundaries: {
      collector_implementation: 'requires_cavra_enterprise',
      tenant_persistence: 'requires_cavra_enterprise',
      streaming_transport: 'requires_cavra_enterprise',
      raw_payload_storage: 'requires_cavra_enterprise',
      license_enforcement: 'requires_cavra_enterprise',
    },
  };
}

/** `value` as an ISO-8601 UTC time, or undefined when it is not a time. */
export function isoTime(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** Keys of an argument object with their JSON types, never their values: `path:string, n:number`. */
export function argumentSummary(args: unknown): string {
  if (!args || typeof args !== 'object' || Array.isArray(args)) return '';
  return Object.entries(args as Record<string, unknown>)
    .slice(0, 20)
    .map(
      ([name, value]) =>
        `${name.slice(0, 40)}:${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`,
    )
    .join(', ');
}

/** `owner/name` of a git remote URL (https, ssh or scp form), lower-case; undefined otherwise. */
export function repositoryFromRemote(remote: string): string | undefined {
  const match = /[:/]([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(remote.trim());
  return match ? `${match[1]}/${match[2]}`.toLowerCase() : undefined;
}
