/**
 * Owns topic naming (DESIGN §2), the tenant slug that names a tenant's topics, and the headers of
 * stage messages. No other module spells a topic name: per-tenant topics are
 * `aispm.<tenant>.<stage>`, and the shared ones are listed in SHARED_TOPICS.
 */
import { AppError } from '@aispm/errors';
import type { SchemaName } from './schemas';

/** Stages of the per-tenant pipeline, in flow order, plus the dead-letter topic. */
export const TENANT_STAGES = ['raw', 'redacted', 'normalized', 'posture', 'dlq'] as const;
export type TenantStage = (typeof TENANT_STAGES)[number];

/** Topics every tenant shares: control state, health evidence, and the audit trail. */
export const SHARED_TOPICS = {
  control: 'aispm.control',
  health: 'aispm.health',
  audit: 'aispm.audit',
  /** Dead letters of the shared topics' readers: records they could not decode. */
  deadLetters: 'aispm.dlq',
} as const;
export type SharedTopic = keyof typeof SHARED_TOPICS;

/** The schema each topic's values follow; a test asserts every topic has one. */
export const TOPIC_SCHEMAS: Readonly<Record<TenantStage | SharedTopic, SchemaName>> = {
  raw: 'envelope.v1',
  redacted: 'redacted-envelope.v1',
  normalized: 'normalized-event.v2',
  posture: 'posture-delta.v1',
  dlq: 'dlq-record.v1',
  control: 'control-record.v1',
  health: 'health-evidence.v1',
  audit: 'audit-record.v1',
  deadLetters: 'dlq-record.v1',
};

const SLUG_BODY = '[a-z0-9][a-z0-9-]{1,62}';

/**
 * A tenant slug: 2 to 63 lower-case letters, digits and dashes, starting with a letter or digit,
 * so it fits a topic name, a file name and a URL path segment as it is. `TENANT_SLUG.source` is
 * the same rule as a JSON Schema `pattern`.
 */
export const TENANT_SLUG = new RegExp(`^${SLUG_BODY}$`);
const TENANT_TOPIC = new RegExp(`^aispm\\.(${SLUG_BODY})\\.(${TENANT_STAGES.join('|')})$`);

/** Whether `slug` is a valid tenant slug. */
export function isTenantSlug(slug: string): boolean {
  return TENANT_SLUG.test(slug);
}

/** Throws TENANT_INVALID_SLUG unless `slug` is a valid tenant slug. */
export function assertTenantSlug(slug: string): string {
  if (!isTenantSlug(slug)) {
    throw new AppError('TENANT_INVALID_SLUG', `Tenant slug "${slug}" does not match ${TENANT_SLUG.source}`);
  }
  return slug;
}

/** The topic of one tenant's stage. */
export function tenantTopic(tenant: string, stage: TenantStage): string {
  return `aispm.${assertTenantSlug(tenant)}.${stage}`;
}

/** Every topic a tenant owns. */
export function tenantTopics(tenant: string): string[] {
  return TENANT_STAGES.map((stage) => tenantTopic(tenant, stage));
}

/** The tenant and stage of a per-tenant topic, or undefined for any other topic. */
export function parseTenantTopic(topic: string): { tenant: string; stage: TenantStage } | undefined {
  const match = TENANT_TOPIC.exec(topic);
  if (!match) return undefined;
  return { tenant: match[1]!, stage: match[2] as TenantStage };
}

/** Kafka headers every stage message carries. */
export const HEADERS = {
  tenant: 'aispm-tenant',
  eventId: 'aispm-event-id',
  traceId: 'aispm-trace-id',
  receivedMs: 'aispm-received-ms',
  contentHash: 'aispm-content-hash',
} as const;
