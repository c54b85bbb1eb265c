/**
 * Owns the encryption of raw-stage values (DESIGN §7): envelope encryption with AES-256-GCM
 * under a per-tenant data key that the KMS wraps with the tenant's KEK. The gateway encrypts
 * (`RawEncryptor`); the redactor, and any replay of the raw stage, decrypts with the one function
 * `decryptRawValue`.
 *
 * Wire format of an encrypted value (everything after the magic is binary):
 *   `AEV1` | u16 length of the wrapped key | wrapped key (UTF-8) | 12-byte IV | 16-byte tag | ciphertext
 * The additional data is `raw:<tenant>`, so a value copied into another tenant's topic fails.
 * Each value carries its wrapped data key, which is why destroying the KEK shreds the log.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '@aispm/errors';
import type { Kms } from './index';

const MAGIC = Buffer.from('AEV1', 'ascii');
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** How long a data key is used to encrypt, or kept unwrapped in memory to decrypt. */
const DEFAULT_KEY_TTL_MS = 5 * 60 * 1000;
/** Random 96-bit IVs stay far from collisions under one key well beyond this many uses. */
const MAX_USES_PER_KEY = 1_000_000;

function aad(tenant: string): Buffer {
  return Buffer.from(`raw:${tenant}`, 'utf8');
}

/** True when `value` is in the encrypted raw format (it may still fail to decrypt). */
export function isEncryptedRaw(value: Buffer): boolean {
  return value.length > MAGIC.length && value.subarray(0, MAGIC.length).equals(MAGIC);
}

/** Random bytes fetched at once for this many IVs: one `randomBytes` call per event cost the gateway 2.4% of its CPU. */
const IVS_PER_BLOCK = 1024;
let ivBlock = Buffer.alloc(0);
let ivOffset = 0;

/** A fresh random IV. Each block is a new buffer, never refilled, so an IV handed out never changes. */
function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivBlock.length) {
    ivBlock = randomBytes(IV_BYTES * IVS_PER_BLOCK);
    ivOffset = 0;
  }
  ivOffset += IV_BYTES;
  return ivBlock.subarray(ivOffset - IV_BYTES, ivOffset);
}

/** What every value encrypted under one data key starts with: the magic and the wrapped key. */
function valueHeader(wrapped: string): Buffer {
  const wrappedBytes = Buffer.from(wrapped, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(wrappedBytes.length);
  return Buffer.concat([MAGIC, length, wrappedBytes]);
}

/** Encrypts `plaintext` for `tenant` under a data key, after the {@link valueHeader} of its wrapped form. */
function encryptRawValue(tenant: string, plaintext: Buffer, key: Buffer, header: Buffer): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(tenant));
  const ciphertext = cipher.update(plaintext);
  const last = cipher.final();
  return Buffer.concat([header, iv, cipher.getAuthTag(), ciphertext, last]);
}

/**
 * The plaintext of an encrypted raw value of `tenant`: the one decryption of the raw stage, for
 * the redactor and for replay. `unwrap` turns the wrapped data key into the key (the KMS, or a
 * cache in front of it). Throws `RAW_NOT_ENCRYPTED` for a value in another format,
 * `RAW_DECRYPT_FAILED` when it is truncated or fails authentication, and the KMS's
 * `KMS_KEY_DESTROYED` once the tenant's key is shredded.
 */
export async function decryptRawValue(
  tenant: string,
  value: Buffer,
  unwrap: (wrapped: string) => Promise<Buffer>,
): Promise<Buffer> {
  if (!isEncryptedRaw(value)) {
    throw new AppError('RAW_NOT_ENCRYPTED', `Raw value of tenant ${tenant} is not encrypted; refusing it`);
  }
  const length = value.length >= MAGIC.length + 2 ? value.readUInt16BE(MAGIC.length) : -1;
  const ivAt = MAGIC.length + 2 + length;
  if (length <= 0 || value.length < ivAt + IV_BYTES + TAG_BYTES) {
    throw new AppError('RAW_DECRYPT_FAILED', `Raw value of tenant ${tenant} is truncated`);
  }
  const key = await unwrap(value.subarray(MAGIC.length + 2, ivAt).toString('utf8'));
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, value.subarray(ivAt, ivAt + IV_BYTES));
    decipher.setAAD(aad(tenant));
    decipher.setAuthTag(value.subarray(ivAt + IV_BYTES, ivAt + IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(value.subarray(ivAt + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch (cause) {
    throw new AppError('RAW_DECRYPT_FAILED', `Raw value of tenant ${tenant} fails authentication`, { cause });
  }
}

interface CachedKey {
  readonly key: Buffer;
  readonly header: Buffer;
  readonly expiresMs: number;
  uses: number;
}

/**
 * The gateway's side: encrypts raw values, reusing one data key per tenant for a few minutes
 * (a KMS call per event would cost a round trip to a cloud KMS each time).
 */
export class RawEncryptor {
  private readonly keys = new Map<string, Promise<CachedKey>>();

  constructor(
    private readonly kms: Kms,
    private readonly ttlMs = DEFAULT_KEY_TTL_MS,
  ) {}

  async encrypt(tenant: string, plaintext: Buffer): Promise<Buffer> {
    const cached = await this.dataKey(tenant);
    cached.uses += 1;
    return encryptRawValue(tenant, plaintext, cached.key, cached.header);
  }

  /** Drops the tenant's data key, e.g. when the tenant is deleted. */
  forget(tenant: string): void {
    this.keys.delete(tenant);
  }

  private async dataKey(tenant: string): Promise<CachedKey> {
    const pending = this.keys.get(tenant);
    if (pending) {
      const cached = await pending.catch(() => undefined);
      if (cached && cached.expiresMs > Date.now() && cached.uses < MAX_USES_PER_KEY) return cached;
      if (this.keys.get(tenant) !== pending) return this.dataKey(tenant);
    }
    const next = this.kms.generateDataKey(tenant).then(({ plaintext, wrapped }) => ({
      key: plaintext,
      header: valueHeader(wrapped),
      expiresMs: Date.now() + this.ttlMs,
      uses: 0,
    }));
    this.keys.set(tenant, next);
    next.catch(() => this.keys.get(tenant) === next && this.keys.delete(tenant));
    return next;
  }
}

/**
 * The redactor's side: `decryptRawValue` with the unwrapped data keys cached for a few minutes.
 * `forget` drops a tenant's keys at once when it is deleted, so a shredded tenant's log stops
 * being readable here too, not only in processes started later.
 */
export class RawDecryptor {
  private readonly keys = new Map<string, { key: Buffer; expiresMs: number }>();

  constructor(
    private readonly kms: Kms,
    private readonly ttlMs = DEFAULT_KEY_TTL_MS,
  ) {}

  decrypt(tenant: string, value: Buffer): Promise<Buffer> {
    return decryptRawValue(tenant, value, async (wrapped) => {
      const cacheKey = `${tenant}\n${wrapped}`;
      const cached = this.keys.get(cacheKey);
      if (cached && cached.expiresMs > Date.now()) return cached.key;
      const key = await this.kms.unwrapDataKey(tenant, wrapped);
      this.keys.set(cacheKey, { key, expiresMs: Date.now() + this.ttlMs });
      return key;
    });
  }

  forget(tenant: string): void {
    for (const cacheKey of this.keys.keys())
      if (cacheKey.startsWith(`${tenant}\n`)) this.keys.delete(cacheKey);
  }
}
