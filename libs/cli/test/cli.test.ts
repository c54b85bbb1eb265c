import { findCommand, parseOptions } from '../src/main';

describe('findCommand', () => {
  it('matches multi-word commands before their prefixes', () => {
    expect(findCommand(['topics', 'ensure', '--tenant', 'acme'])).toEqual({
      name: 'topics ensure',
      rest: ['--tenant', 'acme'],
    });
    expect(findCommand(['migrate'])).toEqual({ name: 'migrate', rest: [] });
    expect(findCommand(['collect', 'install', '--agent', 'cursor'])).toEqual({
      name: 'collect install',
      rest: ['--agent', 'cursor'],
    });
  });

  it('finds nothing for an unknown command', () => {
    expect(findCommand(['frobnicate'])).toBeUndefined();
    expect(findCommand([])).toBeUndefined();
  });
});

describe('parseOptions', () => {
  it('reads values, booleans, repeats and positionals', () => {
    expect(
      parseOptions([
        'acme',
        '--ref',
        'tenant:acme',
        '--repo',
        'a/*',
        '--repo=b/*',
        '--require-signature',
        '--retention-days',
        '7',
      ]),
    ).toEqual({
      positionals: ['acme'],
      options: { ref: 'tenant:acme', repo: ['a/*', 'b/*'], 'require-signature': true, 'retention-days': '7' },
    });
  });

  it('treats a known boolean flag as taking no value', () => {
    expect(parseOptions(['--yes', 'acme'])).toEqual({ positionals: ['acme'], options: { yes: true } });
    expect(parseOptions(['--uninstall', '--agent', 'cursor'])).toEqual({
      positionals: [],
      options: { uninstall: true, agent: 'cursor' },
    });
  });
});
