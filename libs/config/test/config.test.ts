import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_KEYS, loadConfig } from '../src';

describe('loadConfig', () => {
  it('applies defaults and parses types', () => {
    const config = loadConfig(['KAFKA_BROKERS', 'GATEWAY_PORT'], {});
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.GATEWAY_PORT).toBe(8080);
  });

  it('names every bad variable at once', () => {
    expect(() =>
      loadConfig(['GATEWAY_PORT', 'KAFKA_BROKERS'], { GATEWAY_PORT: '99999', KAFKA_BROKERS: 'nope' }),
    ).toThrow(/GATEWAY_PORT is invalid.*KAFKA_BROKERS is invalid/);
  });

  it('requires keys without a default', () => {
    expect(() => loadConfig(['AISPM_OPS_PORT'], {})).toThrow(/AISPM_OPS_PORT is required/);
    expect(loadConfig(['AISPM_OPS_PORT'], {}, { AISPM_OPS_PORT: '9101' }).AISPM_OPS_PORT).toBe(9101);
  });

  it('rejects a non-http registry url', () => {
    expect(() => loadConfig(['SCHEMA_REGISTRY_URL'], { SCHEMA_REGISTRY_URL: 'ftp://x' })).toThrow(
      /SCHEMA_REGISTRY_URL/,
    );
  });

  it('reads GATEWAY_OIDC_ISSUERS as a list of issuers, and names the entry and field of a mistake', () => {
    const entry = {
      issuer: 'https://gitlab.com',
      audience: 'aispm',
      jwks_url: 'https://gitlab.com/oauth/discovery/keys',
    };
    const read = (raw: string) => loadConfig(['GATEWAY_OIDC_ISSUERS'], { GATEWAY_OIDC_ISSUERS: raw });
    expect(loadConfig(['GATEWAY_OIDC_ISSUERS'], {}).GATEWAY_OIDC_ISSUERS).toEqual([]);
    expect(read(JSON.stringify([entry])).GATEWAY_OIDC_ISSUERS).toEqual([entry]);
    for (const [raw, message] of [
      ['[{"issuer": ', /GATEWAY_OIDC_ISSUERS is invalid: expected a JSON list/],
      [JSON.stringify(entry), /expected a JSON list of \{issuer, audience, jwks_url\}/],
      [JSON.stringify([entry, 'x']), /entry 1 is not an object/],
      [JSON.stringify([{ ...entry, jwksUrl: 'x' }]), /entry 0 has unknown fields jwksUrl/],
      [JSON.stringify([{ ...entry, audience: '' }]), /entry 0 needs a non-empty audience/],
      [JSON.stringify([{ issuer: entry.issuer, audience: 'aispm' }]), /entry 0 needs a non-empty jwks_url/],
    ] as const) {
      expect(() => read(raw)).toThrow(message);
    }
  });

  it('is documented key by key in docs/configuration.md', () => {
    const docs = readFileSync(path.resolve(__dirname, '../../../docs/configuration.md'), 'utf8');
    const documented = [...docs.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(CONFIG_KEYS).sort());
  });
});
