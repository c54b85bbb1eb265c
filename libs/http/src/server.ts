/**
 * The Fastify instance every HTTP service starts from: problem documents for every failure, a
 * lingering close after an early 413, the request's tenant for metrics, the service's OpenAPI
 * document, and `/healthz` and `/readyz` on the public port (metrics stay on the ops port: they
 * carry tenant labels).
 */
import fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import type { Counter } from 'prom-client';
import { probeRoutes, type Logger, type Probes } from '@aispm/observability';
import { lingerAfterAnswer } from './lingering-close';
import { openApi, type OpenApiInfo } from './openapi';
import { markRoutesPublic } from './principal';
import { installProblemHandlers, problemServerOptions } from './problems';

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant a request acted for, once known; labels the request metrics. */
    tenant: string;
  }
}

export interface HttpServerOptions {
  readonly logger: Logger;
  readonly bodyLimit: number;
  readonly probes: Probes;
  /** Counts every answered request by tenant, route and status. */
  readonly requests: Counter<'tenant' | 'route' | 'status'>;
  /** How the service's `/openapi.json` introduces it. */
  readonly openapi: OpenApiInfo;
  /** Builds the server Fastify listens with, when it is not a plain HTTP one. */
  readonly serverFactory?: FastifyServerFactory;
}

export function httpServer(options: HttpServerOptions): FastifyInstance {
  const app = fastify({
    // pino's Logger is what Fastify logs with; its type is wider than FastifyBaseLogger.
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit,
    ...(options.serverFactory ? { serverFactory: options.serverFactory } : {}),
    ...problemServerOptions,
  });
  installProblemHandlers(app);
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode === 413) lingerAfterAnswer(request.raw);
  });
  app.decorateRequest('tenant', '');
  app.addHook('onResponse', async (request, reply) => {
    options.requests.inc({
      tenant: request.tenant,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });
  // First, so the document sees every route, the probes included.
  void app.register(openApi(options.openapi));
  void app.register(async (probes) => {
    markRoutesPublic(probes);
    await probes.register(probeRoutes(options.probes));
  });
  return app;
}
