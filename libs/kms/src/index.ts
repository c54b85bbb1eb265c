/**
 * Owns the KMS interface: sealing secrets (collector signing secrets, tenant token keys) under a
 * master key that never leaves the provider, and per-tenant key-encryption keys (KEKs) that wrap
 * the data keys of the raw stage. The local provider keeps its master key in a 0600 file and each
 * tenant's KEK in a 0600 file of its key store beside it; a cloud KMS plugs in behind the same
 * interface. Sealed values are bound to a context string (AES-GCM additional data), so a value
 * sealed for one collector cannot be opened as another's.
 *
 * Crypto-shredding: `destroyTenantKey` deletes the tenant's KEK from the key store. Wrapped data
 * keys live only inside the raw messages they encrypt (never on the compacted control topic), so
 * once the KEK is gone no copy of the raw log, replica or backup, can be decrypted.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { assertTenantSlug } from '@aispm/contracts';
import { AppError } from '@aispm/errors';

/** A fresh data key: the plaintext to encrypt with, and the same key wrapped under the tenant's KEK. */
export interface DataKey {
  readonly plaintext: Buffer;
  readonly wrapped: string;
}

/** Seals and opens small secrets; issues and unwraps per-tenant data keys. */
export interface Kms {
  seal(plaintext: Buffer, context: string): Promise<string>;
  open(sealed: string, context: string): Promise<Buffer>;
  /** A new 32-byte data key for `tenant`, wrapped under its KEK (created on first use). */
  generateDataKey(tenant: string): Promise<DataKey>;
  /**
   * The data key `wrapped` holds. Throws `KMS_KEY_DESTROYED` when the tenant's KEK is gone (or
   * was replaced since), `KMS_UNWRAP_FAILED` when `wrapped` is not a key of this tenant.
   */
  unwrapDataKey(tenant: string, wrapped: string): Promise<Buffer>;
  /** Destroys the tenant's KEK for good: every data key it wrapped becomes unreadable. */
  destroyTenantKey(tenant: string): Promise<void>;
  /**
   * A 32-byte key for one `purpose` (e.g. signing console sessions), the same in every process of
   * the platform and never stored: instances that share the KMS agree on it without a new secret.
   */
  deriveKey(purpose: string): Promise<Buffer>;
}

const VERSION = 'v1';

function aesGcmSeal(key: Buffer, plaintext: Buffer, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

function aesGcmOpen(key: Buffer, sealed: string, context: string): Buffer {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || ciphertext === undefined)
    throw new Error('Sealed value is malformed');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
}

/**
 * Creates `file` with `content` (mode 0600) unless it exists; if another process creates it
 * first, theirs stays. TRICKY: the content is written to a file of this process's own and then
 * linked into place, so a process that starts at the same moment reads either no file or the
 * whole key, never the empty file an exclusive create shows before its write.
 */
function createOnce(file: string, content: string): void {
  const staged = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(staged, content, { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(staged, 0o600);
    linkSync(staged, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(staged);
  }
}

/** AES-256-GCM under a 32-byte master key read from a file. */
export class LocalKms implements Kms {
  private constructor(
    private readonly masterKey: Buffer,
    private readonly keyStore: string,
  ) {}

  /**
   * The KMS of the master key in `file`. With `create`, a missing file is created with a fresh
   * random key and mode 0600 (first start of a local platform).
   */
  static fromFile(file: string, options: { create: boolean }): LocalKms {
    if (!existsSync(file)) {
      if (!options.create) throw new Error(`KMS master key file ${file} does not exist`);
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      createOnce(file, randomBytes(32).toString('base64'));
    }
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`KMS master key file ${file} does not hold 32 base64 bytes`);
    return new LocalKms(key, `${file}.tenants`);
  }

  async seal(plaintext: Buffer, context: string): Promise<string> {
    return aesGcmSeal(this.masterKey, plaintext, context);
  }

  async open(sealed: string, context: string): Promise<Buffer> {
    return aesGcmOpen(this.masterKey, sealed, context);
  }

  async generateDataKey(tenant: string): Promise<DataKey> {
    const kek = this.tenantKek(tenant, true)!;
    const plaintext = randomBytes(32);
    return { plaintext, wrapped: `${kek.id}~${aesGcmSeal(kek.key, plaintext, `dek:${tenant}`)}` };
  }

  async unwrapDataKey(tenant: string, wrapped: string): Promise<Buffer> {
    const at = wrapped.indexOf('~');
    const kek = this.tenantKek(tenant, false);
    // A KEK with another id is a later tenant of the same slug: the key that wrapped this is gone.
    if (!kek || kek.id !== wrapped.slice(0, at)) {
      throw new AppError(
        'KMS_KEY_DESTROYED',
        `The key of tenant ${tenant} that wrapped this data key is destroyed`,
      );
    }
    try {
      return aesGcmOpen(kek.key, wrapped.slice(at + 1), `dek:${tenant}`);
    } catch (cause) {
      throw new AppError('KMS_UNWRAP_FAILED', `Data key is not a key of tenant ${tenant}`, { cause });
    }
  }

  async deriveKey(purpose: string): Promise<Buffer> {
    return createHmac('sha256', this.masterKey).update(`aispm derived key: ${purpose}`).digest();
  }

  async destroyTenantKey(tenant: string): Promise<void> {
    const file = this.kekFile(tenant);
    if (!existsSync(file)) return;
    // Overwrite before unlinking, so the bytes do not linger in the file's blocks on simple file
    // systems; copy-on-write and journaling file systems give no such promise (docs/redaction.md).
    writeFileSync(file, randomBytes(256));
    rmSync(file, { force: true });
  }

  private kekFile(tenant: string): string {
    return path.join(this.keyStore, `${assertTenantSlug(tenant)}.kek`);
  }

  /**
   * The tenant's KEK, read from the key store on every call (no cache), so a key destroyed by
   * one process is gone for every process at once. Stored sealed under the master key.
   */
  private tenantKek(tenant: string, create: boolean): { id: string; key: Buffer } | undefined {
    const file = this.kekFile(tenant);
    if (!existsSync(file)) {
      if (!create) return undefined;
      mkdirSync(this.keyStore, { recursive: true, mode: 0o700 });
      const id = randomBytes(8).toString('hex');
      const sealed = aesGcmSeal(this.masterKey, randomBytes(32), `kek:${tenant}:${id}`);
      createOnce(file, `${id}~${sealed}`);
    }
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const at = content.indexOf('~');
    const id = content.slice(0, at);
    return { id, key: aesGcmOpen(this.masterKey, content.slice(at + 1), `kek:${tenant}:${id}`) };
  }
}

export { decryptRawValue, isEncryptedRaw, RawDecryptor, RawEncryptor } from './raw';
