/**
 * Owns the OpenAPI 3.1 document each HTTP service serves at `GET /openapi.json`. @fastify/swagger
 * generates it from the schemas the service's routes declare (the same schemas Fastify validates
 * requests and serializes answers with), so the document lists exactly what the service serves.
 * This plugin adds what every route shares: the bearer scheme on every route that is not public,
 * and the problem document of every error status (`code` lists every code of libs/errors).
 *
 * TRICKY: @fastify/swagger learns routes from an `onRoute` hook, so this plugin is registered
 * before any route (httpServer does it first); a route registered earlier is missing.
 */
// Kept in the declarations, so every route of a dependent may declare `summary` and `hide`.
/// <reference types="@fastify/swagger" preserve="true" />
import type { FastifyPluginAsync, FastifySchema, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import { ERROR_CODES } from '@aispm/errors';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The request body as the document shows it, by media type, for a route whose body Fastify
     * must not validate: its content-type parsers hand over the raw bytes (signatures cover them).
     */
    readonly documentedBody?: Readonly<Record<string, { readonly schema: object }>>;
  }
}

/** What a service says about itself in its document. */
export interface OpenApiInfo {
  readonly title: string;
  readonly description: string;
  /** More schemas under `#/components/schemas`, for bodies routes document but do not validate. */
  readonly schemas?: Readonly<Record<string, object>>;
}

/** The version of the HTTP API (not of any package); clients compare it. */
const API_VERSION = '0.1.0';

/** What is wrong with each part of a request, by JSON pointer (`FieldError`). */
export const fieldErrorsSchema = {
  type: 'array',
  items: {
    type: 'object',
    properties: { pointer: { type: 'string' }, detail: { type: 'string' } },
  },
} as const;

/** The RFC 9457 problem document every failure is sent as (`sendProblem`). */
export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details; `code` is stable (docs/errors.md).',
  required: ['type', 'title', 'status', 'code', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { enum: Object.keys(ERROR_CODES) },
    detail: { type: 'string' },
    errors: fieldErrorsSchema,
  },
} as const;

/** A reference to the problem schema, from a route's own response schema. */
export const problemRef = { $ref: 'Problem#' } as const;

/** One response per error status, naming the codes sent with it. */
const problemResponses = Object.fromEntries(
  [...new Set(Object.values(ERROR_CODES).map((spec) => spec.status))].sort().map((status) => [
    String(status),
    {
      description: Object.entries(ERROR_CODES)
        .filter(([, spec]) => spec.status === status)
        .map(([code]) => code)
        .join(', '),
      content: { 'application/problem+json': { schema: problemRef } },
    },
  ]),
);

const bearer = [{ apiKey: [] }];

/** The route's schema as documented: body, security and problem responses added. */
function documented(schema: FastifySchema | undefined, route: RouteOptions): FastifySchema {
  const { config } = route;
  const declared = schema as (FastifySchema & { response?: object }) | undefined;
  return {
    ...declared,
    ...(config?.documentedBody ? { body: { content: config.documentedBody } } : {}),
    ...(config?.public ? {} : { security: bearer }),
    response: { ...problemResponses, ...declared?.response },
  };
}

/**
 * Generates the service's document from its routes and serves it at `GET /openapi.json`, which
 * anyone may read and which is not in the document itself.
 */
export function openApi(info: OpenApiInfo): FastifyPluginAsync {
  return fp(async (app) => {
    app.addSchema(problemSchema);
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: info.title, version: API_VERSION, description: info.description },
        components: {
          securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
          schemas: { ...info.schemas },
        },
      },
      // Shared schemas keep their `$id` as their name in the document (`Problem`, not `def-0`).
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) =>
          typeof json.$id === 'string' ? json.$id : `def-${i}`,
      },
      transform: ({ schema, url, route }) => ({ schema: documented(schema, route), url }),
      transformObject: (documentObject) => {
        const { openapi, ...rest } = (documentObject as { openapiObject: { openapi: string } }).openapiObject;
        return { openapi, jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema', ...rest };
      },
    });
    app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());
  });
}
