import { apiUrl } from '../src/admin-client';
import { UsageError } from '../src/command';
import { COMMANDS } from '../src/commands';
import type { CliConfig } from '../src/env';
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

describe('where the admin commands connect', () => {
  const config = {
    AISPM_URL: 'http://gateway.test:8080',
    AISPM_API_URL: 'http://api.test:8090',
    AISPM_ADMIN_KEY: 'aispm_op_key',
  } as CliConfig;
  let fetched: jest.SpyInstance;

  beforeEach(() => {
    fetched = jest
      .spyOn(globalThis, 'fetch')
      .mockImplementation(() => Promise.resolve(new Response('{}', { status: 200 })));
  });
  afterEach(() => fetched.mockRestore());

  it.each([
    ['tenant list', [], {}, '/enterprise/aispm/admin/tenants'],
    ['reader revoke', ['rdr_1'], {}, '/enterprise/aispm/admin/readers/rdr_1/revoke'],
    ['redaction show', [], { tenant: 'acme' }, '/enterprise/aispm/admin/tenants/acme/redaction'],
  ])('%s calls the API service (AISPM_API_URL)', async (name, positionals, options, route) => {
    await COMMANDS[name]!.run(positionals, options, config);
    expect(fetched).toHaveBeenCalledWith(
      `http://api.test:8090${route}`,
      expect.objectContaining({ headers: expect.objectContaining({ authorization: 'Bearer aispm_op_key' }) }),
    );
  });

  it('takes --api-url over AISPM_API_URL', () => {
    expect(apiUrl(config, {})).toBe('http://api.test:8090');
    expect(apiUrl(config, { 'api-url': 'https://aispm.example.com/' })).toBe('https://aispm.example.com');
  });

  it('refuses --url, which names the gateway', async () => {
    expect(() => apiUrl(config, { url: 'http://gateway.test:8080' })).toThrow(UsageError);
    await expect(
      COMMANDS['tenant list']!.run([], { url: 'http://gateway.test:8080' }, config),
    ).rejects.toThrow(UsageError);
    expect(fetched).not.toHaveBeenCalled();
  });
});
