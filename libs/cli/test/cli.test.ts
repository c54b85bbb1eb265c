import { findCommand } from '../src/main';

describe('findCommand', () => {
  it('matches multi-word commands before their prefixes', () => {
    expect(findCommand(['topics', 'ensure', '--tenant', 'acme'])).toEqual({
      name: 'topics ensure',
      rest: ['--tenant', 'acme'],
    });
    expect(findCommand(['migrate'])).toEqual({ name: 'migrate', rest: [] });
  });

  it('finds nothing for an unknown command', () => {
    expect(findCommand(['frobnicate'])).toBeUndefined();
    expect(findCommand([])).toBeUndefined();
  });
});
