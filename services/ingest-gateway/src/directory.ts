/**
 * Owns who may call the gateway. Today the directory is a bootstrap file of tenants and
 * collector key hashes (only SHA-256 hashes of keys are stored), read at start-up; the control
 * plane replaces its source without changing this interface.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { assertTenantSlug } from '@aispm/contracts';
import { AppError } from '@aispm/errors';

/** A tenant known to the platform. */
export interface Tenant {
  readonly slug: string;
  readonly tenantRef: string;
}

/** An authenticated collector and the tenant it belongs to. */
export interface CollectorPrincipal {
  readonly collectorId: string;
  readonly tenant: Tenant;
}

/** Hex SHA-256 of an API key: what the directory stores instead of the key. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

interface BootstrapFile {
  tenants: { slug: string; tenant_ref: string }[];
  collectors: { collector_id: string; tenant: string; key_sha256: string }[];
}

/** Tenants and collectors, looked up by key hash. */
export class CredentialDirectory {
  private readonly byKeyHash = new Map<string, CollectorPrincipal>();
  readonly tenants: readonly Tenant[];

  constructor(file: BootstrapFile) {
    const tenants = new Map(
      file.tenants.map((t) => [assertTenantSlug(t.slug), { slug: t.slug, tenantRef: t.tenant_ref }] as const),
    );
    this.tenants = [...tenants.values()];
    for (const collector of file.collectors) {
      const tenant = tenants.get(collector.tenant);
      if (!tenant)
        throw new Error(`Collector ${collector.collector_id} names unknown tenant ${collector.tenant}`);
      if (!/^[0-9a-f]{64}$/.test(collector.key_sha256)) {
        throw new Error(`Collector ${collector.collector_id} has no valid key_sha256`);
      }
      this.byKeyHash.set(collector.key_sha256, { collectorId: collector.collector_id, tenant });
    }
  }

  /** Reads a bootstrap file; a missing file is an empty directory. */
  static fromFile(path: string): CredentialDirectory {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return new CredentialDirectory({ tenants: [], collectors: [] });
      throw error;
    }
    const parsed = JSON.parse(text) as Partial<BootstrapFile>;
    return new CredentialDirectory({ tenants: parsed.tenants ?? [], collectors: parsed.collectors ?? [] });
  }

  /** The collector holding `Authorization: Bearer <key>`, or GW_UNAUTHENTICATED. */
  authenticate(authorization: string | undefined): CollectorPrincipal {
    const match = /^Bearer ([A-Za-z0-9._~+/=-]{16,512})$/.exec(authorization ?? '');
    const principal = match ? this.byKeyHash.get(hashApiKey(match[1]!)) : undefined;
    if (!principal) throw new AppError('GW_UNAUTHENTICATED', 'A valid collector API key is required');
    return principal;
  }
}
