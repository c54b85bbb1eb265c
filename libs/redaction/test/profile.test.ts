import { BUILT_IN_KINDS, compileProfile, RedactionError, scanText, type RedactionProfile } from '../src';

const key = Buffer.alloc(32, 7);

describe('compileProfile', () => {
  it('compiles the empty profile: every built-in kind, all masked', () => {
    const compiled = compileProfile({});
    expect(compiled.detectors.map((detector) => detector.kind)).toEqual(
      expect.arrayContaining([...BUILT_IN_KINDS]),
    );
    expect(compiled.detectors.every((detector) => detector.action === 'mask')).toBe(true);
    expect(compiled.tokenKey).toBeUndefined();
  });

  it('resolves actions: custom pattern, then per kind, then default', () => {
    const compiled = compileProfile({
      defaultAction: 'tokenize',
      actions: { email: 'mask', acme_ticket: 'mask' },
      customPatterns: [
        { kind: 'acme_ticket', pattern: 'ACME-\\d{6}' },
        { kind: 'acme_host', pattern: '[a-z]+\\.acme\\.internal', action: 'mask' },
      ],
      tokenKey: key,
    });
    const actionOf = (kind: string) => compiled.detectors.find((detector) => detector.kind === kind)?.action;
    expect([actionOf('email'), actionOf('acme_ticket'), actionOf('acme_host'), actionOf('jwt')]).toEqual([
      'mask',
      'mask',
      'mask',
      'tokenize',
    ]);
  });

  it('runs tenant patterns after secrets and before PII', () => {
    const kinds = compileProfile({
      customPatterns: [{ kind: 'acme_ticket', pattern: 'ACME-\\d{6}' }],
    }).detectors.map((detector) => detector.kind);
    expect(kinds.indexOf('secret_assignment')).toBeLessThan(kinds.indexOf('acme_ticket'));
    expect(kinds.indexOf('acme_ticket')).toBeLessThan(kinds.indexOf('email'));
  });

  it('keeps its own copy of the token key', () => {
    const mine = Buffer.alloc(32, 1);
    const compiled = compileProfile({ defaultAction: 'tokenize', tokenKey: mine });
    mine.fill(2);
    expect(compiled.tokenKey).toEqual(Buffer.alloc(32, 1));
  });

  it('compiles custom flags', () => {
    const compiled = compileProfile({
      customPatterns: [{ kind: 'codename', pattern: 'project bluebird', flags: 'i' }],
    });
    expect(scanText('Project BLUEBIRD ships', compiled).map((finding) => finding.kind)).toEqual(['codename']);
  });

  it.each<[string, RedactionProfile, RegExp]>([
    ['an unknown default action', { defaultAction: 'drop' as never }, /defaultAction/],
    ['an unknown action', { actions: { email: 'hash' as never } }, /actions\.email/],
    ['an action for an unknown kind', { actions: { emial: 'mask' } }, /unknown kind "emial"/],
    ['tokenize without a key', { actions: { email: 'tokenize' } }, /tokenKey/],
    ['tokenize with a short key', { defaultAction: 'tokenize', tokenKey: Buffer.alloc(8) }, /tokenKey/],
    ['a deny-listed field tokenized without a key', { actions: { denied_field: 'tokenize' } }, /tokenKey/],
    [
      'a custom kind in upper case',
      { customPatterns: [{ kind: 'Ticket', pattern: 'x' }] },
      /lower snake case/,
    ],
    ['a custom kind reusing a built-in', { customPatterns: [{ kind: 'email', pattern: 'x' }] }, /built-in/],
    [
      'two custom patterns of one kind',
      {
        customPatterns: [
          { kind: 'a', pattern: 'x' },
          { kind: 'a', pattern: 'y' },
        ],
      },
      /unique/,
    ],
    ['an empty pattern', { customPatterns: [{ kind: 'a', pattern: '' }] }, /non-empty/],
    [
      'a pattern that does not compile',
      { customPatterns: [{ kind: 'a', pattern: '(abc' }] },
      /does not compile/,
    ],
    [
      'a pattern matching the empty string',
      { customPatterns: [{ kind: 'a', pattern: 'x*' }] },
      /empty string/,
    ],
    [
      'an alternation with an empty branch',
      { customPatterns: [{ kind: 'a', pattern: 'abc|' }] },
      /empty string/,
    ],
    ['nested quantifiers', { customPatterns: [{ kind: 'a', pattern: '(a+)+b' }] }, /nests quantifiers/],
    [
      'nested stars in a class-free group',
      { customPatterns: [{ kind: 'a', pattern: '(?:\\w*x)*y' }] },
      /nests/,
    ],
    [
      'a bounded-repeat of an unbounded group',
      { customPatterns: [{ kind: 'a', pattern: '(x+y){2,}' }] },
      /nests/,
    ],
    ['the g flag', { customPatterns: [{ kind: 'a', pattern: 'x', flags: 'g' }] }, /flags/],
    ['a repeated flag', { customPatterns: [{ kind: 'a', pattern: 'x', flags: 'ii' }] }, /flags/],
    ['a very long pattern', { customPatterns: [{ kind: 'a', pattern: 'x'.repeat(1001) }] }, /longer than/],
    ['a structural field by pointer', { denyFields: ['/event/event_type'] }, /structural/],
    ['a parent of structural fields', { denyFields: ['/enterprise_boundaries'] }, /structural/],
    [
      'a child of enterprise boundaries',
      { denyFields: ['/enterprise_boundaries/tenant_persistence'] },
      /structural/,
    ],
    ['a structural field by name', { denyFields: ['severity'] }, /structural/],
    ['an empty deny entry', { denyFields: [''] }, /non-empty/],
  ])('refuses %s', (_name, profile, message) => {
    let thrown: unknown;
    try {
      compileProfile(profile);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RedactionError);
    expect((thrown as RedactionError).reason).toBe('invalid_profile');
    expect((thrown as RedactionError).message).toMatch(message);
  });

  it.each([['(ab)+'], ['(a|b)*c'], ['[(+]+x'], ['\\(a+\\)+'], ['ACME-\\d{6}'], ['(?:foo)?bar+']])(
    'accepts the safe pattern %s',
    (pattern) => {
      expect(() => compileProfile({ customPatterns: [{ kind: 'a', pattern }] })).not.toThrow();
    },
  );

  it('refuses a zero-width tenant match at scan time', () => {
    const compiled = compileProfile({ customPatterns: [{ kind: 'a', pattern: '(?=x)' }] });
    expect(() => scanText('x', compiled)).toThrow(/matched the empty string/);
  });
});
