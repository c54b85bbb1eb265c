import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  matchWorkload,
  workloadBinding,
  workloadMatches,
  type VerifiedToken,
  type WorkloadIdentity,
} from '../src';

const claimsOf = (name: string) =>
  JSON.parse(
    readFileSync(path.resolve(__dirname, '../../../test/fixtures/collectors', name), 'utf8'),
  ) as Record<string, unknown>;

const GITHUB = 'https://token.actions.githubusercontent.com';
const GITLAB = 'https://gitlab.example.com';
const AZURE = 'https://vstoken.dev.azure.com/61c028b9-510c-4f84-bfb2-f48d33b6b542';

const github: VerifiedToken = { issuer: GITHUB, claims: claimsOf('github-oidc-claims.json') };
const gitlab: VerifiedToken = { issuer: GITLAB, claims: claimsOf('gitlab-oidc-claims.json') };
const azure: VerifiedToken = { issuer: AZURE, claims: claimsOf('azure-oidc-claims.json') };

describe('workloadMatches', () => {
  it.each<[string, Parameters<typeof workloadMatches>[0], VerifiedToken, string | undefined, boolean]>([
    [
      'every glob matching, same issuer',
      { oidc_issuer: GITLAB, oidc_claims: { project_path: 'acme/*', ref: 'main' } },
      gitlab,
      undefined,
      true,
    ],
    ['a numeric claim', { oidc_issuer: GITLAB, oidc_claims: { runner_id: '1' } }, gitlab, undefined, true],
    [
      'one glob not matching',
      { oidc_issuer: GITLAB, oidc_claims: { project_path: 'acme/*', ref: 'dev' } },
      gitlab,
      undefined,
      false,
    ],
    [
      'a claim the token lacks',
      { oidc_issuer: GITLAB, oidc_claims: { repository: '**' } },
      gitlab,
      undefined,
      false,
    ],
    [
      "another issuer's token, claims alike",
      { oidc_issuer: GITHUB, oidc_claims: { environment: 'production' } },
      gitlab,
      undefined,
      false,
    ],
    ['no issuer, the default one', { oidc_claims: { sub: 'repo:acme/*' } }, github, GITHUB, true],
    ['no issuer, another default', { oidc_claims: { environment: 'production' } }, gitlab, GITHUB, false],
    ['no issuer and no default', { oidc_claims: { environment: 'production' } }, gitlab, undefined, false],
    ['no claim globs at all', { oidc_issuer: AZURE, oidc_claims: {} }, azure, undefined, false],
    ['no claim globs, not even empty', { oidc_issuer: AZURE }, azure, undefined, false],
    [
      'an Azure project by its subject',
      { oidc_issuer: AZURE, oidc_claims: { sub: 'p://acme/App/*' } },
      azure,
      undefined,
      true,
    ],
  ])('%s: %p', (_name, identity, token, defaultIssuer, expected) => {
    expect(workloadMatches(identity, token, defaultIssuer)).toBe(expected);
  });
});

describe('matchWorkload', () => {
  const collectors: (WorkloadIdentity & { id: string })[] = [
    { id: 'a', oidc_issuer: GITLAB, oidc_claims: { namespace_path: 'acme' } },
    { id: 'b', oidc_issuer: GITLAB, oidc_claims: { project_path: 'acme/app' } },
    { id: 'c', oidc_issuer: GITHUB, oidc_claims: { repository_owner: 'acme' } },
  ];

  it('gives the one collector a token is, and refuses none or several', () => {
    expect(matchWorkload(collectors.slice(1), (c) => c, gitlab, undefined).id).toBe('b');
    expect(matchWorkload(collectors, (c) => c, github, undefined).id).toBe('c');
    expect(() => matchWorkload(collectors, (c) => c, gitlab, undefined)).toThrow(
      expect.objectContaining({ code: 'GW_UNAUTHENTICATED', message: 'The token matches 2 collectors' }),
    );
    expect(() => matchWorkload(collectors, (c) => c, azure, undefined)).toThrow(
      expect.objectContaining({ code: 'GW_UNAUTHENTICATED', message: 'The token matches no collector' }),
    );
  });
});

describe('workloadBinding', () => {
  it.each<[string, Record<string, unknown>, ReturnType<typeof workloadBinding>]>([
    [
      'GitHub Actions: repository and environment',
      github.claims,
      { repositories: ['acme/app'], environments: ['production'] },
    ],
    [
      'GitLab: project path and environment',
      gitlab.claims,
      { repositories: ['acme/app'], environments: ['production'] },
    ],
    [
      'GitLab: a project in a subgroup, by its canonical last two segments',
      { project_path: 'Acme/Platform/App' },
      { repositories: ['platform/app'], environments: [] },
    ],
    ['Azure: the project of a pipeline token', azure.claims, { repositories: ['app/*'], environments: [] }],
    [
      'Azure: the project of a service connection token',
      { sub: 'sc://acme/App/deploy-connection' },
      { repositories: ['app/*'], environments: [] },
    ],
    ['a subject that names no project', { sub: 'sc://acme' }, { repositories: [], environments: [] }],
    ['no claims that bind', { sub: 'system:serviceaccount:ci' }, { repositories: [], environments: [] }],
  ])('%s', (_name, claims, binding) => {
    expect(workloadBinding(claims)).toEqual(binding);
  });

  it('refuses a repository or project claim that would bind a glob', () => {
    for (const claims of [{ repository: 'acme/*' }, { sub: 'sc://acme/*/x' }])
      expect(() => workloadBinding(claims)).toThrow(expect.objectContaining({ code: 'GW_UNAUTHENTICATED' }));
  });
});
