/**
 * Owns a tenant's deletion as a reconcile (DESIGN §18). The desired state, `deleted`, is on the
 * control topic before anything else happens; the steps that follow are idempotent, audited one
 * by one, and run again by every instance holding the control plane until the last of them
 * records `purged`. A crash between two steps leaves the deletion pending, never forgotten: the
 * next pass, here or on another instance, takes it up where it stands. The data key goes first
 * after the credentials, so from then on no copy of the raw log can be decrypted, whatever
 * happens to the steps after it.
 */
import type { ControlTenant } from '@aispm/contracts';
import type { Logger } from '@aispm/observability';
import { systemActor, type AuditTrail } from './audit';
import type { ControlPlane } from './plane';

export const DELETION_STEPS = [
  'revoke_credentials',
  'destroy_data_key',
  'delete_topics',
  'drop_rows',
] as const;
export type DeletionStep = (typeof DELETION_STEPS)[number];

/** What the steps do outside the control topic; each must be safe to run again. */
export interface DeletionEffects {
  /** Crypto-shredding: the tenant's key-encryption key is destroyed. */
  destroyDataKey(slug: string): Promise<void>;
  /** Deletes whatever topics of the tenant still exist. */
  deleteTopics(slug: string): Promise<void>;
  /** Drops the tenant's rows from ClickHouse (the audit trail stays: it is the platform's). */
  dropRows(slug: string): Promise<void>;
}

export interface DeletionOptions {
  /** Who runs the reconcile, for the audit trail: the instance id. */
  readonly instance: string;
  /** How often pending deletions are retried. */
  readonly intervalMs: number;
  /** Runs after each step is done and audited; tests crash the process here. */
  readonly afterStep?: (step: DeletionStep, slug: string) => void;
  /**
   * The tenants whose pending deletions this instance's periodic pass takes up
   * (AISPM_TENANT_PATTERN), so a cell's instances reconcile their own cell. A deletion asked of
   * this instance is carried through whatever the pattern.
   */
  readonly tenantPattern?: RegExp;
}

export class TenantDeletions {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly control: ControlPlane,
    private readonly audit: AuditTrail,
    private readonly effects: DeletionEffects,
    private readonly logger: Logger,
    private readonly options: DeletionOptions,
  ) {}

  /** Retries pending deletions now and every `intervalMs`. */
  start(): void {
    const pass = () => {
      void this.reconcile().finally(() => {
        if (!this.stopped) this.timer = setTimeout(pass, this.options.intervalMs);
      });
    };
    pass();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running.catch(() => undefined);
  }

  /**
   * Runs every step of the deletion of `slug` that is not done yet, then records it purged.
   * Resolves once it is; rejects with the failing step's error (the next pass retries it).
   */
  purge(slug: string): Promise<void> {
    const run = this.running.catch(() => undefined).then(() => this.purgeNow(slug));
    this.running = run;
    return run;
  }

  /** One pass over every pending deletion; failures are logged and left for the next pass. */
  async reconcile(): Promise<void> {
    if (!this.control.caughtUp()) return;
    const mine = this.control.state
      .pendingDeletions()
      .filter((tenant) => this.options.tenantPattern?.test(tenant.slug) ?? true);
    for (const tenant of mine) {
      await this.purge(tenant.slug).catch((error: unknown) =>
        this.logger.error({ err: error, tenant: tenant.slug }, 'tenant deletion step failed; retrying'),
      );
    }
  }

  private async purgeNow(slug: string): Promise<void> {
    const tenant = this.control.state.tenants.get(slug);
    if (!tenant?.deleted || tenant.purged) return;
    for (const step of DELETION_STEPS) {
      const detail = await this.run(step, tenant);
      await this.audit.append(`tenant.${step}`, systemActor(this.options.instance), slug, detail);
      this.logger.info({ tenant: slug, step }, 'tenant deletion step done');
      this.options.afterStep?.(step, slug);
    }
    await this.control.publish({ ...tenant, purged: true });
    await this.audit.append('tenant.purge', systemActor(this.options.instance), slug, {
      incarnation: tenant.incarnation ?? null,
    });
    this.logger.warn({ tenant: slug }, 'tenant deletion complete');
  }

  private async run(step: DeletionStep, tenant: ControlTenant): Promise<Record<string, unknown>> {
    switch (step) {
      case 'revoke_credentials':
        return { revoked: await this.revokeCredentials(tenant) };
      case 'destroy_data_key':
        await this.effects.destroyDataKey(tenant.slug);
        return { raw_key_destroyed: true };
      case 'delete_topics':
        await this.effects.deleteTopics(tenant.slug);
        return {};
      case 'drop_rows':
        await this.effects.dropRows(tenant.slug);
        return {};
    }
  }

  /**
   * Every collector and reader the slug ever had is refused once the tenant is deleted; they are
   * revoked on the record too, so no listing, and no later incarnation, shows them as live.
   */
  private async revokeCredentials(tenant: ControlTenant): Promise<string[]> {
    const state = this.control.state;
    const live = [
      ...[...state.collectors.values()].filter((c) => c.tenant === tenant.slug && !c.revoked),
      ...[...state.readers.values()].filter((r) => r.tenant === tenant.slug && !r.revoked),
    ];
    for (const entity of live) await this.control.publish({ ...entity, revoked: true });
    return live.map((entity) => (entity.type === 'collector' ? entity.collector_id : entity.reader_id));
  }
}
