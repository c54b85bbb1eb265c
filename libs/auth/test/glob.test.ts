import { matchesGlob } from '../src';

describe('matchesGlob', () => {
  it.each([
    // Exact names, ignoring case.
    ['acme/widget', 'acme/widget', true],
    ['acme/widget', 'Acme/Widget', true],
    ['ACME/*', 'acme/widget', true],
    ['acme/widget', 'acme/widget2', false],
    ['acme/widget', 'acme/widge', false],
    // `*` stays within a segment.
    ['acme/*', 'acme/widget', true],
    ['acme/*', 'acme/', true],
    ['acme/*', 'acme', false],
    ['acme/*', 'acme/a/b', false],
    ['acme/*', 'acmecorp/widget', false],
    ['acme/*', 'other/acme', false],
    ['*/infra-*', 'acme/infra-core', true],
    ['*/infra-*', 'beta/infra-', true],
    ['*/infra-*', 'acme/app-infra', false],
    ['*/infra-*', 'a/b/infra-x', false],
    ['acme/*-svc', 'acme/billing-svc', true],
    ['acme/*-svc', 'acme/billing-svc-old', false],
    ['*', 'acme/widget', false],
    ['*/*', 'acme/widget', true],
    // `**` (and any longer run of stars) crosses segments.
    ['acme/**', 'acme/widget', true],
    ['acme/**', 'acme/a/b', true],
    ['acme/**', 'acmecorp/widget', false],
    ['**', 'acme/widget', true],
    ['**/infra-*', 'acme/infra-core', true],
    ['**/infra-*', 'acme/infra/core', false],
    ['acme/***', 'acme/a/b', true],
    // Everything else is literal: no regular-expression meaning leaks through.
    ['acme/w.dget', 'acme/widget', false],
    ['acme/w.dget', 'acme/w.dget', true],
    ['acme/(a|b)', 'acme/a', false],
    ['acme/(a|b)', 'acme/(a|b)', true],
    ['acme/[ab]', 'acme/a', false],
    ['acme/?', 'acme/x', false],
    ['acme/a+', 'acme/aa', false],
    ['acme/^$', 'acme/^$', true],
    ['acme\\/x', 'acme/x', false],
    ['acme/{a,b}', 'acme/a', false],
    // Empty pattern and value.
    ['', '', true],
    ['', 'acme/widget', false],
    ['acme/*', '', false],
  ])('%j against %j is %p', (pattern, value, expected) => {
    expect(matchesGlob(pattern, value)).toBe(expected);
  });

  it('stays linear-ish on patterns that make a backtracking regex explode', () => {
    const started = performance.now();
    expect(matchesGlob('*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(5000))).toBe(false);
    expect(matchesGlob('**a**a**a**a**a**a**a**b', `${'a/'.repeat(2500)}`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
