import { createHmac } from 'node:crypto';
import type { Envelope } from '@aispm/contracts';
import { validatorFor } from '@aispm/contracts';
import { publicExampleEnvelope } from '../../../test/support/fixtures';
import {
  compileProfile,
  isStructural,
  redact,
  RedactionError,
  REDACTOR_NAME,
  type RedactionProfile,
} from '../src';
import { Fakes, positives } from './fakes';

const key = Buffer.alloc(32, 7);
const masking = compileProfile({});

/** Every string leaf of `value` with its JSON pointer. */
function stringLeaves(value: unknown, pointer = ''): Array<[string, string]> {
  if (typeof value === 'string') return [[pointer, value]];
  if (Array.isArray(value)) return value.flatMap((item, i) => stringLeaves(item, `${pointer}/${i}`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([name, item]) => stringLeaves(item, `${pointer}/${name}`));
  }
  return [];
}

/** Sets the value at a JSON pointer (no escaping needed for envelope keys). */
function setAt(root: unknown, pointer: string, value: unknown): void {
  const parts = pointer.split('/').slice(1);
  const last = parts.pop()!;
  let node = root as Record<string, unknown>;
  for (const part of parts) node = node[part] as Record<string, unknown>;
  node[last] = value;
}

function withEvent(fields: Partial<Envelope['event']>): Envelope {
  const envelope = publicExampleEnvelope();
  return { ...envelope, event: { ...envelope.event, ...fields } };
}

describe('redact', () => {
  it('leaves the public example unchanged and says so', () => {
    const example = publicExampleEnvelope();
    expect(redact(example, masking)).toEqual({
      envelope: example,
      report: { redactor: REDACTOR_NAME, counts: {}, pointers: [] },
    });
  });

  it('keeps random identifiers distinct, but still masks a known secret format pasted into one', () => {
    const ids = ['evt_9f86d081884c7d65a1b2', 'evt_a1b2c3d4e5f6a7b8c9d0'];
    for (const id of ids) {
      const envelope = withEvent({ event_id: id, session_id: `sess_${id.slice(4)}` });
      const redacted = redact(
        { ...envelope, transport: { ...envelope.transport, idempotency_key: `idem_Zx8Kq2LmN4pR7sT1${id}` } },
        masking,
      ).envelope;
      expect(redacted.event.event_id).toBe(id);
      expect(redacted.event.session_id).toBe(`sess_${id.slice(4)}`);
      expect(redacted.transport.idempotency_key).toBe(`idem_Zx8Kq2LmN4pR7sT1${id}`);
    }
    const pasted = redact(withEvent({ event_id: 'AKIAIOSFODNN7EXAMPLE' }), masking).envelope;
    expect(pasted.event.event_id).toBe('[REDACTED:aws_access_key_id]');
    const prose = redact(
      withEvent({ target_summary: 'token Zx8Kq2LmN4pR7sT1vW3yB6dF9hJ' }),
      masking,
    ).envelope;
    expect(prose.event.target_summary).toContain('[REDACTED:high_entropy]');
  });

  it('does not modify its input', () => {
    const envelope = withEvent({ target_summary: 'mail ops@example.com' });
    const before = structuredClone(envelope);
    redact(envelope, masking);
    expect(envelope).toEqual(before);
  });

  it('masks each finding in place and reports counts by kind and the field once', () => {
    const { envelope, report } = redact(
      withEvent({ target_summary: 'password=hunter2x for ops@example.com and dev@example.com' }),
      masking,
    );
    expect(envelope.event.target_summary).toBe(
      'password=[REDACTED:secret_assignment] for [REDACTED:email] and [REDACTED:email]',
    );
    expect(report).toEqual({
      redactor: REDACTOR_NAME,
      counts: { secret_assignment: 1, email: 2 },
      pointers: ['/event/target_summary'],
    });
  });

  // Property: plant a different secret in every string field that is not structural, and none
  // survives anywhere in the output or the report; every planted field is reported.
  it.each([[1], [2], [3], [4], [5]])('lets no planted secret through (seed %d)', (seed) => {
    const samples = positives(seed);
    const envelope = publicExampleEnvelope();
    envelope.event.evidence_refs = ['cavra://evidence/a', 'cavra://evidence/b'];
    const fields = stringLeaves(envelope).filter(([pointer]) => !isStructural(pointer));
    const planted: string[] = [];
    fields.forEach(([pointer, original], i) => {
      const [, text, secret] = samples[(i * 7) % samples.length]!;
      setAt(envelope, pointer, `${original} ${text}`);
      planted.push(secret);
    });
    const { envelope: out, report } = redact(envelope, masking);
    const output = JSON.stringify(out);
    const reported = JSON.stringify(report);
    for (const secret of planted) {
      expect(output).not.toContain(secret);
      expect(reported).not.toContain(secret);
    }
    expect(report.pointers).toEqual(fields.map(([pointer]) => pointer));
  });

  it('leaves enum-like structural fields alone but scans one holding free text', () => {
    const envelope = publicExampleEnvelope();
    const { envelope: out } = redact(envelope, masking);
    for (const [pointer, value] of stringLeaves(envelope).filter(([p]) => isStructural(p))) {
      expect(stringLeaves(out).find(([p]) => p === pointer)?.[1]).toBe(value);
    }
    const odd = { ...envelope, product: 'CAVRA admin@example.com' } as unknown as Envelope;
    expect(redact(odd, masking).report.pointers).toEqual(['/product']);
  });

  it('scans ids too: a secret in an id is masked, which changes the id', () => {
    const token = `ghp_${new Fakes(5).alnum(36)}`;
    const { envelope, report } = redact(
      withEvent({ event_id: `evt-${token}`, session_id: 'sess-1' }),
      masking,
    );
    expect(envelope.event.event_id).toBe('evt-[REDACTED:github_token]');
    expect(envelope.event.session_id).toBe('sess-1');
    expect(report.pointers).toEqual(['/event/event_id']);
  });

  it('is idempotent: redacting its own output finds nothing more', () => {
    const samples = positives(9);
    const first = redact(withEvent({ target_summary: samples.map(([, text]) => text).join(' | ') }), masking);
    expect(Object.keys(first.report.counts).length).toBeGreaterThan(20);
    expect(redact(first.envelope, masking)).toEqual({
      envelope: first.envelope,
      report: { redactor: REDACTOR_NAME, counts: {}, pointers: [] },
    });
    const tokenizing = compileProfile({ defaultAction: 'tokenize', tokenKey: key });
    const tokenized = redact(first.envelope, tokenizing);
    expect(redact(tokenized.envelope, tokenizing).report.counts).toEqual({});
  });

  it('keeps the envelope and the redacted-stage message schema-valid', () => {
    const f = new Fakes(2);
    const { envelope, report } = redact(
      withEvent({ target_summary: `token=${f.alnum(20)}`, actor_ref: 'jane@example.com' }),
      masking,
    );
    expect(validatorFor('envelope.v1')(envelope)).toBe(true);
    const message = {
      schema_version: 'aispm.redacted_envelope.v1',
      envelope,
      report,
      source: { topic: 'aispm.acme.raw', partition: 0, offset: '1' },
      received_ms: 1_781_164_802_000,
      content_hash: 'hash',
    };
    expect(validatorFor('redacted-envelope.v1')(message)).toBe(true);
  });

  it.each<[string, unknown]>([
    ['an array', []],
    ['null', null],
    ['a non-JSON value', { ...publicExampleEnvelope(), extra: new Date(0) }],
    ['nesting deeper than any envelope', { a: JSON.parse(`${'['.repeat(40)}"x"${']'.repeat(40)}`) }],
  ])('fails closed on %s', (_name, input) => {
    expect(() => redact(input as Envelope, masking)).toThrow(RedactionError);
  });
});

describe('tokenize', () => {
  const tokenizing = compileProfile({ actions: { email: 'tokenize' }, tokenKey: key });

  it('replaces a value with the truncated HMAC-SHA256 under the tenant key', () => {
    const { envelope } = redact(withEvent({ actor_ref: 'jane@example.com' }), tokenizing);
    const expected = createHmac('sha256', key).update('jane@example.com').digest('hex').slice(0, 32);
    expect(envelope.event.actor_ref).toBe(`tok_${expected}`);
    expect(envelope.event.actor_ref).toMatch(/^tok_[0-9a-f]{32}$/);
  });

  it('is stable: equal values give equal tokens across fields, events and compilations', () => {
    const again = compileProfile({ actions: { email: 'tokenize' }, tokenKey: Buffer.alloc(32, 7) });
    const one = redact(
      withEvent({ actor_ref: 'jane@example.com', target_summary: 'to jane@example.com' }),
      tokenizing,
    );
    const two = redact(withEvent({ actor_ref: 'jane@example.com' }), again);
    expect(one.envelope.event.target_summary).toBe(`to ${one.envelope.event.actor_ref}`);
    expect(two.envelope.event.actor_ref).toBe(one.envelope.event.actor_ref);
  });

  it('separates tenants: another key gives another token, and other values other tokens', () => {
    const other = compileProfile({ actions: { email: 'tokenize' }, tokenKey: Buffer.alloc(32, 8) });
    const mine = redact(withEvent({ actor_ref: 'jane@example.com' }), tokenizing).envelope.event.actor_ref;
    const theirs = redact(withEvent({ actor_ref: 'jane@example.com' }), other).envelope.event.actor_ref;
    const someoneElse = redact(withEvent({ actor_ref: 'john@example.com' }), tokenizing).envelope.event
      .actor_ref;
    expect(new Set([mine, theirs, someoneElse]).size).toBe(3);
  });

  it('masks the kinds it is not told to tokenize', () => {
    const { envelope } = redact(withEvent({ actor_ref: 'jane@example.com 203.0.113.9' }), tokenizing);
    expect(envelope.event.actor_ref).toMatch(/^tok_[0-9a-f]{32} \[REDACTED:ipv4\]$/);
  });
});

describe('deny-list', () => {
  it.each<[string, RedactionProfile, Partial<Envelope['event']>, Record<string, unknown>, string[]]>([
    [
      'a JSON pointer masks that field whole',
      { denyFields: ['/event/target_summary'] },
      { target_summary: 'ordinary words' },
      { target_summary: '[REDACTED:denied_field]', tool_name: 'filesystem.write' },
      ['/event/target_summary'],
    ],
    [
      'a field name masks that key at any depth',
      { denyFields: ['tool_name'] },
      {},
      { tool_name: '[REDACTED:denied_field]' },
      ['/event/tool_name'],
    ],
    [
      'an array field masks every element',
      { denyFields: ['evidence_refs'] },
      { evidence_refs: ['a', 'b'] },
      { evidence_refs: ['[REDACTED:denied_field]', '[REDACTED:denied_field]'] },
      ['/event/evidence_refs/0', '/event/evidence_refs/1'],
    ],
    [
      'a pointer that matches nothing changes nothing',
      { denyFields: ['/event/not_there'] },
      {},
      { tool_name: 'filesystem.write' },
      [],
    ],
  ])('%s', (_name, profile, fields, expected, pointers) => {
    const { envelope, report } = redact(withEvent(fields), compileProfile(profile));
    expect(envelope.event).toMatchObject(expected);
    expect(report.pointers).toEqual(pointers);
    expect(report.counts).toEqual(pointers.length ? { denied_field: pointers.length } : {});
  });

  it('tokenizes a deny-listed field when told to', () => {
    const profile = compileProfile({
      denyFields: ['/event/actor_ref'],
      actions: { denied_field: 'tokenize' },
      tokenKey: key,
    });
    const { envelope } = redact(withEvent({ actor_ref: 'role:developer' }), profile);
    expect(envelope.event.actor_ref).toBe(
      `tok_${createHmac('sha256', key).update('role:developer').digest('hex').slice(0, 32)}`,
    );
  });
});

describe('tenant patterns', () => {
  const profile = compileProfile({
    customPatterns: [
      { kind: 'acme_ticket', pattern: 'ACME-\\d{6}' },
      { kind: 'acme_host', pattern: '[a-z0-9-]+\\.corp\\.acme\\.example', action: 'tokenize' },
    ],
    tokenKey: key,
  });

  it.each([
    ['fix ACME-123456 now', 'fix [REDACTED:acme_ticket] now', { acme_ticket: 1 }],
    ['ACME-12345 is too short', 'ACME-12345 is too short', {}],
    ['deploy to build-7.corp.acme.example', /^deploy to tok_[0-9a-f]{32}$/, { acme_host: 1 }],
    [
      'ACME-000001 mailed ops@example.com',
      '[REDACTED:acme_ticket] mailed [REDACTED:email]',
      { acme_ticket: 1, email: 1 },
    ],
  ])('%s', (text, expected, counts) => {
    const { envelope, report } = redact(withEvent({ target_summary: text }), profile);
    if (typeof expected === 'string') expect(envelope.event.target_summary).toBe(expected);
    else expect(envelope.event.target_summary).toMatch(expected);
    expect(report.counts).toEqual(counts);
  });

  it('yields to a built-in secret that overlaps it', () => {
    const overlapping = compileProfile({
      customPatterns: [{ kind: 'long_word', pattern: 'ghp_[A-Za-z]{4}' }],
    });
    const token = `ghp_${new Fakes(4).alnum(36)}`;
    expect(redact(withEvent({ target_summary: token }), overlapping).report.counts).toEqual({
      github_token: 1,
    });
  });
});
