import type { ControlReader, ControlTenant } from '@aispm/contracts';
import type { Principal } from '@aispm/control';
import { authorizeReplay } from '../src';

const acme: ControlTenant = {
  type: 'tenant',
  slug: 'acme',
  tenant_ref: 'tenant:acme',
  retention_days: 30,
  raw_retention_hours: 24,
  deleted: false,
};

function reader(role: ControlReader['role'], tenant: ControlTenant | undefined): Principal {
  return {
    kind: 'reader',
    reader: {
      type: 'reader',
      reader_id: `r_${role}`,
      tenant: tenant?.slug ?? '*',
      role,
      key_sha256: '0'.repeat(64),
      revoked: false,
    },
    tenant,
  };
}

const other: ControlTenant = { ...acme, slug: 'other' };

describe('authorizeReplay', () => {
  it.each([
    ['auditor of the tenant', reader('auditor', acme), 'normalized', true],
    ['admin of the tenant', reader('admin', acme), 'dlq', true],
    ['operator', reader('admin', undefined), 'redacted', true],
    ['viewer of the tenant', reader('viewer', acme), 'normalized', false],
    ['auditor of another tenant', reader('auditor', other), 'normalized', false],
    ['auditor of the tenant, raw', reader('auditor', acme), 'raw', true],
    ['admin of the tenant, raw', reader('admin', acme), 'raw', false],
    ['operator, raw', reader('admin', undefined), 'raw', false],
    ['auditor of another tenant, raw', reader('auditor', other), 'raw', false],
  ] as const)('%s: %s', (_name, principal, stage, allowed) => {
    const attempt = () => authorizeReplay(principal, 'acme', stage);
    if (allowed) expect(attempt).not.toThrow();
    else expect(attempt).toThrow(expect.objectContaining({ code: 'GW_FORBIDDEN' }));
  });

  it('refuses collectors', () => {
    const collector = { kind: 'collector', tenant: acme } as unknown as Principal;
    expect(() => authorizeReplay(collector, 'acme', 'normalized')).toThrow(/Collector keys cannot replay/);
  });
});
