/**
 * Owns API key secrets: how a collector key (or a signing secret) is generated, and the one hash
 * of it the platform stores. A key is shown once, at creation; only its hash is kept.
 */
import { createHash, randomBytes } from 'node:crypto';

const PREFIX_PATTERN = /^[a-z0-9]+(_[a-z0-9]+)*$/;

/**
 * A new secret, `<prefix>_<43 base64url characters>` (32 random bytes), e.g.
 * `aispm_ck_…` for a collector key. The prefix makes a leaked key recognizable to secret
 * scanners and to people; it is lower-case words joined by `_`.
 */
export function generateSecret(prefix: string): string {
  if (!PREFIX_PATTERN.test(prefix))
    throw new RangeError(`secret prefix must be lower-case words joined by "_", got "${prefix}"`);
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/**
 * The stored form of a secret: hex SHA-256 of its UTF-8 bytes (what `sha256sum` prints).
 *
 * A plain, unsalted SHA-256 is the right hash here, not bcrypt or argon2: the secrets are 256
 * random bits, so there is no dictionary to guess from and no slow hash would add strength. A
 * slow hash only defends low-entropy passwords, and would cost CPU on every request. Being
 * deterministic, the hash also serves as the lookup key for the presented secret.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
