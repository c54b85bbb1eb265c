/**
 * Owns how a tenant's redaction profile is resolved, for the redactor and the dry run: the `redaction` settings of the
 * tenant's control record, its token key opened from the KMS, compiled once per version of the
 * record. Fails closed: a tenant without a record, or whose profile does not compile, gets no
 * profile, and its events go to the DLQ rather than through a weaker default.
 */
import type { ControlTenant, ControlTenantRedaction } from '@aispm/contracts';
import type { ControlState } from './state';
import { AppError } from '@aispm/errors';
import type { Kms } from '@aispm/kms';
import { compileProfile, RedactionError, tenantProfile, type CompiledProfile } from '@aispm/redaction';

/** The KMS context a tenant's token key is sealed under. */
export function tokenKeyContext(tenant: string): string {
  return `tenant:${tenant}:token-key`;
}

/**
 * Compiles redaction `settings` for tenant `slug`, opening the token key they hold sealed. With
 * `keyFallback`, settings without a sealed key tokenize under it (the dry run of a draft).
 * Throws `REDACT_PROFILE_INVALID` naming the problem.
 */
export async function compileTenantProfile(
  slug: string,
  settings: ControlTenantRedaction | undefined,
  kms: Kms,
  keyFallback?: Buffer,
): Promise<CompiledProfile> {
  const sealed = settings?.sealed_token_key;
  let tokenKey = keyFallback;
  if (sealed) {
    try {
      tokenKey = await kms.open(sealed, tokenKeyContext(slug));
    } catch (cause) {
      throw new AppError('REDACT_PROFILE_INVALID', `The token key of tenant ${slug} does not open`, {
        cause,
      });
    }
  }
  try {
    return compileProfile(tenantProfile(settings, tokenKey));
  } catch (error) {
    if (error instanceof RedactionError) throw new AppError('REDACT_PROFILE_INVALID', error.message);
    throw error;
  }
}

/** How long an event waits for its tenant's record to reach this instance before dead-lettering. */
const TENANT_WAIT_MS = 10_000;
const TENANT_POLL_MS = 100;

/** Compiled profiles by tenant, recompiled when the tenant's record changes. */
export class TenantProfiles {
  private readonly compiled = new Map<string, { record: ControlTenant; profile: Promise<CompiledProfile> }>();

  constructor(
    private readonly state: ControlState,
    private readonly kms: Kms,
    private readonly waitMs = TENANT_WAIT_MS,
  ) {}

  async profileOf(slug: string): Promise<CompiledProfile> {
    const record = await this.tenantRecord(slug);
    const cached = this.compiled.get(slug);
    if (cached?.record === record) return cached.profile;
    const profile = compileTenantProfile(slug, record.redaction, this.kms);
    this.compiled.set(slug, { record, profile });
    return profile;
  }

  /** Forgets a tenant's compiled profile (and so its token key), e.g. once it is deleted. */
  forget(slug: string): void {
    this.compiled.delete(slug);
  }

  /**
   * The tenant's live record. The gateway publishes it before producing the tenant's first
   * event, but this instance applies it within its poll interval, so wait a little for it.
   */
  private async tenantRecord(slug: string): Promise<ControlTenant> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const record = this.state.tenants.get(slug);
      if (record && !record.deleted) return record;
      if (record?.deleted || Date.now() >= deadline) {
        throw new AppError('REDACT_TENANT_UNKNOWN', `No live tenant ${slug} in the control plane`);
      }
      await new Promise((resolve) => setTimeout(resolve, TENANT_POLL_MS));
    }
  }
}
