import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decryptRawValue, isEncryptedRaw, LocalKms, RawDecryptor, RawEncryptor } from '../src';

function freshKms(): { kms: LocalKms; file: string } {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'kms-raw-')), 'master.key');
  return { kms: LocalKms.fromFile(file, { create: true }), file };
}

const plaintext = Buffer.from('{"event":{"target_summary":"password=hunter2"}}');

describe('raw-stage envelope encryption', () => {
  it('encrypts to ciphertext that decrypts back, with a 0600 key per tenant', async () => {
    const { kms, file } = freshKms();
    const sealed = await new RawEncryptor(kms).encrypt('acme', plaintext);
    expect(isEncryptedRaw(sealed)).toBe(true);
    expect(sealed.includes(Buffer.from('hunter2'))).toBe(false);
    expect(await new RawDecryptor(kms).decrypt('acme', sealed)).toEqual(plaintext);
    const store = `${file}.tenants`;
    expect(readdirSync(store)).toEqual(['acme.kek']);
    expect(statSync(path.join(store, 'acme.kek')).mode & 0o777).toBe(0o600);
  });

  it('reuses one data key for a while instead of asking the KMS per value', async () => {
    const { kms } = freshKms();
    const spy = jest.spyOn(kms, 'generateDataKey');
    const encryptor = new RawEncryptor(kms);
    await Promise.all([1, 2, 3].map(() => encryptor.encrypt('acme', plaintext)));
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('gives every value an IV of its own, across the blocks of random bytes IVs come from', async () => {
    const { kms } = freshKms();
    const encryptor = new RawEncryptor(kms);
    const decryptor = new RawDecryptor(kms);
    const sealed = [];
    for (let i = 0; i < 2_100; i += 1) sealed.push(await encryptor.encrypt('acme', plaintext));
    const ivAt = sealed[0]!.readUInt16BE(4) + 6;
    const ivs = new Set(sealed.map((value) => value.subarray(ivAt, ivAt + 12).toString('hex')));
    expect(ivs.size).toBe(sealed.length);
    for (const value of [sealed[0]!, sealed[1_500]!])
      expect(await decryptor.decrypt('acme', value)).toEqual(plaintext);
  });

  it('refuses plaintext, tampering, truncation and another tenant', async () => {
    const { kms } = freshKms();
    const sealed = await new RawEncryptor(kms).encrypt('acme', plaintext);
    const unwrap = (tenant: string) => (wrapped: string) => kms.unwrapDataKey(tenant, wrapped);
    await expect(decryptRawValue('acme', plaintext, unwrap('acme'))).rejects.toMatchObject({
      code: 'RAW_NOT_ENCRYPTED',
    });
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] ^= 1;
    await expect(decryptRawValue('acme', tampered, unwrap('acme'))).rejects.toMatchObject({
      code: 'RAW_DECRYPT_FAILED',
    });
    await expect(decryptRawValue('acme', sealed.subarray(0, 8), unwrap('acme'))).rejects.toMatchObject({
      code: 'RAW_DECRYPT_FAILED',
    });
    // Moved into another tenant's topic: that tenant's KEK is not the one that wrapped the key.
    await new RawEncryptor(kms).encrypt('other', plaintext);
    await expect(decryptRawValue('other', sealed, unwrap('other'))).rejects.toMatchObject({
      code: 'KMS_KEY_DESTROYED',
    });
  });

  it('crypto-shreds: once the tenant key is destroyed nothing decrypts, even in a decryptor that had the key', async () => {
    const { kms, file } = freshKms();
    const sealed = await new RawEncryptor(kms).encrypt('acme', plaintext);
    const decryptor = new RawDecryptor(kms);
    expect(await decryptor.decrypt('acme', sealed)).toEqual(plaintext);
    await kms.destroyTenantKey('acme');
    decryptor.forget('acme');
    await expect(decryptor.decrypt('acme', sealed)).rejects.toMatchObject({ code: 'KMS_KEY_DESTROYED' });
    // A process started later, with the same master key, cannot either.
    const later = LocalKms.fromFile(file, { create: false });
    await expect(new RawDecryptor(later).decrypt('acme', sealed)).rejects.toMatchObject({
      code: 'KMS_KEY_DESTROYED',
    });
    // A new tenant of the same slug gets a new key, which does not open the old log.
    const reborn = await new RawEncryptor(kms).encrypt('acme', plaintext);
    expect(await new RawDecryptor(kms).decrypt('acme', reborn)).toEqual(plaintext);
    await expect(new RawDecryptor(kms).decrypt('acme', sealed)).rejects.toMatchObject({
      code: 'KMS_KEY_DESTROYED',
    });
  });

  it('refuses a tenant name that is not a slug (no paths into the key store)', async () => {
    const { kms } = freshKms();
    await expect(kms.generateDataKey('../etc')).rejects.toMatchObject({ code: 'TENANT_INVALID_SLUG' });
  });
});
