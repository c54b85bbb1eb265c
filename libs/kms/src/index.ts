/**
 * Owns the KMS interface: sealing secrets (collector signing secrets, later per-tenant data keys)
 * under a master key that never leaves the provider. The local provider keeps its master key in
 * a 0600 file; a cloud KMS plugs in behind the same interface. Sealed values are bound to a
 * context string (AES-GCM additional data), so a value sealed for one collector cannot be opened
 * as another's.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Seals and opens small secrets. */
export interface Kms {
  seal(plaintext: Buffer, context: string): Promise<string>;
  open(sealed: string, context: string): Promise<Buffer>;
}

const VERSION = 'v1';

/** AES-256-GCM under a 32-byte master key read from a file. */
export class LocalKms implements Kms {
  private constructor(private readonly masterKey: Buffer) {}

  /**
   * The KMS of the master key in `file`. With `create`, a missing file is created with a fresh
   * random key and mode 0600 (first start of a local platform).
   */
  static fromFile(file: string, options: { create: boolean }): LocalKms {
    if (!existsSync(file)) {
      if (!options.create) throw new Error(`KMS master key file ${file} does not exist`);
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      try {
        writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
        chmodSync(file, 0o600);
      } catch (error) {
        // Another process created it first; use theirs.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`KMS master key file ${file} does not hold 32 base64 bytes`);
    return new LocalKms(key);
  }

  async seal(plaintext: Buffer, context: string): Promise<string> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.masterKey, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return [VERSION, iv, cipher.getAuthTag(), ciphertext]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  async open(sealed: string, context: string): Promise<Buffer> {
    const [version, iv, tag, ciphertext] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || ciphertext === undefined)
      throw new Error('Sealed value is malformed');
    const decipher = createDecipheriv('aes-256-gcm', this.masterKey, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  }
}
