/**
 * Builds the gateway: a Fastify instance with the ops routes, problem handling and ingestion
 * plugin, not yet listening. Every dependency comes in through `buildGateway`, so tests can
 * build one around real Kafka without a port.
 */
import fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Producer } from 'kafkajs';
import type { StageCodec } from '@aispm/kafka';
import { opsRoutes, type Logger, type Metrics, type Probes } from '@aispm/observability';
import type { CredentialDirectory } from './directory';
import { ingestRoutes } from './plugins/ingest';
import { installProblemHandlers } from './plugins/problems';

export interface GatewayDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly probes: Probes;
  readonly directory: CredentialDirectory;
  readonly producer: Producer;
  readonly codec: StageCodec;
  readonly bodyLimit: number;
  readonly produceTimeoutMs: number;
}

export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const app = fastify({
    // pino's Logger is what Fastify logs with; its type is wider than FastifyBaseLogger.
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit,
  });
  installProblemHandlers(app);
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.ingestRequests.inc({
      tenant: '',
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });
  void app.register(opsRoutes(deps.metrics, deps.probes));
  void app.register(ingestRoutes(deps));
  return app;
}
