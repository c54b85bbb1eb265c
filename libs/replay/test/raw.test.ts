import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StageCodec } from '@aispm/kafka';
import { LocalKms, RawDecryptor, RawEncryptor } from '@aispm/kms';
import { decodeRawValue } from '../src';

// Parses the wire format without a registry: this tests the decryption in front of the codec.
const codec = {
  parse: async (bytes: Buffer) => ({ value: JSON.parse(bytes.toString('utf8', 5)), json: '' }),
} as unknown as StageCodec;

describe('decodeRawValue', () => {
  const kms = LocalKms.fromFile(path.join(mkdtempSync(path.join(os.tmpdir(), 'replay-kms-')), 'master.key'), {
    create: true,
  });
  const wire = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), Buffer.from('{"event":{"event_id":"e1"}}')]);

  it('decrypts a raw value as the gateway wrote it, and refuses one whose tenant key is destroyed', async () => {
    const stored = await new RawEncryptor(kms).encrypt('acme', wire);
    const decryptor = new RawDecryptor(kms);
    const { value } = await decodeRawValue(codec, decryptor, 'acme', stored, false);
    expect(value).toEqual({ event: { event_id: 'e1' } });
    await expect(decodeRawValue(codec, decryptor, 'acme', wire, false)).rejects.toMatchObject({
      code: 'RAW_NOT_ENCRYPTED',
    });
    await kms.destroyTenantKey('acme');
    // A replay started after the tenant's deletion.
    await expect(decodeRawValue(codec, new RawDecryptor(kms), 'acme', stored, false)).rejects.toMatchObject({
      code: 'KMS_KEY_DESTROYED',
    });
  });
});
