/**
 * The leak test's tools: planting the labelled corpus's secrets (test/fixtures/redaction) in
 * every free-text string field of an envelope, and searching stored bytes for any of them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validatorFor, type Envelope } from '@aispm/contracts';
import { IDENTIFIER_POINTERS } from '@aispm/redaction';
import type { StoredRecord } from './platform';

interface Positive {
  kind: string;
  text: string;
  secret: string;
}

const CORPUS = path.resolve(__dirname, '../fixtures/redaction/positives.jsonl');

/** One positive of every kind in the corpus, in file order. */
function onePerKind(): Positive[] {
  const seen = new Set<string>();
  return readFileSync(CORPUS, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Positive)
    .filter((row) => !seen.has(row.kind) && seen.add(row.kind));
}

/** The secrets `plantEverywhere` plants. */
export function corpusSecrets(): string[] {
  return onePerKind().map((row) => row.secret);
}

/** JSON pointers of the string leaves of `value`. */
function stringPointers(value: unknown, pointer = ''): string[] {
  if (typeof value === 'string') return [pointer];
  if (Array.isArray(value)) return value.flatMap((item, i) => stringPointers(item, `${pointer}/${i}`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => stringPointers(item, `${pointer}/${key}`));
  }
  return [];
}

function setAt(root: unknown, pointer: string, text: string): void {
  const parts = pointer.split('/').slice(1);
  const last = parts.pop()!;
  const parent = parts.reduce<Record<string, unknown>>(
    (node, part) => node[part] as Record<string, unknown>,
    root as Record<string, unknown>,
  );
  parent[last] = text;
}

/**
 * `envelope` (for `tenantRef`) with the corpus's positives, each in its context, spread over
 * every string field the contract leaves free: a field the schema constrains (an enum, a date,
 * a constant) cannot hold one and keeps its value, and `tenant_ref` must name the tenant.
 */
export function plantEverywhere(
  envelope: Envelope,
  tenantRef: string,
): { envelope: Envelope; planted: Map<string, string[]> } {
  envelope.tenant.tenant_ref = tenantRef;
  envelope.integrity.signature_required = false;
  const validate = validatorFor<Envelope>('envelope.v1');
  const free = stringPointers(envelope).filter((pointer) => {
    // tenant_ref must name the tenant; the normalizer refuses an unknown collector version.
    if (pointer === '/tenant/tenant_ref' || pointer === '/source/collector_version') return false;
    const probe = structuredClone(envelope);
    setAt(probe, pointer, 'free text probe');
    return validate(probe);
  });
  const rows = onePerKind();
  // Identifier fields skip the generic high-entropy detector (random ids are not secrets); every
  // known secret format must still be caught in them.
  const texts = free.filter((pointer) => !IDENTIFIER_POINTERS.has(pointer));
  const formats = rows.filter((row) => row.kind !== 'high_entropy');
  const planted = new Map<string, string[]>(free.map((pointer) => [pointer, []]));
  // Every field gets at least one; every kind lands somewhere.
  for (let i = 0; i < Math.max(rows.length, texts.length); i += 1) {
    planted.get(texts[i % texts.length]!)!.push(rows[i % rows.length]!.text);
  }
  free
    .filter((pointer) => IDENTIFIER_POINTERS.has(pointer))
    .forEach((pointer, i) => planted.get(pointer)!.push(formats[i % formats.length]!.text));
  for (const [pointer, texts] of planted) setAt(envelope, pointer, texts.join(' | '));
  return { envelope, planted };
}

/** A stored record's key, headers and value as one searchable text. */
export function recordText(record: StoredRecord): string {
  const headers = Object.entries(record.headers).map(([name, value]) => `${name}=${String(value ?? '')}`);
  return [record.key?.toString('utf8') ?? '', ...headers, record.value.toString('utf8')].join('\n');
}

/** Whether `text` holds `secret` as is or JSON-escaped (a PEM key's newlines, quotes). */
export function leaked(text: string, secret: string): boolean {
  return text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1));
}
