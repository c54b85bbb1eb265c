import { generateSecret, hashSecret } from '../src';

describe('generateSecret', () => {
  it.each(['aispm_ck', 'aispm_ss', 'k'])('is %s_ then 43 base64url characters', (prefix) => {
    const secret = generateSecret(prefix);
    expect(secret.startsWith(`${prefix}_`)).toBe(true);
    expect(secret.slice(prefix.length + 1)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret.slice(prefix.length + 1), 'base64url')).toHaveLength(32);
  });

  it('never repeats', () => {
    const secrets = new Set(Array.from({ length: 1000 }, () => generateSecret('aispm_ck')));
    expect(secrets.size).toBe(1000);
  });

  it.each(['', 'Aispm', 'aispm_', '_ck', 'aispm__ck', 'aispm-ck', 'aispm ck'])(
    'refuses the prefix %j',
    (prefix) => {
      expect(() => generateSecret(prefix)).toThrow(RangeError);
    },
  );
});

describe('hashSecret', () => {
  it.each([
    // FIPS 180-2 test vectors; the README's `printf %s "$KEY" | sha256sum` prints the same.
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ])('hashes %j to its SHA-256 in hex', (secret, hex) => {
    expect(hashSecret(secret)).toBe(hex);
  });

  it('hashes a generated secret to 64 hex digits, the same each time', () => {
    const secret = generateSecret('aispm_ck');
    expect(hashSecret(secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashSecret(secret)).toBe(hashSecret(secret));
  });
});
