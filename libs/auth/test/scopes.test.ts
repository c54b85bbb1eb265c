import { publicExampleEnvelope } from '../../../test/support/fixtures';
import type { Envelope } from '@aispm/contracts';
import type { CollectorScopes, ScopeCheck, ScopeName } from '../src';
import { checkScopes } from '../src';

const ANY: CollectorScopes = {
  connectorTypes: [],
  connectorIds: [],
  repositories: [],
  environments: [],
  eventTypes: [],
};

const unchanged = (): void => {};

// The example envelope, changed: codex, connector-public-contract-sample, example/repository,
// production, tool_call.
function envelope(change: (envelope: Envelope) => void = unchanged): Envelope {
  const copy = publicExampleEnvelope();
  change(copy);
  return copy;
}

describe('checkScopes', () => {
  it.each<[string, Partial<CollectorScopes>, (envelope: Envelope) => void]>([
    ['empty scopes (any)', {}, unchanged],
    ['its connector type', { connectorTypes: ['cursor', 'codex'] }, unchanged],
    ['its connector id', { connectorIds: ['connector-public-contract-sample'] }, unchanged],
    ['a repository glob', { repositories: ['other/*', 'example/*'] }, unchanged],
    ['an exact repository in upper case', { repositories: ['Example/Repository'] }, unchanged],
    [
      'a repository sent as a git URL',
      { repositories: ['example/repository'] },
      (e) => (e.event.repository = 'https://github.com/Example/Repository.git'),
    ],
    ['an environment', { environments: ['staging', 'production'] }, unchanged],
    ['an event type', { eventTypes: ['tool_call'] }, unchanged],
    [
      'every scope at once',
      {
        connectorTypes: ['codex'],
        connectorIds: ['connector-public-contract-sample'],
        repositories: ['example/**'],
        environments: ['production'],
        eventTypes: ['tool_call', 'prompt'],
      },
      unchanged,
    ],
    ['no repository when repositories are any', {}, (e) => delete e.event.repository],
  ])('accepts %s', (_name, scopes, change) => {
    expect(checkScopes({ ...ANY, ...scopes }, envelope(change))).toEqual({ ok: true });
  });

  const outside = (scope: string, value: string) => `${scope} "${value}" is outside this collector's scopes`;
  const absent = '/event/repository is absent, and this collector is limited by repository';

  it.each<[string, Partial<CollectorScopes>, (envelope: Envelope) => void, ScopeName, string, string]>([
    [
      'another connector type',
      { connectorTypes: ['cursor'] },
      unchanged,
      'connector_type',
      '/source/connector_type',
      outside('connector_type', 'codex'),
    ],
    [
      'another connector id',
      { connectorIds: ['connector-other'] },
      unchanged,
      'connector_id',
      '/source/connector_id',
      outside('connector_id', 'connector-public-contract-sample'),
    ],
    [
      'a connector id that differs in case only',
      { connectorIds: ['Connector-Public-Contract-Sample'] },
      unchanged,
      'connector_id',
      '/source/connector_id',
      outside('connector_id', 'connector-public-contract-sample'),
    ],
    [
      'another repository',
      { repositories: ['acme/*'] },
      unchanged,
      'repository',
      '/event/repository',
      outside('repository', 'example/repository'),
    ],
    [
      'a repository path that canonicalizes outside the glob',
      { repositories: ['example/**'] },
      (e) => (e.event.repository = 'example/x/evil/target'),
      'repository',
      '/event/repository',
      outside('repository', 'evil/target'),
    ],
    [
      'no repository, even against **',
      { repositories: ['**'] },
      (e) => delete e.event.repository,
      'repository',
      '/event/repository',
      absent,
    ],
    [
      'a blank repository',
      { repositories: ['*/*'] },
      (e) => (e.event.repository = '  '),
      'repository',
      '/event/repository',
      absent,
    ],
    [
      'another environment',
      { environments: ['dev', 'test'] },
      unchanged,
      'environment',
      '/tenant/environment',
      outside('environment', 'production'),
    ],
    [
      'another event type',
      { eventTypes: ['prompt'] },
      unchanged,
      'event_type',
      '/event/event_type',
      outside('event_type', 'tool_call'),
    ],
    [
      'several scopes, reporting the first in order',
      { eventTypes: ['prompt'], environments: ['dev'], repositories: ['acme/*'], connectorIds: ['x'] },
      unchanged,
      'connector_id',
      '/source/connector_id',
      outside('connector_id', 'connector-public-contract-sample'),
    ],
  ])('refuses %s', (_name, scopes, change, scope, pointer, detail) => {
    const expected: ScopeCheck = { ok: false, scope, pointer, detail };
    expect(checkScopes({ ...ANY, ...scopes }, envelope(change))).toEqual(expected);
  });
});
