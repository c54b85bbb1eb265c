import { publicExampleEnvelope } from '../../../test/support/fixtures';
import type { Envelope, RedactedEnvelope } from '@aispm/contracts';
import { validatorFor } from '@aispm/contracts';
import { COLLECTOR_VERSION } from '@aispm/collector';
import { loadConfig } from '@aispm/config';
import { GENESIS_HASH, verifyChain } from '@aispm/integrity';
import {
  canonicalRepository,
  checkSemantics,
  controlSurface,
  deriveRiskClassification,
  normalize,
  recordHash,
  sealEvent,
  unsealed,
  upcastNormalized,
  verifyEventChains,
} from '../src';

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
    const event = sealEvent(normalize(redacted(example), 'acme', 1_781_164_803_000), GENESIS_HASH);
    expect(validatorFor('normalized-event.v2')(event)).toBe(true);
    expect(event).toMatchObject({
      tenant: 'acme',
      event_id: 'evt_01jz_public_contract_sample',
      idempotency_key: 'evt_01jz_public_contract_sample',
      occurred_ms: Date.parse('2026-06-11T08:00:00Z'),
      repository: 'example/repository',
      decision: 'require_approval',
      control_surface: 'general_policy',
      source: { topic: 'aispm.acme.raw', partition: 2, offset: '41' },
      prev_hash: GENESIS_HASH,
    });
  });

  it('keeps the client risk classification and adds a derived one', () => {
    const event = normalize(
      redacted({
        ...example,
        event: {
          ...example.event,
          risk_classification: 'client says low',
          decision: 'block',
          severity: 'low',
        },
      }),
      'acme',
      0,
    );
    expect(event.risk_classification).toBe('client says low');
    expect(event.derived_risk_classification).toBe('high');
  });

  it('turns occurred_at with an offset into UTC milliseconds', () => {
    const event = normalize(
      redacted({ ...example, event: { ...example.event, occurred_at: '2026-06-11T10:00:00.250+02:00' } }),
      'acme',
      0,
    );
    expect(event.occurred_ms).toBe(Date.parse('2026-06-11T08:00:00.250Z'));
  });

  it('refuses an occurred_at that is not a date-time', () => {
    expect(() =>
      normalize(redacted({ ...example, event: { ...example.event, occurred_at: 'yesterday' } }), 'acme', 0),
    ).toThrow(expect.objectContaining({ code: 'NORMALIZE_INVALID_ENVELOPE' }) as Error);
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

describe('deriveRiskClassification', () => {
  it.each([
    ['not_applicable', 'none', 'none'],
    ['allow', 'none', 'none'],
    ['audit_only', 'none', 'low'],
    ['allow_with_attestation', 'none', 'low'],
    ['warn', 'low', 'medium'],
    ['require_approval', 'none', 'medium'],
    ['block', 'none', 'high'],
    ['block', 'critical', 'critical'],
    ['allow', 'high', 'high'],
  ] as const)('%s with severity %s is %s', (decision, severity, risk) => {
    expect(deriveRiskClassification(decision, severity)).toBe(risk);
  });
});

describe('the integrity chain', () => {
  const first = normalize(redacted(example), 'acme', 5);
  const second = normalize(
    redacted({ ...example, event: { ...example.event, event_id: 'evt_2', decision: 'block' } }),
    'acme',
    6,
  );

  it('links each record to the hash of the one before', () => {
    const a = sealEvent(first, GENESIS_HASH);
    const b = sealEvent(second, a.record_hash);
    expect(b.prev_hash).toBe(a.record_hash);
    const links = [a, b].map((event, index) => ({
      position: String(index),
      prevHash: event.prev_hash,
      recordHash: event.record_hash,
      record: unsealed(event),
    }));
    expect(verifyChain(links)).toMatchObject({ ok: true, from: '0', to: '1', links: 2 });
  });

  it('does not depend on key order, and changes with any field', () => {
    const reordered = Object.fromEntries(Object.entries(first).reverse()) as typeof first;
    expect(recordHash(reordered, GENESIS_HASH)).toBe(recordHash(first, GENESIS_HASH));
    expect(recordHash({ ...first, decision: 'allow' }, GENESIS_HASH)).not.toBe(
      recordHash(first, GENESIS_HASH),
    );
    expect(recordHash(first, 'a'.repeat(64))).not.toBe(recordHash(first, GENESIS_HASH));
  });
});

describe('upcastNormalized', () => {
  it('makes a v1 record a valid v2 record with a derived risk and no chain', () => {
    const { derived_risk_classification: _risk, ...rest } = normalize(redacted(example), 'acme', 5);
    const v1 = { ...rest, schema_version: 'aispm.normalized_event.v1' as const };
    expect(validatorFor('normalized-event.v1')(v1)).toBe(true);
    const upcast = upcastNormalized(v1);
    expect(validatorFor('normalized-event.v2')(upcast)).toBe(true);
    expect(upcast).toMatchObject({
      schema_version: 'aispm.normalized_event.v2',
      derived_risk_classification: 'high',
      prev_hash: '',
      record_hash: '',
    });
  });

  it('leaves a v2 record as it is', () => {
    const v2 = sealEvent(normalize(redacted(example), 'acme', 5), GENESIS_HASH);
    expect(upcastNormalized(v2)).toBe(v2);
  });
});

describe('verifyEventChains', () => {
  const chain = (count: number) => {
    const records = [];
    let prev = GENESIS_HASH;
    for (let i = 0; i < count; i += 1) {
      const event = sealEvent(
        normalize(redacted({ ...example, event: { ...example.event, event_id: `evt_${i}` } }), 'acme', i),
        prev,
      );
      prev = event.record_hash;
      // Offsets skip one each time, as transaction markers do.
      records.push({ partition: 0, offset: String(i * 2), event });
    }
    return records;
  };

  it('says from which offset to which the chain holds, per partition', () => {
    const other = chain(2).map((record) => ({ ...record, partition: 1 }));
    expect(verifyEventChains([...chain(3), ...other])).toEqual([
      { partition: 0, ok: true, from: '0', to: '4', links: 3, unchained: 0 },
      { partition: 1, ok: true, from: '0', to: '2', links: 2, unchained: 0 },
    ]);
  });

  it('accepts a record stored twice at one position', () => {
    const records = chain(3);
    expect(verifyEventChains([...records, records[1]!])[0]).toMatchObject({ ok: true, links: 3 });
  });

  it('names a gap: a record missing from the middle', () => {
    const records = chain(4);
    expect(verifyEventChains([records[0]!, records[1]!, records[3]!])[0]).toMatchObject({
      ok: false,
      offset: '6',
    });
  });

  it('names a fork: two records linked to the same predecessor', () => {
    const records = chain(3);
    const fork = {
      ...records[2]!,
      offset: '8',
      event: sealEvent(
        unsealed({ ...records[2]!.event, event_id: 'evt_fork' }),
        records[1]!.event.record_hash,
      ),
    };
    expect(verifyEventChains([...records, fork])[0]).toMatchObject({ ok: false, offset: '8' });
  });

  it('names a changed record, and a different record at one position', () => {
    const records = chain(3);
    const changed = { ...records[1]!, event: { ...records[1]!.event, decision: 'allow' as const } };
    expect(verifyEventChains([records[0]!, changed, records[2]!])[0]).toMatchObject({
      ok: false,
      offset: '2',
      reason: expect.stringContaining('content changed') as string,
    });
    expect(verifyEventChains([...records, changed])[0]).toMatchObject({
      ok: false,
      offset: '2',
      reason: 'two different records at this position',
    });
  });

  it('lets records from before the chain precede it, but not sit inside it', () => {
    const records = chain(2);
    const legacy = {
      partition: 0,
      offset: '0',
      event: { ...records[0]!.event, prev_hash: '', record_hash: '' },
    };
    const shifted = records.map((record, i) => ({ ...record, offset: String(10 + i) }));
    expect(verifyEventChains([legacy, ...shifted])[0]).toMatchObject({ ok: true, unchained: 1, links: 2 });
    expect(verifyEventChains([...shifted, { ...legacy, offset: '20' }])[0]).toMatchObject({
      ok: false,
      offset: '20',
    });
  });
});

describe('checkSemantics', () => {
  const policy = { collectorVersions: ['public-contract', '0.*', '1.*'], maxEventAgeDays: 30 };
  const occurred = Date.parse(example.event.occurred_at);
  const day = 24 * 3600 * 1000;
  const withVersion = (collector_version: string) =>
    redacted({ ...example, source: { ...example.source, collector_version } });

  it('passes a known collector version and an event within the maximum age', () => {
    expect(() => checkSemantics(withVersion('1.4.2'), policy, occurred + 29 * day)).not.toThrow();
    expect(() => checkSemantics(withVersion('0.9'), policy, occurred)).not.toThrow();
    expect(() => checkSemantics(redacted(example), policy, occurred)).not.toThrow();
    expect(() =>
      checkSemantics(redacted(example), { ...policy, maxEventAgeDays: undefined }, occurred + 999 * day),
    ).not.toThrow();
  });

  it.each(['2.0.0', 'nightly', '10.1', '1x0'])('refuses collector version %s', (version) => {
    expect(() => checkSemantics(withVersion(version), policy, occurred)).toThrow(
      expect.objectContaining({ code: 'NORMALIZE_UNKNOWN_COLLECTOR' }) as Error,
    );
  });

  it("refuses an event older than the tenant's maximum age", () => {
    expect(() => checkSemantics(redacted(example), policy, occurred + 30 * day + 1)).toThrow(
      expect.objectContaining({ code: 'NORMALIZE_EVENT_TOO_OLD' }) as Error,
    );
  });
});

describe('the default collector versions', () => {
  it('accept what the public example, our collectors and the gateway write', () => {
    const { NORMALIZER_COLLECTOR_VERSIONS } = loadConfig(['NORMALIZER_COLLECTOR_VERSIONS'], {});
    const policy = { collectorVersions: NORMALIZER_COLLECTOR_VERSIONS, maxEventAgeDays: undefined };
    for (const version of [example.source.collector_version!, COLLECTOR_VERSION, 'aispm-gateway', '1.2.3']) {
      const message = redacted({ ...example, source: { ...example.source, collector_version: version } });
      expect(() => checkSemantics(message, policy, 0)).not.toThrow();
    }
  });
});
