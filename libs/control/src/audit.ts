/**
 * Owns writing the audit trail: every admin change (and later every replay and auditor access
 * to raw payload references) is appended to `aispm.audit` with acks=all before the action is
 * answered. The projector chains the trail into ClickHouse in topic order, where it can be
 * verified like the event chain.
 */
import { SHARED_TOPICS, TOPIC_SCHEMAS, type AuditRecord } from '@aispm/contracts';
import type { RecordSender, StageCodec } from '@aispm/kafka';
import { OPERATOR_TENANT, type Principal } from './state';

/** Who did it, as the audit trail records it. */
export function auditActor(principal: Principal): AuditRecord['actor'] {
  if (principal.kind === 'collector') {
    return { kind: 'collector', id: principal.collector.collector_id, tenant: principal.tenant.slug };
  }
  const operator = principal.reader.tenant === OPERATOR_TENANT;
  return {
    kind: operator ? 'operator' : 'reader',
    id: principal.reader.reader_id,
    tenant: principal.reader.tenant,
  };
}

/** An actor that is no principal: the platform itself, e.g. a reconcile finishing a deletion. */
export function systemActor(id: string): AuditRecord['actor'] {
  return { kind: 'system', id, tenant: '' };
}

/** Appends audit records. */
export class AuditTrail {
  constructor(
    private readonly producer: RecordSender,
    private readonly codec: StageCodec,
  ) {}

  /** Appends one record; resolves once Kafka has it (acks=all). */
  async append(
    action: string,
    by: Principal | AuditRecord['actor'],
    tenant: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    const record: AuditRecord = {
      schema_version: 'aispm.audit_record.v1',
      action,
      actor: 'id' in by ? by : auditActor(by),
      tenant,
      at_ms: Date.now(),
      detail,
    };
    await this.producer.send({
      topic: SHARED_TOPICS.audit,
      acks: -1,
      messages: [{ key: tenant || null, value: await this.codec.encode(TOPIC_SCHEMAS.audit, record) }],
    });
  }
}
