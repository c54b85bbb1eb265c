/**
 * Builds the gateway, the collectors' edge (DESIGN §4): single and batch events, OTLP logs, the
 * GitHub webhook and the Claude Code hook, not yet listening. One app serves both listeners: the
 * plain one and, with `mtls`, the one where a verified client certificate is the collector's
 * credential. Their routes share one in-flight bound, one quota and one replay cache, as an
 * instance's limits are documented to.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { ControlPlane } from '@aispm/control';
import { httpServer, problemServerOptions } from '@aispm/http';
import { RawEncryptor } from '@aispm/kms';
import type { Logger, Probes } from '@aispm/observability';
import { collectorRoutes } from './plugins/collectors';
import { envelopeDocumentSchema, ingestRoutes, type IngestDeps } from './plugins/ingest';
import { admitWithin } from './plugins/overload';

export interface GatewayDeps extends Omit<IngestDeps, 'control' | 'rawEncryptor' | 'findFresh'> {
  readonly logger: Logger;
  readonly probes: Probes;
  readonly control: ControlPlane;
  readonly bodyLimit: number;
  /** Ingest requests held at once before answering 503 (GATEWAY_MAX_INFLIGHT_REQUESTS). */
  readonly maxInflightRequests: number;
}

/** The PEM files of the mTLS listener. */
export interface MtlsFiles {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca: Buffer;
}

export interface Gateway {
  readonly app: FastifyInstance;
  /** The mTLS listener's server, serving `app`; started by the caller, closed with `app`. */
  readonly mtls: HttpsServer | undefined;
}

export function buildGateway(deps: GatewayDeps, mtlsFiles?: MtlsFiles): Gateway {
  let mtls: HttpsServer | undefined;
  const app = httpServer({
    logger: deps.logger,
    bodyLimit: deps.bodyLimit,
    probes: deps.probes,
    requests: deps.metrics.ingestRequests,
    openapi: {
      title: 'aispm-ingest gateway',
      description:
        "The collectors' edge. A 2xx on an ingest route means every accepted item is in Kafka, acknowledged with acks=all.",
      schemas: { Envelope: envelopeDocumentSchema() },
    },
    serverFactory: (handler) => {
      if (mtlsFiles) {
        mtls = createHttpsServer({ ...mtlsFiles, requestCert: true, rejectUnauthorized: true }, handler);
        mtls.on('clientError', problemServerOptions.clientErrorHandler!);
      }
      return createHttpServer(handler);
    },
  });
  app.addHook('onClose', async () => {
    if (mtls?.listening) await new Promise((resolve) => mtls!.close(resolve));
  });
  const rawEncryptor = new RawEncryptor(deps.kms);
  // A tenant deleted through any instance stops being encrypted for here at once.
  deps.control.onChange((data) => {
    if (data.type === 'tenant' && data.deleted) rawEncryptor.forget(data.slug);
  });
  void app.register(async (ingest) => {
    ingest.addHook('onRequest', admitWithin(deps.maxInflightRequests));
    const shared = {
      ...deps,
      control: deps.control.state,
      findFresh: <T>(find: () => T | undefined) => deps.control.findFresh(find),
      rawEncryptor,
    };
    await ingest.register(ingestRoutes(shared));
    await ingest.register(collectorRoutes(shared));
  });
  return { app, mtls };
}
