/**
 * Owns access to the JSON Schemas in `schemas/`: loading them, compiling them once with Ajv
 * 2020-12 (formats on), and naming their subjects in the schema registry.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** The schemas the platform ships, by file name without `.schema.json`. */
export const SCHEMA_NAMES = [
  'envelope.v1',
  'redacted-envelope.v1',
  'normalized-event.v1',
  'normalized-event.v2',
  'posture-delta.v1',
  'dlq-record.v1',
  'control-record.v1',
  'health-evidence.v1',
  'audit-record.v1',
] as const;
export type SchemaName = (typeof SCHEMA_NAMES)[number];

/** The folder holding the schema files; the same relative place from `src/` and `dist/`. */
export const SCHEMA_DIR = path.resolve(__dirname, '../../../schemas');

/** The CAVRA public contracts, copied into the repository (schemas/cavra/README.md). */
export const CAVRA_CONTRACTS_DIR = path.join(SCHEMA_DIR, 'cavra');

/** The public contract's own example envelope: the README's first event. */
export const PUBLIC_EXAMPLE_PATH = path.join(
  CAVRA_CONTRACTS_DIR,
  'enterprise-live-ingestion-envelope-public-contract.example.json',
);

const cache = new Map<SchemaName, Record<string, unknown>>();

/** The parsed schema document. */
export function loadSchema(name: SchemaName): Record<string, unknown> {
  let schema = cache.get(name);
  if (!schema) {
    schema = JSON.parse(readFileSync(path.join(SCHEMA_DIR, `${name}.schema.json`), 'utf8')) as Record<
      string,
      unknown
    >;
    cache.set(name, schema);
  }
  return schema;
}

/**
 * The registry subject of a schema. Subjects are per message type, not per topic, so 10,000
 * tenants share a handful of subjects instead of registering 50,000.
 */
export function schemaSubject(name: SchemaName): string {
  return `aispm.${name}`;
}

/** A new Ajv instance for 2020-12 schemas with formats, configured as every validator here is. */
export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  return ajv;
}

let sharedAjv: Ajv2020 | undefined;

/** The compiled validator of a schema, compiled once per process. */
export function validatorFor<T>(name: SchemaName): ValidateFunction<T> {
  sharedAjv ??= createAjv();
  const id = loadSchema(name).$id as string;
  const existing = sharedAjv.getSchema<T>(id);
  if (existing) return existing;
  return sharedAjv.compile<T>(loadSchema(name));
}

/** Ajv errors as RFC 9457-style field errors with JSON pointers. */
export function toFieldErrors(
  errors: readonly ErrorObject[] | null | undefined,
): { pointer: string; detail: string }[] {
  return (errors ?? []).map((error) => {
    const extra =
      error.keyword === 'additionalProperties'
        ? `/${String((error.params as { additionalProperty: string }).additionalProperty)}`
        : error.keyword === 'required'
          ? `/${String((error.params as { missingProperty: string }).missingProperty)}`
          : '';
    return { pointer: `${error.instancePath}${extra}` || '/', detail: error.message ?? error.keyword };
  });
}
