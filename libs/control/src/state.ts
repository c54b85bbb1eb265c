/**
 * Owns the control plane's state: the latest record of every tenant, collector, reader and legal
 * hold, folded from the control topic in offset order, with an index from key hash to principal.
 * Pure: every instance that folds the same records holds the same state.
 */
import type {
  ControlCollector,
  ControlLegalHold,
  ControlReader,
  ControlRecord,
  ControlTenant,
} from '@aispm/contracts';

/** What a control record describes. */
export type ControlData = ControlRecord['data'];

/** A platform operator's reader tenant: may administer every tenant. */
export const OPERATOR_TENANT = '*';

/** The control-topic key of a record: `<type>:<id>`, so compaction keeps one record per entity. */
export function controlKey(data: ControlData): string {
  switch (data.type) {
    case 'tenant':
      return `tenant:${data.slug}`;
    case 'collector':
      return `collector:${data.collector_id}`;
    case 'reader':
      return `reader:${data.reader_id}`;
    case 'legal_hold':
      return `legal_hold:${data.tenant}`;
  }
}

/** Whoever holds an API key: a collector (writes events) or a reader (reads, administers). */
export type Principal =
  | { readonly kind: 'collector'; readonly collector: ControlCollector; readonly tenant: ControlTenant }
  | { readonly kind: 'reader'; readonly reader: ControlReader; readonly tenant: ControlTenant | undefined };

/** What belongs to one incarnation of a tenant slug (DESIGN §18). */
interface TenantBound {
  readonly tenant: string;
  readonly incarnation?: string;
}

/**
 * Whether `entity` belongs to `tenant`'s incarnation. Records written before incarnations carry
 * none, and match a tenant that has none: one created before them too.
 */
export function sameIncarnation(entity: TenantBound, tenant: ControlTenant): boolean {
  return entity.tenant === tenant.slug && (entity.incarnation ?? '') === (tenant.incarnation ?? '');
}

/** The folded state of the control topic. */
export class ControlState {
  readonly tenants = new Map<string, ControlTenant>();
  readonly collectors = new Map<string, ControlCollector>();
  readonly readers = new Map<string, ControlReader>();
  readonly legalHolds = new Map<string, ControlLegalHold>();
  private readonly keyOwners = new Map<string, string>();

  /** Applies one record; a later record of the same entity replaces the earlier one. */
  apply(record: ControlRecord): void {
    const data = record.data;
    switch (data.type) {
      case 'tenant':
        this.tenants.set(data.slug, data);
        break;
      case 'collector':
        this.reindex(this.collectors.get(data.collector_id)?.key_sha256, data.key_sha256, controlKey(data));
        this.collectors.set(data.collector_id, data);
        break;
      case 'reader':
        this.reindex(this.readers.get(data.reader_id)?.key_sha256, data.key_sha256, controlKey(data));
        this.readers.set(data.reader_id, data);
        break;
      case 'legal_hold':
        this.legalHolds.set(data.tenant, data);
        break;
    }
  }

  /** A live tenant by slug (deleted tenants are gone). */
  tenant(slug: string): ControlTenant | undefined {
    const tenant = this.tenants.get(slug);
    return tenant && !tenant.deleted ? tenant : undefined;
  }

  /** Every live tenant. */
  liveTenants(): ControlTenant[] {
    return [...this.tenants.values()].filter((tenant) => !tenant.deleted);
  }

  /**
   * The live tenant `entity` belongs to: undefined when the tenant is deleted or the slug now
   * names a later incarnation, whose credentials, readers and data the entity must never reach.
   */
  tenantOf(entity: TenantBound): ControlTenant | undefined {
    const tenant = this.tenant(entity.tenant);
    return tenant && sameIncarnation(entity, tenant) ? tenant : undefined;
  }

  /** The collectors of a live tenant's current incarnation. */
  collectorsOf(tenant: ControlTenant): ControlCollector[] {
    return [...this.collectors.values()].filter((collector) => sameIncarnation(collector, tenant));
  }

  /** The readers of a live tenant's current incarnation. */
  readersOf(tenant: ControlTenant): ControlReader[] {
    return [...this.readers.values()].filter((reader) => sameIncarnation(reader, tenant));
  }

  /** Whether `slug` was deleted and its deletion reconcile has not finished. */
  deletionPending(slug: string): boolean {
    const tenant = this.tenants.get(slug);
    return tenant !== undefined && tenant.deleted && !tenant.purged;
  }

  /** Deleted tenants whose deletion reconcile has not finished. */
  pendingDeletions(): ControlTenant[] {
    return [...this.tenants.values()].filter((tenant) => this.deletionPending(tenant.slug));
  }

  /** The live collector bound to a client certificate fingerprint (mTLS), if any. */
  collectorByCertificate(sha256: string): { collector: ControlCollector; tenant: ControlTenant } | undefined {
    for (const collector of this.collectors.values()) {
      if (collector.cert_sha256 !== sha256 || collector.revoked) continue;
      const tenant = this.tenantOf(collector);
      if (tenant) return { collector, tenant };
    }
    return undefined;
  }

  /** Live collectors bound to workload identity (OIDC claims), for token authentication. */
  workloadCollectors(): { collector: ControlCollector; tenant: ControlTenant }[] {
    return [...this.collectors.values()].flatMap((collector) => {
      const tenant = this.tenantOf(collector);
      return collector.oidc_claims && !collector.revoked && tenant ? [{ collector, tenant }] : [];
    });
  }

  /** Whether a legal hold is active on the tenant. */
  onLegalHold(slug: string): boolean {
    return this.legalHolds.get(slug)?.active ?? false;
  }

  /** The principal of a key hash, or undefined when the key is unknown, revoked or orphaned. */
  principal(keySha256: string): Principal | undefined {
    const owner = this.keyOwners.get(keySha256);
    if (!owner) return undefined;
    const [type, id] = [owner.slice(0, owner.indexOf(':')), owner.slice(owner.indexOf(':') + 1)];
    if (type === 'collector') {
      const collector = this.collectors.get(id);
      const tenant = collector && this.tenantOf(collector);
      return collector && !collector.revoked && tenant ? { kind: 'collector', collector, tenant } : undefined;
    }
    return this.readerPrincipal(id);
  }

  /** The principal of a reader by id (a console session names it), unless revoked or orphaned. */
  readerPrincipal(readerId: string): Principal | undefined {
    const reader = this.readers.get(readerId);
    if (!reader || reader.revoked) return undefined;
    if (reader.tenant === OPERATOR_TENANT) return { kind: 'reader', reader, tenant: undefined };
    const tenant = this.tenantOf(reader);
    return tenant ? { kind: 'reader', reader, tenant } : undefined;
  }

  private reindex(previousHash: string | undefined, hash: string, owner: string): void {
    // A rotated key stops working the moment its replacement is applied.
    if (previousHash && previousHash !== hash) this.keyOwners.delete(previousHash);
    this.keyOwners.set(hash, owner);
  }
}
