/**
 * Owns tamper evidence: a canonical serialization (sorted keys, integers only, no whitespace),
 * the hash that links each record to the one before it, and the check that walks a chain and
 * names its first broken link. Pure; the audit log uses it now, the event chain will too.
 */
import { createHash } from 'node:crypto';

/** The hash that starts every chain. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * One canonical text for a JSON value: object keys sorted, no whitespace. Only integers are
 * allowed as numbers, so no float formatting can make two serializations of one value differ.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`Only safe integers are canonical, got ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    // Built in one pass over the sorted keys (sort's default order is code-unit order, as `<`):
    // the gateway hashes every event with this, and the entries/filter/map/join chain cost twice
    // as much.
    const object = value as Record<string, unknown>;
    let text = '';
    for (const key of Object.keys(object).sort()) {
      const item = object[key];
      if (item !== undefined)
        text += `${text === '' ? '' : ','}${JSON.stringify(key)}:${canonicalJson(item)}`;
    }
    return `{${text}}`;
  }
  throw new TypeError(`Cannot serialize ${typeof value} canonically`);
}

/** The hash of a record chained after `prevHash`: SHA-256 over `prevHash` and its canonical form. */
export function chainHash(prevHash: string, record: unknown): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(record)).digest('hex');
}

/** One link as stored. */
export interface ChainLink {
  readonly position: string;
  readonly prevHash: string;
  readonly recordHash: string;
  readonly record: unknown;
}

/** The outcome of walking a chain. */
export type ChainVerdict =
  | {
      readonly ok: true;
      readonly from: string | undefined;
      readonly to: string | undefined;
      readonly links: number;
    }
  | { readonly ok: false; readonly position: string; readonly reason: string };

/** Walks `links` in order from `startHash` and names the first link that does not hold. */
export function verifyChain(links: readonly ChainLink[], startHash = GENESIS_HASH): ChainVerdict {
  let expectedPrev = startHash;
  for (const link of links) {
    if (link.prevHash !== expectedPrev) {
      return {
        ok: false,
        position: link.position,
        reason: `prev_hash ${link.prevHash} should be ${expectedPrev}`,
      };
    }
    const recomputed = chainHash(link.prevHash, link.record);
    if (recomputed !== link.recordHash) {
      return {
        ok: false,
        position: link.position,
        reason: `record_hash does not match the record (content changed)`,
      };
    }
    expectedPrev = link.recordHash;
  }
  return { ok: true, from: links[0]?.position, to: links[links.length - 1]?.position, links: links.length };
}
