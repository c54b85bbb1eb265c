/**
 * A seeded generator of hostile requests (DESIGN §15): malformed and truncated JSON, wrong types,
 * missing fields, huge strings, deep nesting, oversized batches, decompression bombs,
 * `__proto__` keys, invalid UTF-8, bad timestamps, header injection, bad media types and
 * credentials, each applied at random places of a valid body. Every request it makes is invalid
 * by construction, so the only right answer is a 4xx problem document. The same seed gives the
 * same requests.
 */
import { gzipSync } from 'node:zlib';

/** A small, fast, seedable PRNG (mulberry32). */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

/** One endpoint under test: how to reach it with a valid request. */
export interface Endpoint {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** With `{param}` placeholders, filled with hostile values only (never a real id). */
  readonly path: string;
  /**
   * Which credential a request carries. Admin routes get the collector key, which is no admin:
   * their bodies are parsed and validated before the credential is looked at, and a mutation
   * that happened to leave a body valid can change nothing.
   */
  readonly auth: 'collector';
  /**
   * The body follows the protobuf JSON mapping (OTLP): every field is optional, a null is the
   * default and unknown members are ignored, so a missing field or an extra member is no error;
   * a value of the wrong shape is.
   */
  readonly protobufJson?: boolean;
  /** Takes gzip and zstd bodies. */
  readonly compressed?: boolean;
  /** A valid JSON body, or undefined for routes without one. */
  readonly body?: () => Record<string, unknown> | Record<string, unknown>[];
  /** Top-level fields a valid body must have. */
  readonly required?: readonly string[];
  /** Paths of timestamp fields, for bad timestamps. */
  readonly timestamps?: readonly string[][];
}

/** A request as bytes, ready to sign and send. */
export interface HostileRequest {
  readonly kind: string;
  /** The endpoint's path with its placeholders, for reports. */
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly auth: 'collector' | 'wrong';
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

const HOSTILE_PARAMS = [
  '%00',
  '..%2F..%2Fetc%2Fpasswd',
  'x'.repeat(3000),
  '%E0%80%80',
  '%3Cscript%3E',
  "'%20OR%201=1--",
  't-does-not-exist',
  '__proto__',
  '%FF%FE',
];

const BAD_TIMESTAMPS = [
  '2026-13-45T99:00:00Z',
  'yesterday',
  '',
  '1e400',
  '9999-99-99',
  '2026-02-30T00:00:00+25:00',
];

const FIVE_AND_A_HALF_MIB = 5.5 * 1024 * 1024;

let bomb: Buffer | undefined;
/** 64 MiB of zeros, gzipped to about 64 KiB: far over the decompressed cap. */
function decompressionBomb(): Buffer {
  bomb ??= gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  return bomb;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** Replaces the first `"key":` value in a JSON text with `replacement` text. */
function insertAtTop(text: string, member: string): string {
  return text.startsWith('[') ? `[{${member},${text.slice(2)}` : `{${member},${text.slice(1)}`;
}

function firstObject(body: Record<string, unknown> | Record<string, unknown>[]): Record<string, unknown> {
  return Array.isArray(body) ? body[0]! : body;
}

function wrongTypeOf(value: unknown, random: Random, protobufJson = false): unknown {
  // In the protobuf JSON mapping a null is the field's default, so it is no wrong type there.
  const candidates: unknown[] = [42, true, ...(protobufJson ? [] : [null]), ['x'], { x: 1 }, 'x'];
  const differs = candidates.filter(
    (c) => typeof c !== typeof value || Array.isArray(c) !== Array.isArray(value),
  );
  return random.pick(differs.filter((c) => !(c === null && value === null)));
}

/** Builds `count` hostile requests against `endpoints`, from `seed`. */
export function hostileRequests(
  endpoints: readonly Endpoint[],
  seed: number,
  count: number,
): HostileRequest[] {
  const random = new Random(seed);
  const out: HostileRequest[] = [];
  while (out.length < count) {
    const endpoint = random.pick(endpoints);
    const request = oneHostile(endpoint, random);
    if (request) out.push(request);
  }
  return out;
}

function oneHostile(endpoint: Endpoint, random: Random): HostileRequest | undefined {
  const path = endpoint.path.replace(/\{[a-z_]+\}/g, () => random.pick(HOSTILE_PARAMS));
  const base = {
    method: endpoint.method,
    route: endpoint.path,
    path,
    auth: endpoint.auth,
    headers: { 'content-type': 'application/json' },
  };
  const kinds = ['bad credentials', 'header injection'];
  if (endpoint.path.includes('{')) kinds.push('hostile path parameter');
  const valid = endpoint.body?.();
  if (valid) {
    kinds.push(
      'malformed JSON',
      'truncated JSON',
      'control character',
      'huge string',
      '__proto__ key',
      'invalid UTF-8',
      'bad media type',
    );
    kinds.push('wrong types', 'deep nesting');
    if (endpoint.required?.length && !endpoint.protobufJson) kinds.push('missing field');
    if (endpoint.timestamps?.length) kinds.push('bad timestamp');
    if (Array.isArray(valid)) kinds.push('oversized batch');
    if (endpoint.compressed) kinds.push('decompression bomb');
  }
  const kind = random.pick(kinds);
  const text = valid === undefined ? '' : JSON.stringify(valid);
  const bytes = Buffer.from(text);
  switch (kind) {
    case 'bad credentials':
      return { ...base, kind, auth: 'wrong', ...(valid === undefined ? {} : { body: bytes }) };
    case 'header injection': {
      const injected = random.pick([
        'Bearer x\r\nX-Aispm-Tenant: someone-else',
        'Bearer x\nContent-Length: 0',
        'Bearer \u0000x',
        `Bearer ${'x'.repeat(random.int(9000, 20000))}`,
      ]);
      return {
        ...base,
        kind,
        auth: 'wrong',
        headers: { ...base.headers, authorization: injected },
        ...(valid === undefined ? {} : { body: bytes }),
      };
    }
    case 'hostile path parameter':
      // Only a route with a parameter gets here; its value is hostile, the body valid.
      return { ...base, kind, path, ...(valid === undefined ? {} : { body: bytes }) };
    case 'malformed JSON':
      return { ...base, kind, body: Buffer.from(text + random.pick(['}', ',', 'x', ']]', '{"a":'])) };
    case 'truncated JSON':
      return { ...base, kind, body: bytes.subarray(0, random.int(1, bytes.length - 1)) };
    case 'control character': {
      const at = random.int(1, bytes.length - 1);
      const control = Buffer.from([random.pick([0x00, 0x01, 0x08, 0x0b, 0x0c, 0x1b, 0x1f])]);
      return { ...base, kind, body: Buffer.concat([bytes.subarray(0, at), control, bytes.subarray(at)]) };
    }
    case 'wrong types': {
      const copy = JSON.parse(text) as Record<string, unknown> | Record<string, unknown>[];
      const target = firstObject(copy);
      const key = random.pick(endpoint.required ?? Object.keys(target));
      target[key] = wrongTypeOf(target[key], random, endpoint.protobufJson);
      return { ...base, kind, body: json(copy) };
    }
    case 'missing field': {
      const copy = JSON.parse(text) as Record<string, unknown> | Record<string, unknown>[];
      delete firstObject(copy)[random.pick(endpoint.required!)];
      return { ...base, kind, body: json(copy) };
    }
    case 'huge string': {
      const copy = JSON.parse(text) as Record<string, unknown> | Record<string, unknown>[];
      firstObject(copy)[random.pick(endpoint.required ?? ['x'])] = 'A'.repeat(FIVE_AND_A_HALF_MIB);
      return { ...base, kind, body: json(copy) };
    }
    case 'deep nesting': {
      if (endpoint.protobufJson) {
        // Unknown members are ignored there, so the nesting goes where the mapping allows it,
        // in a log record's attribute value, and past what any stack holds.
        const depth = random.int(30_000, 90_000);
        const value = `${'{"kvlistValue":{"values":[{"key":"k","value":'.repeat(depth)}{}${'}]}}'.repeat(depth)}`;
        return {
          ...base,
          kind,
          body: Buffer.from(
            `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"a","value":${value}}]}]}]}]}`,
          ),
        };
      }
      const depth = random.int(200, 100_000);
      const nested = '['.repeat(depth) + ']'.repeat(depth);
      return { ...base, kind, body: Buffer.from(insertAtTop(text, `"nested":${nested}`)) };
    }
    case '__proto__ key':
      return {
        ...base,
        kind,
        body: Buffer.from(
          insertAtTop(
            text,
            random.pick(['"__proto__":{"admin":true}', '"constructor":{"prototype":{"admin":true}}']),
          ),
        ),
      };
    case 'invalid UTF-8': {
      const at = text.indexOf('":"') + 3;
      const bad = Buffer.from(
        random.pick([
          [0xff, 0xfe],
          [0xc0, 0xaf],
          [0xed, 0xa0, 0x80],
          [0xf8, 0x88, 0x80],
        ]),
      );
      return { ...base, kind, body: Buffer.concat([bytes.subarray(0, at), bad, bytes.subarray(at)]) };
    }
    case 'bad media type':
      return {
        ...base,
        kind,
        headers: {
          'content-type': random.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml']),
        },
        body: bytes,
      };
    case 'bad timestamp': {
      const copy = JSON.parse(text) as Record<string, unknown> | Record<string, unknown>[];
      const [outer, inner] = random.pick(endpoint.timestamps!);
      (firstObject(copy)[outer!] as Record<string, unknown>)[inner!] = random.pick(BAD_TIMESTAMPS);
      return { ...base, kind, body: json(copy) };
    }
    case 'oversized batch': {
      const item = firstObject(JSON.parse(text) as Record<string, unknown>[]);
      return { ...base, kind, body: json(Array.from({ length: random.int(501, 2000) }, () => item)) };
    }
    case 'decompression bomb':
      return {
        ...base,
        kind,
        headers: { ...base.headers, 'content-encoding': 'gzip' },
        body: decompressionBomb(),
      };
    default:
      return undefined;
  }
}
