import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ControlTenant, Envelope } from '@aispm/contracts';
import { LocalKms } from '@aispm/kms';
import { redact } from '@aispm/redaction';
import { ControlState, TenantProfiles, compileTenantProfile, tokenKeyContext } from '../src';

const kms = LocalKms.fromFile(path.join(mkdtempSync(path.join(os.tmpdir(), 'kms-ctl-')), 'master.key'), {
  create: true,
});

function tenant(slug: string, redaction?: ControlTenant['redaction']): ControlTenant {
  return {
    type: 'tenant',
    slug,
    tenant_ref: `tenant:${slug}`,
    retention_days: 1,
    raw_retention_hours: 24,
    deleted: false,
    ...(redaction ? { redaction } : {}),
  };
}

function apply(state: ControlState, data: ControlTenant): void {
  state.apply({ schema_version: 'aispm.control_record.v1', updated_ms: 0, data });
}

const sample = {
  event: { target_summary: 'ticket ACME-12345 by ops@example.com', note: 'internal only' },
} as unknown as Envelope;

describe('tenant redaction profiles', () => {
  it("apply the tenant's patterns, denied fields and tokenization under its sealed key", async () => {
    const sealed = await kms.seal(Buffer.alloc(32, 7), tokenKeyContext('acme'));
    const state = new ControlState();
    apply(
      state,
      tenant('acme', {
        actions: { email: 'tokenize' },
        custom_patterns: [{ kind: 'ticket_id', pattern: 'ACME-\\d+' }],
        deny_fields: ['note'],
        sealed_token_key: sealed,
      }),
    );
    const profiles = new TenantProfiles(state, kms, 0);
    const { envelope, report } = redact(sample, await profiles.profileOf('acme'));
    const event = envelope.event as unknown as Record<string, string>;
    expect(event.target_summary).toMatch(/^ticket \[REDACTED:ticket_id\] by tok_[0-9a-f]{32}$/);
    expect(event.note).toBe('[REDACTED:denied_field]');
    expect(report.counts).toEqual({ ticket_id: 1, email: 1, denied_field: 1 });
    // Stable: the same key gives the same token in a later compile.
    const again = redact(sample, await compileTenantProfile('acme', state.tenant('acme')!.redaction, kms));
    expect(again.envelope).toEqual(envelope);
  });

  it('give a tenant without settings the default profile, and recompile when the record changes', async () => {
    const state = new ControlState();
    apply(state, tenant('plain'));
    const profiles = new TenantProfiles(state, kms, 0);
    const first = await profiles.profileOf('plain');
    expect(redact(sample, first).report.counts).toEqual({ email: 1 });
    apply(state, tenant('plain', { deny_fields: ['target_summary'] }));
    expect(redact(sample, await profiles.profileOf('plain')).report.counts).toEqual({ denied_field: 1 });
  });

  it('fail closed on an unknown or deleted tenant, a bad profile or a key sealed for someone else', async () => {
    const state = new ControlState();
    const profiles = new TenantProfiles(state, kms, 0);
    await expect(profiles.profileOf('ghost')).rejects.toMatchObject({ code: 'REDACT_TENANT_UNKNOWN' });
    apply(state, { ...tenant('gone'), deleted: true });
    await expect(profiles.profileOf('gone')).rejects.toMatchObject({ code: 'REDACT_TENANT_UNKNOWN' });
    apply(state, tenant('bad', { custom_patterns: [{ kind: 'loop', pattern: '(a+)+' }] }));
    await expect(profiles.profileOf('bad')).rejects.toMatchObject({ code: 'REDACT_PROFILE_INVALID' });
    const foreign = await kms.seal(Buffer.alloc(32, 1), tokenKeyContext('other'));
    apply(state, tenant('thief', { default_action: 'tokenize', sealed_token_key: foreign }));
    await expect(profiles.profileOf('thief')).rejects.toMatchObject({ code: 'REDACT_PROFILE_INVALID' });
  });
});
