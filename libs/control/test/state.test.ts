import type { ControlRecord } from '@aispm/contracts';
import { controlKey, ControlState, OPERATOR_TENANT, type ControlData } from '../src/state';

const hash = (c: string) => c.repeat(64);
const record = (data: ControlData): ControlRecord => ({
  schema_version: 'aispm.control_record.v1',
  updated_ms: 1,
  data,
});
const tenant = (slug: string, deleted = false): ControlData => ({
  type: 'tenant',
  slug,
  tenant_ref: `tenant:${slug}`,
  retention_days: 30,
  raw_retention_hours: 24,
  deleted,
});
const scopes = {
  connector_types: [],
  connector_ids: [],
  repositories: [],
  environments: [],
  event_types: [],
};
const collector = (id: string, key: string, revoked = false): ControlData => ({
  type: 'collector',
  collector_id: id,
  tenant: 'acme',
  key_sha256: hash(key),
  require_signature: false,
  scopes,
  revoked,
});

describe('ControlState', () => {
  it('keys records by type and id, so compaction keeps one per entity', () => {
    expect(controlKey(tenant('acme'))).toBe('tenant:acme');
    expect(controlKey(collector('c1', 'a'))).toBe('collector:c1');
    expect(controlKey({ type: 'legal_hold', tenant: 'acme', active: true, reason: 'r' })).toBe(
      'legal_hold:acme',
    );
  });

  it('finds a collector by key hash, and forgets a rotated or revoked key', () => {
    const state = new ControlState();
    state.apply(record(tenant('acme')));
    state.apply(record(collector('c1', 'a')));
    expect(state.principal(hash('a'))).toMatchObject({ kind: 'collector', tenant: { slug: 'acme' } });
    state.apply(record(collector('c1', 'b')));
    expect(state.principal(hash('a'))).toBeUndefined();
    expect(state.principal(hash('b'))).toMatchObject({ kind: 'collector' });
    state.apply(record(collector('c1', 'b', true)));
    expect(state.principal(hash('b'))).toBeUndefined();
  });

  it('drops the principals of a deleted tenant', () => {
    const state = new ControlState();
    state.apply(record(tenant('acme')));
    state.apply(record(collector('c1', 'a')));
    state.apply(record(tenant('acme', true)));
    expect(state.principal(hash('a'))).toBeUndefined();
    expect(state.liveTenants()).toEqual([]);
  });

  it('knows operators, who belong to no tenant', () => {
    const state = new ControlState();
    state.apply(
      record({
        type: 'reader',
        reader_id: 'op',
        tenant: OPERATOR_TENANT,
        role: 'admin',
        key_sha256: hash('o'),
        revoked: false,
      }),
    );
    expect(state.principal(hash('o'))).toMatchObject({
      kind: 'reader',
      tenant: undefined,
      reader: { role: 'admin' },
    });
  });

  it('tracks legal holds', () => {
    const state = new ControlState();
    state.apply(record({ type: 'legal_hold', tenant: 'acme', active: true, reason: 'litigation' }));
    expect(state.onLegalHold('acme')).toBe(true);
    state.apply(record({ type: 'legal_hold', tenant: 'acme', active: false, reason: 'settled' }));
    expect(state.onLegalHold('acme')).toBe(false);
  });
});
