/**
 * Builds the API, the readers' and administrators' service (DESIGN §4, §17): tenant, collector and
 * reader administration, the posture document and events, sessions, the live stream, ingestion
 * health, the replay log, chain verification and the console. Not yet listening; every
 * dependency comes in through `buildApi`, so tests can build one around real Kafka without a port.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { consoleRoutes, consoleSessionHook, type ConsoleSessions } from '@aispm/console';
import type { ControlPlane, Principal } from '@aispm/control';
import { authentication, bearerPrincipal, httpServer } from '@aispm/http';
import type { Logger, Probes } from '@aispm/observability';
import { adminRoutes, type AdminDeps } from './plugins/admin';
import { healthRoutes, type HealthDeps } from './plugins/health';
import { readRoutes, type ReadDeps } from './plugins/reads';
import { redactionRoutes } from './plugins/redaction';
import { replayRoutes, type ReplayDeps } from './plugins/replay';
import { streamRoutes, type StreamDeps } from './plugins/stream';

export interface ApiDeps
  extends
    Omit<AdminDeps, 'control'>,
    Omit<HealthDeps, 'control'>,
    ReadDeps,
    ReplayDeps,
    Omit<StreamDeps, 'principalOf'> {
  readonly logger: Logger;
  readonly probes: Probes;
  readonly control: ControlPlane;
  readonly bodyLimit: number;
  readonly consoleSessions: ConsoleSessions;
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = httpServer({
    logger: deps.logger,
    bodyLimit: deps.bodyLimit,
    probes: deps.probes,
    requests: deps.metrics.apiRequests,
    openapi: {
      title: 'aispm-ingest API',
      description:
        "The readers' and administrators' API: posture, events, sessions, the live stream, ingestion health, the replay log, tenant administration and the console's session. Reads and changes are scoped to the tenant of the credential.",
    },
  });
  const state = deps.control.state;
  // The console's session stands in for a reader key (consoleSessionHook marks only requests
  // that send no Authorization header).
  const principalOf = (request: FastifyRequest): Principal | undefined =>
    bearerPrincipal(state, request) ??
    (request.consoleReader ? state.readerPrincipal(request.consoleReader) : undefined);
  // A credential nobody knows yet may have been created through another instance a moment ago.
  const freshPrincipalOf = async (request: FastifyRequest) =>
    request.headers.authorization !== undefined || request.consoleReader
      ? deps.control.findFresh(() => principalOf(request))
      : undefined;
  app.addHook('onRequest', consoleSessionHook(deps.consoleSessions));
  void app.register(authentication(freshPrincipalOf));
  void app.register(adminRoutes(deps), { prefix: '/enterprise/aispm/admin' });
  void app.register(redactionRoutes(deps), { prefix: '/enterprise/aispm/admin' });
  void app.register(healthRoutes({ ...deps, control: state }));
  void app.register(replayRoutes(deps));
  void app.register(streamRoutes({ ...deps, principalOf }));
  void app.register(readRoutes(deps), { prefix: '/enterprise/aispm' });
  void app.register(consoleRoutes({ ...deps, control: state, sessions: deps.consoleSessions }));
  return app;
}
