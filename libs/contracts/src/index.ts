/**
 * Owns the platform's contracts: topic names, message schemas and the TypeScript types
 * generated from those schemas.
 */
export * from './topics';
export * from './schemas';
export * from './content';
export type { CAVRAAISPMEnterpriseLiveIngestionEnvelopePublicContract as Envelope } from './generated/envelope.v1';
export type { NormalizedEvent } from './generated/normalized-event.v2';
export type { NormalizedEvent as NormalizedEventV1 } from './generated/normalized-event.v1';
export type { DlqRecord } from './generated/dlq-record.v1';
export type { PostureDelta } from './generated/posture-delta.v1';
export type { HealthEvidence } from './generated/health-evidence.v1';
export type { AuditRecord } from './generated/audit-record.v1';
export type {
  ControlRecord,
  Tenant as ControlTenant,
  Collector as ControlCollector,
  Reader as ControlReader,
  LegalHold as ControlLegalHold,
  TenantRedaction as ControlTenantRedaction,
} from './generated/control-record.v1';
import type { RedactedEnvelope as GeneratedRedactedEnvelope } from './generated/redacted-envelope.v1';
import type { CAVRAAISPMEnterpriseLiveIngestionEnvelopePublicContract } from './generated/envelope.v1';

/** The redacted-stage message, with its envelope typed (the schema keeps it an open object). */
export type RedactedEnvelope = Omit<GeneratedRedactedEnvelope, 'envelope'> & {
  envelope: CAVRAAISPMEnterpriseLiveIngestionEnvelopePublicContract;
};
export type RedactionReport = GeneratedRedactedEnvelope['report'];
export type SourcePosition = GeneratedRedactedEnvelope['source'];
