import { publicExampleEnvelope } from '../../../test/support/fixtures';
import type { Envelope, RedactedEnvelope } from '@aispm/contracts';
import { validatorFor } from '@aispm/contracts';
import { canonicalRepository, controlSurface, normalize } from '../src';

const example = publicExampleEnvelope();

function redacted(envelope: Envelope): RedactedEnvelope {
  return {
    schema_version: 'aispm.redacted_envelope.v1',
    envelope,
    report: { redactor: 'aispm-redactor-v1', counts: {}, pointers: [] },
    source: { topic: 'aispm.acme.raw', partition: 2, offset: '41' },
    received_ms: 1_781_164_802_000,
    content_hash: 'hash-of-the-envelope',
  };
}

describe('controlSurface', () => {
  it.each([
    ['tool_call', 'read', 'repo/.env.local', 'sensitive_data'],
    ['tool_call', 'read', 'vault secret', 'sensitive_data'],
    ['tool_call', 'apply', 'terraform/main.tf', 'infrastructure_iac'],
    ['tool_call', 'mcp_call', 'x', 'mcp_tools'],
    ['mcp_activity', 'call', 'x', 'mcp_tools'],
    ['tool_call', 'invoke_tool', 'x', 'mcp_tools'],
    ['git_operation', 'git_push', 'x', 'source_control'],
    ['tool_call', 'edit', 'feature branch', 'source_control'],
    ['shell_command', 'shell_exec', 'x', 'runtime_commands'],
    ['prompt', 'submit', 'x', 'general_policy'],
    ['tool_call', 'run_script', 'kubernetes/secret.yaml', 'sensitive_data'],
  ])('%s %s %s is %s', (eventType, action, target, surface) => {
    expect(controlSurface(eventType, action, target)).toBe(surface);
  });
});

describe('canonicalRepository', () => {
  it.each([
    ['Example/Repository', 'example/repository'],
    ['https://github.com/Acme/Widget.git', 'acme/widget'],
    ['git@github.com:Acme/Widget.git', 'acme/widget'],
    [undefined, ''],
  ])('%s → %s', (input, expected) => expect(canonicalRepository(input)).toBe(expected));
});

describe('normalize', () => {
  it('turns the public example into a valid canonical event', () => {
    const event = normalize(redacted(example), 'acme', 1_781_164_803_000);
    expect(validatorFor('normalized-event.v1')(event)).toBe(true);
    expect(event).toMatchObject({
      tenant: 'acme',
      event_id: 'evt_01jz_public_contract_sample',
      idempotency_key: 'evt_01jz_public_contract_sample',
      occurred_ms: Date.parse('2026-06-11T08:00:00Z'),
      repository: 'example/repository',
      decision: 'require_approval',
      control_surface: 'general_policy',
      source: { topic: 'aispm.acme.raw', partition: 2, offset: '41' },
    });
  });

  it('defaults decision, severity and idempotency key', () => {
    const { decision, severity, ...event } = example.event;
    const { idempotency_key, ...transport } = example.transport;
    const normalized = normalize(redacted({ ...example, event, transport }), 'acme', 0);
    expect(normalized.decision).toBe('not_applicable');
    expect(normalized.severity).toBe('none');
    expect(normalized.idempotency_key).toBe(example.event.event_id);
  });
});
