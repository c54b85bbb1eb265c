/**
 * Owns who may replay what (DESIGN §5, §7, §12). Replay is an auditor's tool: a tenant's auditor
 * or admin, or a platform operator, may replay the redacted and later stages. The raw stage holds
 * the only unredacted text, so it takes more: the auditor role, on a key issued to that tenant.
 * An operator key is not enough: reading a tenant's unredacted log is always done, and audited,
 * under one of the tenant's own credentials. Pure.
 */
import type { TenantStage } from '@aispm/contracts';
import type { Principal } from '@aispm/control';
import { AppError } from '@aispm/errors';

const REPLAY_ROLES: ReadonlySet<string> = new Set(['auditor', 'admin']);

/** Refuses (GW_FORBIDDEN) unless `principal` may replay `stage` of `tenant`. */
export function authorizeReplay(principal: Principal, tenant: string, stage: TenantStage): void {
  if (principal.kind !== 'reader') throw new AppError('GW_FORBIDDEN', 'Collector keys cannot replay');
  const operator = principal.tenant === undefined;
  const ownTenant = principal.tenant?.slug === tenant;
  const role = principal.reader.role;
  if (stage === 'raw') {
    if (!ownTenant || role !== 'auditor') {
      throw new AppError(
        'GW_FORBIDDEN',
        `Replaying the raw stage needs an auditor key of tenant ${tenant}; ${operator ? 'this is an operator key' : `this credential has the ${role} role${ownTenant ? '' : ' on another tenant'}`}`,
      );
    }
    return;
  }
  if (operator && role === 'admin') return;
  if (!ownTenant) throw new AppError('GW_FORBIDDEN', `This credential has no access to tenant ${tenant}`);
  if (!REPLAY_ROLES.has(role)) {
    throw new AppError('GW_FORBIDDEN', `Replay needs the auditor role; the credential is ${role}`);
  }
}
