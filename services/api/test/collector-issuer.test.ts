import { collectorIssuer } from '../src/plugins/admin';

const GITHUB = 'https://token.actions.githubusercontent.com';
const GITLAB = 'https://gitlab.example.com';
const AZURE = 'https://vstoken.dev.azure.com/61c028b9-510c-4f84-bfb2-f48d33b6b542';

describe('the issuer of a new collector', () => {
  const several = { issuers: [GITHUB, GITLAB], defaultIssuer: undefined };

  it('is the one asked for, else the only or default issuer', () => {
    expect(collectorIssuer(GITLAB, true, several)).toBe(GITLAB);
    expect(collectorIssuer(undefined, true, { issuers: [GITLAB], defaultIssuer: GITLAB })).toBe(GITLAB);
    expect(collectorIssuer(undefined, true, { ...several, defaultIssuer: GITHUB })).toBe(GITHUB);
    expect(collectorIssuer(undefined, false, several)).toBeUndefined();
  });

  it('is stored as given by a gateway without OIDC, which cannot check it', () => {
    expect(collectorIssuer(AZURE, true, undefined)).toBe(AZURE);
    expect(collectorIssuer(undefined, true, undefined)).toBeUndefined();
  });

  it.each<[string, () => unknown, RegExp]>([
    ['an issuer without claims', () => collectorIssuer(GITLAB, false, several), /give the claims too/],
    [
      'an issuer the gateways do not trust',
      () => collectorIssuer(AZURE, true, several),
      /do not trust the issuer/,
    ],
    ['no issuer among several', () => collectorIssuer(undefined, true, several), /trust several issuers/],
  ])('refuses (400) %s', (_name, choose, message) => {
    expect(choose).toThrow(message);
    expect(choose).toThrow(expect.objectContaining({ code: 'GW_BAD_REQUEST', status: 400 }));
  });
});
