import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalKms } from '../src';

describe('LocalKms', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kms-'));
  const file = path.join(dir, 'nested', 'master.key');

  it('creates a 0600 master key once and reuses it', async () => {
    const kms = LocalKms.fromFile(file, { create: true });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const sealed = await kms.seal(Buffer.from('s3cret'), 'collector:c1');
    const again = LocalKms.fromFile(file, { create: false });
    expect((await again.open(sealed, 'collector:c1')).toString()).toBe('s3cret');
  });

  it('publishes a new key whole, keeps one that exists, and leaves no staged file behind', () => {
    const own = path.join(mkdtempSync(path.join(os.tmpdir(), 'kms-')), 'master.key');
    LocalKms.fromFile(own, { create: true });
    const first = readFileSync(own, 'utf8');
    LocalKms.fromFile(own, { create: true });
    expect(readFileSync(own, 'utf8')).toBe(first);
    expect(readdirSync(path.dirname(own))).toEqual(['master.key']);
  });

  it('binds a sealed value to its context and detects tampering', async () => {
    const kms = LocalKms.fromFile(file, { create: true });
    const sealed = await kms.seal(Buffer.from('s3cret'), 'collector:c1');
    await expect(kms.open(sealed, 'collector:c2')).rejects.toThrow();
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    await expect(kms.open(parts.join('.'), 'collector:c1')).rejects.toThrow();
  });

  it('refuses a missing or malformed key file', () => {
    expect(() => LocalKms.fromFile(path.join(dir, 'absent.key'), { create: false })).toThrow(
      /does not exist/,
    );
    const bad = path.join(dir, 'bad.key');
    writeFileSync(bad, 'short');
    expect(() => LocalKms.fromFile(bad, { create: false })).toThrow(/32 base64 bytes/);
  });
});
