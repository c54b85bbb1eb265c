/**
 * Owns the Confluent wire format (magic byte, schema id, JSON) of every stage message. Schemas
 * from `schemas/` are registered once at start-up; encoding validates against them, and decoding
 * resolves any registered id, so messages written under an older schema version still decode.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { JsonOptions } from '@kafkajs/confluent-schema-registry/dist/@types';
import type { SchemaRegistryAPIClientArgs } from '@kafkajs/confluent-schema-registry/dist/api';
import { createAjv, loadSchema, schemaSubject, type SchemaName } from '@aispm/contracts';
import { AppError } from '@aispm/errors';

type JsonAjv = NonNullable<JsonOptions['ajvInstance']>;

/**
 * The Ajv the registry library compiles fetched schemas with. TRICKY: every version of one of
 * our schemas carries the same `$id`, and one shared Ajv refuses a second schema with an `$id` it
 * already holds, so reading a topic written under two versions would fail. Each schema id is
 * therefore compiled in an Ajv of its own (the library caches the result per id). The cast is
 * needed because the library bundles its own copy of ajv's types.
 */
const perSchemaAjv = {
  addSchema: () => perSchemaAjv,
  compile: (schema: object) => createAjv().compile(schema),
} as unknown as JsonAjv;

/** How long one request to the registry may take before it counts as failed (and is retried). */
const REGISTRY_TIMEOUT_MS = 10_000;

type RegistryMiddleware = NonNullable<SchemaRegistryAPIClientArgs['middlewares']>[number];

/**
 * The registry library's HTTP client (mappersmith) sends without a timeout: a registry that took
 * a connection and never answered would hold the first encode or decode of a schema, and every
 * later one waiting on the same fetch, for good. This gives each of its requests a deadline.
 */
function registryTimeout(timeoutMs: number): RegistryMiddleware {
  return () => ({
    async prepareRequest(next) {
      const request = await next();
      return request.timeout() ? request : request.enhance({ timeout: timeoutMs });
    },
  });
}

/** The JSON value after a wire-format header, and its text. */
function parseJson<T>(bytes: Buffer): { value: T; json: string } {
  const json = bytes.toString('utf8', 5);
  return { value: JSON.parse(json) as T, json };
}

/** A schema `$id` without its version: `…/normalized-event.v2.schema.json` → `…/normalized-event`. */
function schemaFamily(uri: string | undefined): string | undefined {
  return uri?.replace(/\.v\d+\.schema\.json$/, '');
}

/** Encodes and decodes stage messages through the schema registry. */
export class StageCodec {
  private readonly registry: SchemaRegistry;
  private readonly ids = new Map<SchemaName, number>();
  private readonly loading = new Map<number, Promise<unknown>>();
  private readonly ready = new Set<number>();
  /** The `$id` inside each registry id's schema: which of our schemas (any version) it is. */
  private readonly schemaUris = new Map<number, Promise<string | undefined>>();

  /** `timeoutMs` bounds each request to the registry. */
  constructor(
    private readonly registryUrl: string,
    private readonly timeoutMs = REGISTRY_TIMEOUT_MS,
  ) {
    this.registry = new SchemaRegistry(
      {
        host: registryUrl,
        retry: { retries: 3, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 2 },
        middlewares: [registryTimeout(timeoutMs)],
      },
      // The library compiles JSON Schemas with a default (draft-07) Ajv; ours are 2020-12.
      { [SchemaType.JSON]: { ajvInstance: perSchemaAjv } },
    );
  }

  /**
   * Registers the given schemas. Idempotent, and safe when several services start at once:
   * registering an existing schema returns its id. (The library's own `register` races on
   * Apicurio when creating a compatibility rule, so registration goes straight to the Confluent
   * API.)
   *
   * TRICKY: each subject's compatibility is set to NONE. Apicurio 3.3's JSON Schema checker
   * cannot read draft 2020-12 ("could not determine version") and, for draft-07, calls adding an
   * optional property incompatible. Evolution is governed instead by versioned schema files
   * (`*.v1`, `*.v2`: a breaking change is a new subject) and by the rule that a new field stays
   * optional (docs/architecture.md).
   */
  async register(names: readonly SchemaName[]): Promise<void> {
    for (const name of names) {
      const subject = encodeURIComponent(schemaSubject(name));
      await this.relaxCompatibility(subject);
      const { id } = await this.call<{ id: number }>('POST', `/subjects/${subject}/versions`, {
        schemaType: 'JSON',
        schema: JSON.stringify(loadSchema(name)),
      });
      await this.relaxCompatibility(subject);
      this.ids.set(name, id);
    }
  }

  private async relaxCompatibility(subject: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const config = await this.call<{ compatibilityLevel?: string }>('GET', `/config/${subject}`).catch(
        (error: unknown) =>
          String((error as Error).message).includes(' 404 ') ? { compatibilityLevel: 'NONE' } : {},
      );
      if (config.compatibilityLevel === 'NONE') return;
      try {
        await this.call('PUT', `/config/${subject}`, { compatibility: 'NONE' });
        return;
      } catch {
        // Another instance created the rule between our read and write; read it again.
      }
    }
    throw new AppError('KAFKA_SCHEMA_REGISTRY_UNAVAILABLE', `Could not set compatibility of ${subject}`);
  }

  private async call<T>(method: string, path: string, body?: object): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.registryUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      throw new AppError(
        'KAFKA_SCHEMA_REGISTRY_UNAVAILABLE',
        `Schema registry unreachable: ${String(cause)}`,
        { cause },
      );
    }
    const text = await response.text();
    if (!response.ok) {
      throw new AppError(
        'KAFKA_SCHEMA_REGISTRY_UNAVAILABLE',
        `Schema registry ${method} ${path}: ${response.status} ${text}`,
      );
    }
    return JSON.parse(text) as T;
  }

  /** The registry id of a registered schema. */
  schemaId(name: SchemaName): number {
    const id = this.ids.get(name);
    if (id === undefined) throw new Error(`Schema ${name} was not registered at start-up`);
    return id;
  }

  /** The value in wire format; throws if it does not match its schema. */
  async encode(name: SchemaName, value: object): Promise<Buffer> {
    const id = this.schemaId(name);
    await this.loaded(id).catch((cause: unknown) => {
      throw new AppError(
        'KAFKA_SCHEMA_REGISTRY_UNAVAILABLE',
        `Schema ${name} could not be loaded: ${String(cause)}`,
        {
          cause,
        },
      );
    });
    return this.registry.encode(id, value);
  }

  /**
   * The bytes {@link encode} writes (wire header, then `JSON.stringify`), without validating
   * again: only for a value its caller has just validated against the same schema file, as the
   * gateway's admission does with every envelope. Validating twice cost the gateway an Ajv pass
   * per event (docs/performance.md).
   */
  encodeValidated(name: SchemaName, value: object): Buffer {
    const json = JSON.stringify(value);
    const bytes = Buffer.allocUnsafe(5 + Buffer.byteLength(json));
    bytes[0] = 0;
    bytes.writeUInt32BE(this.schemaId(name), 1);
    bytes.write(json, 5, 'utf8');
    return bytes;
  }

  private schemaUri(id: number): Promise<string | undefined> {
    let uri = this.schemaUris.get(id);
    if (!uri) {
      uri = this.call<{ schema: string }>('GET', `/schemas/ids/${id}`).then(
        ({ schema }) => (JSON.parse(schema) as { $id?: string }).$id,
      );
      uri.catch(() => this.schemaUris.delete(id));
      this.schemaUris.set(id, uri);
    }
    return uri;
  }

  /**
   * Fetches and compiles schema `id` once. TRICKY: the library compiles a schema into the shared
   * Ajv on first use, and two concurrent first uses both try to add it ("already exists"), so
   * first uses are funnelled through one promise per id.
   */
  private loaded(id: number): Promise<unknown> {
    let loading = this.loading.get(id);
    if (!loading) {
      loading = this.registry.getSchema(id);
      loading.then(
        () => this.ready.add(id),
        () => this.loading.delete(id),
      );
      this.loading.set(id, loading);
    }
    return loading;
  }

  /**
   * The decoded value of a wire-format buffer. Undecodable bytes raise KAFKA_DECODE_FAILED, and
   * so does a value written under another schema than `expected` (any version of it decodes):
   * a message of the wrong kind on a topic is poison, not input.
   */
  async decode<T>(buffer: Buffer | null, expected?: SchemaName): Promise<T> {
    return this.decoding(buffer, async (bytes) => {
      if (expected !== undefined) {
        const id = bytes.readUInt32BE(1);
        const uri = await this.schemaUri(id);
        // Any version of the expected schema is its topic's: readers upcast older versions.
        if (schemaFamily(uri) !== schemaFamily(String(loadSchema(expected).$id))) {
          throw new AppError(
            'KAFKA_DECODE_FAILED',
            `Schema id ${id} is ${uri ?? 'unknown'}, not ${expected}`,
          );
        }
      }
      return (await this.registry.decode(bytes)) as T;
    });
  }

  /**
   * The value of a wire-format buffer and its JSON text, parsed but not validated: for readers of
   * records their producer validated when writing them (replay), where validating again costs
   * more than the read. The schema id must still resolve in the registry.
   */
  async parse<T>(buffer: Buffer | null): Promise<{ value: T; json: string }> {
    return this.parseLoaded<T>(buffer) ?? this.decoding(buffer, async (bytes) => parseJson<T>(bytes));
  }

  /**
   * {@link parse} without waiting, once the buffer's schema id is loaded; undefined before. A
   * replay parses tens of thousands of records a second, and the promise chain of `parse` costs
   * about as much as the JSON parse itself.
   */
  parseLoaded<T>(buffer: Buffer | null): { value: T; json: string } | undefined {
    if (!buffer || buffer.length < 5 || buffer[0] !== 0 || !this.ready.has(buffer.readUInt32BE(1))) {
      return undefined;
    }
    try {
      return parseJson<T>(buffer);
    } catch (cause) {
      throw new AppError('KAFKA_DECODE_FAILED', `Value could not be decoded: ${String(cause)}`, { cause });
    }
  }

  private async decoding<T>(buffer: Buffer | null, read: (bytes: Buffer) => Promise<T>): Promise<T> {
    if (!buffer || buffer.length < 5 || buffer[0] !== 0) {
      throw new AppError('KAFKA_DECODE_FAILED', 'Value is not in the Confluent wire format');
    }
    try {
      await this.loaded(buffer.readUInt32BE(1));
      return await read(buffer);
    } catch (cause) {
      if (cause instanceof AppError) throw cause;
      const text = String(cause);
      // A registry that cannot be reached is an outage to wait out, not a poison message.
      if (/ECONNREFUSED|ETIMEDOUT|ECONNRESET|socket hang up|503|502/.test(text)) {
        throw new AppError('KAFKA_SCHEMA_REGISTRY_UNAVAILABLE', `Schema registry failed: ${text}`, { cause });
      }
      throw new AppError('KAFKA_DECODE_FAILED', `Value could not be decoded: ${text}`, { cause });
    }
  }
}
