/**
 * Owns the tenant workflows of DESIGN §18, apart from any transport: creating a tenant (topics
 * first, then its record, then the audit event, so a failed create changes nothing and is safe to
 * retry) and deleting one (the desired state first, then the reconcile of `TenantDeletions`
 * carries it through, here or on any other instance). Who may call them is the caller's check.
 */
import { randomBytes } from 'node:crypto';
import type { ControlTenant } from '@aispm/contracts';
import { AppError } from '@aispm/errors';
import type { AuditTrail } from './audit';
import type { TenantDeletions } from './deletion';
import type { ControlPlane } from './plane';
import type { Principal } from './state';

/** What an operator chooses when creating a tenant. */
export interface TenantSettings {
  readonly slug: string;
  readonly tenant_ref: string;
  readonly retention_days: number;
  readonly raw_retention_hours: number;
  readonly max_event_age_days?: number;
  readonly partitions?: number;
}

/** How a deletion stands when its request is answered. */
export type DeletionOutcome = { readonly done: true } | { readonly done: false; readonly pending: string };

export interface TenantWorkflowDeps {
  readonly control: Pick<ControlPlane, 'state' | 'publish'>;
  readonly audit: Pick<AuditTrail, 'append'>;
  readonly deletions: Pick<TenantDeletions, 'purge'>;
  /** Makes the tenant's topics ready; rejects when Kafka has not. */
  readonly createTopics: (tenant: ControlTenant) => Promise<void>;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

export class TenantWorkflows {
  constructor(private readonly deps: TenantWorkflowDeps) {}

  /** Creates tenant `settings.slug` as a new incarnation, on behalf of `by`. */
  async create(by: Principal, settings: TenantSettings): Promise<ControlTenant> {
    const { state } = this.deps.control;
    const { slug, tenant_ref, max_event_age_days, partitions } = settings;
    if (state.tenant(slug)) throw new AppError('GW_CONFLICT', `Tenant ${slug} exists`);
    if (state.deletionPending(slug)) {
      throw new AppError(
        'GW_CONFLICT',
        `The previous tenant ${slug} is still being deleted; retry once \`aispm tenant delete ${slug}\` answers that it is done`,
      );
    }
    if (state.liveTenants().some((t) => t.tenant_ref === tenant_ref)) {
      throw new AppError('GW_CONFLICT', `Another tenant already has tenant_ref ${tenant_ref}`);
    }
    const tenant: ControlTenant = {
      type: 'tenant',
      slug,
      incarnation: newId('inc'),
      tenant_ref,
      retention_days: settings.retention_days,
      raw_retention_hours: settings.raw_retention_hours,
      ...(max_event_age_days === undefined ? {} : { max_event_age_days }),
      ...(partitions === undefined ? {} : { partitions }),
      deleted: false,
    };
    await this.deps.createTopics(tenant).catch((cause: unknown) => {
      throw new AppError('GW_KAFKA_UNAVAILABLE', `Kafka has not made the topics of ${slug} ready; retry`, {
        cause,
      });
    });
    await this.deps.control.publish(tenant);
    await this.deps.audit.append('tenant.create', by, slug, {
      tenant_ref,
      retention_days: settings.retention_days,
      raw_retention_hours: settings.raw_retention_hours,
      max_event_age_days: max_event_age_days ?? null,
      partitions: partitions ?? null,
    });
    return tenant;
  }

  /**
   * Deletes tenant `slug` on behalf of `by`: a deletion still reconciling is answered like a
   * first one, and pushed on. Resolves with `done: false` when a step failed; the reconcile
   * retries it.
   */
  async delete(by: Principal, slug: string): Promise<DeletionOutcome> {
    const { control } = this.deps;
    if (!control.state.deletionPending(slug)) {
      const tenant = control.state.tenant(slug);
      if (!tenant) throw new AppError('GW_NOT_FOUND', `No tenant ${slug}`);
      if (control.state.onLegalHold(slug)) {
        throw new AppError('GW_CONFLICT', `Tenant ${slug} is on legal hold; clear the hold first`);
      }
      // From here on every key of the tenant is refused, and every instance holding the control
      // plane carries the deletion through.
      await control.publish({ ...tenant, deleted: true });
      await this.deps.audit.append('tenant.delete', by, slug, { incarnation: tenant.incarnation ?? null });
    }
    try {
      await this.deps.deletions.purge(slug);
      return { done: true };
    } catch (error) {
      return { done: false, pending: (error as Error).message };
    }
  }
}
