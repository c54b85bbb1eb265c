/**
 * Builds the gateway: a Fastify instance with the ops routes, problem handling, ingestion and
 * admin plugins, not yet listening. Every dependency comes in through `buildGateway`, so tests can
 * build one around real Kafka without a port.
 */
import { consoleRoutes, consoleSessionHook, type ConsoleSessions } from '@aispm/console';
import fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Admin } from 'kafkajs';
import { probeRoutes, type Logger, type Probes } from '@aispm/observability';
import type { AuditTrail, ControlPlane } from '@aispm/control';
import { RawEncryptor } from '@aispm/kms';
import { adminRoutes, type AdminDeps } from './plugins/admin';
import { collectorRoutes } from './plugins/collectors';
import { healthRoutes, type HealthDeps } from './plugins/health';
import { ingestRoutes, type IngestDeps } from './plugins/ingest';
import { openApiRoute } from './plugins/openapi';
import { admitWithin } from './plugins/overload';
import { replayRoutes, type ReplayDeps } from './plugins/replay';
import { installProblemHandlers, problemServerOptions } from './plugins/problems';
import { streamRoutes, type StreamDeps } from './plugins/stream';
import { readRoutes, type ReadDeps } from './plugins/reads';
import { redactionRoutes } from './plugins/redaction';
import { lingerAfterAnswer } from './lingering-close';

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant a request acted for, once known; labels the request metrics. */
    tenant: string;
  }
}

export interface GatewayDeps
  extends
    Omit<IngestDeps, 'control' | 'rawEncryptor'>,
    Pick<HealthDeps, 'health' | 'groupPrefix' | 'healthIntervalMs'>,
    Omit<ReadDeps, 'control'> {
  readonly logger: Logger;
  readonly probes: Probes;
  readonly control: ControlPlane;
  readonly audit: AuditTrail;
  readonly deletions: AdminDeps['deletions'];
  readonly kafkaAdmin: Admin;
  readonly topics: AdminDeps['topics'];
  readonly bodyLimit: number;
  /** Ingest requests held at once before answering 503 (GATEWAY_MAX_INFLIGHT_REQUESTS). */
  readonly maxInflightRequests: number;
  readonly kafka: ReplayDeps['kafka'];
  readonly stream: Omit<StreamDeps, 'control' | 'kafka' | 'kafkaAdmin' | 'codec' | 'logger' | 'metrics'>;
  readonly consoleSessions: ConsoleSessions;
}

/**
 * A gateway instance. With `https`, it is the mTLS listener: client certificates are requested
 * and verified against the CA, and the certificate is the collector's credential.
 */
export function buildGateway(
  deps: GatewayDeps,
  https?: { key: Buffer; cert: Buffer; ca: Buffer },
): FastifyInstance {
  const app = fastify({
    ...(https ? { https: { ...https, requestCert: true, rejectUnauthorized: true } } : {}),
    // pino's Logger is what Fastify logs with; its type is wider than FastifyBaseLogger.
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit,
    ...problemServerOptions,
  });
  installProblemHandlers(app);
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode === 413) lingerAfterAnswer(request.raw);
  });
  app.decorateRequest('tenant', '');
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.ingestRequests.inc({
      tenant: request.tenant,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });
  void app.register(probeRoutes(deps.probes));
  void app.register(openApiRoute());
  const rawEncryptor = new RawEncryptor(deps.kms);
  // A tenant deleted through any instance stops being encrypted for here at once.
  deps.control.onChange((data) => {
    if (data.type === 'tenant' && data.deleted) rawEncryptor.forget(data.slug);
  });
  void app.register(async (ingest) => {
    ingest.addHook('onRequest', admitWithin(deps.maxInflightRequests));
    await ingest.register(ingestRoutes({ ...deps, control: deps.control.state, rawEncryptor }));
    await ingest.register(collectorRoutes({ ...deps, control: deps.control.state, rawEncryptor }));
  });
  void app.register(adminRoutes({ ...deps, rawEncryptor }), { prefix: '/enterprise/aispm/admin' });
  void app.register(redactionRoutes(deps), { prefix: '/enterprise/aispm/admin' });
  void app.register(healthRoutes({ ...deps, control: deps.control.state }));
  void app.register(replayRoutes({ ...deps, control: deps.control.state }));
  void app.register(streamRoutes({ ...deps, ...deps.stream, control: deps.control.state }));
  void app.register(readRoutes({ ...deps, control: deps.control.state }), { prefix: '/enterprise/aispm' });
  // The console's session stands in for a reader key on every route above (see access.ts).
  app.addHook('onRequest', consoleSessionHook(deps.consoleSessions));
  void app.register(consoleRoutes({ ...deps, control: deps.control.state, sessions: deps.consoleSessions }));
  return app;
}
