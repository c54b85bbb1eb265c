import type { ControlTenant } from '@aispm/contracts';
import { ControlState, type ControlData, type Principal } from '../src/state';
import { TenantWorkflows, type TenantWorkflowDeps } from '../src/tenants';

const operator = {
  kind: 'reader',
  reader: { reader_id: 'rdr_op', role: 'admin' },
  tenant: undefined,
} as unknown as Principal;
const settings = { slug: 'acme', tenant_ref: 'tenant:acme', retention_days: 30, raw_retention_hours: 24 };

/** The workflows over a real ControlState; publishing applies the record, as the plane does. */
function workflows(overrides: Partial<TenantWorkflowDeps> = {}) {
  const state = new ControlState();
  const steps: string[] = [];
  const publish = async (data: ControlData) => {
    steps.push(`publish ${data.type}${'deleted' in data && data.deleted ? ' deleted' : ''}`);
    state.apply({ schema_version: 'aispm.control_record.v1', updated_ms: Date.now(), data });
  };
  const deps: TenantWorkflowDeps = {
    control: { state, publish },
    audit: {
      append: async (action) => {
        steps.push(`audit ${action}`);
      },
    },
    deletions: {
      purge: async () => {
        steps.push('purge');
      },
    },
    createTopics: async (tenant: ControlTenant) => {
      steps.push(`topics ${tenant.slug}`);
    },
    ...overrides,
  };
  return { tenants: new TenantWorkflows(deps), state, steps, publish };
}

describe('TenantWorkflows', () => {
  it('creates topics, then the record, then the audit event, as a new incarnation', async () => {
    const { tenants, state, steps } = workflows();
    const tenant = await tenants.create(operator, { ...settings, partitions: 3 });
    expect(steps).toEqual(['topics acme', 'publish tenant', 'audit tenant.create']);
    expect(tenant).toMatchObject({ slug: 'acme', partitions: 3, deleted: false });
    expect(tenant.incarnation).toMatch(/^inc_[0-9a-f]{16}$/);
    expect(state.tenant('acme')?.incarnation).toBe(tenant.incarnation);
  });

  it('changes nothing when Kafka has not made the topics ready', async () => {
    const { tenants, state, steps } = workflows({
      createTopics: async () => {
        throw new Error('no leader');
      },
    });
    await expect(tenants.create(operator, settings)).rejects.toMatchObject({ code: 'GW_KAFKA_UNAVAILABLE' });
    expect(steps).toEqual([]);
    expect(state.tenant('acme')).toBeUndefined();
  });

  it('refuses a slug in use, a slug still being deleted and a tenant_ref taken', async () => {
    const { tenants } = workflows({
      deletions: {
        purge: async () => {
          throw new Error('ClickHouse down');
        },
      },
    });
    await tenants.create(operator, settings);
    await expect(tenants.create(operator, settings)).rejects.toMatchObject({ code: 'GW_CONFLICT' });
    await expect(tenants.create(operator, { ...settings, slug: 'other' })).rejects.toThrow(/tenant_ref/);
    expect(await tenants.delete(operator, 'acme')).toEqual({ done: false, pending: 'ClickHouse down' });
    await expect(tenants.create(operator, settings)).rejects.toThrow(/still being deleted/);
  });

  it('records the deletion before carrying it through, and pushes a pending one on', async () => {
    let failing = true;
    const { tenants, steps } = workflows({
      deletions: {
        purge: async () => {
          steps.push('purge');
          if (failing) throw new Error('topics not deleted');
        },
      },
    });
    await tenants.create(operator, settings);
    steps.length = 0;
    expect(await tenants.delete(operator, 'acme')).toEqual({ done: false, pending: 'topics not deleted' });
    expect(steps).toEqual(['publish tenant deleted', 'audit tenant.delete', 'purge']);
    failing = false;
    steps.length = 0;
    expect(await tenants.delete(operator, 'acme')).toEqual({ done: true });
    expect(steps).toEqual(['purge']);
  });

  it('refuses an unknown tenant and one on legal hold', async () => {
    const { tenants, publish } = workflows();
    await expect(tenants.delete(operator, 'nobody')).rejects.toMatchObject({ code: 'GW_NOT_FOUND' });
    await tenants.create(operator, settings);
    await publish({ type: 'legal_hold', tenant: 'acme', active: true, reason: 'litigation' });
    await expect(tenants.delete(operator, 'acme')).rejects.toThrow(/legal hold/);
  });
});
