/**
 * Owns what every service process starts and ends with: turning a failed start into one line
 * and exit code 1, the clients each one builds from its configuration (logger, metrics, Kafka,
 * the schema codec), the ops server, and the shutdown signals that run its stop order once.
 */
import fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '@aispm/config';
import { createKafka, StageCodec, type KafkaClient } from '@aispm/kafka';
import { createLogger, Metrics, probeRoutes, type Logger, type Probes } from '@aispm/observability';

/** The configuration keys every service's bootstrap reads. */
export const SERVICE_CONFIG_KEYS = [
  'AISPM_LOG_LEVEL',
  'AISPM_INSTANCE_ID',
  'AISPM_GROUP_PREFIX',
  'AISPM_OPS_HOST',
  'AISPM_OPS_PORT',
  'AISPM_SHUTDOWN_TIMEOUT_MS',
  'AISPM_HEALTH_INTERVAL_MS',
  'KAFKA_BROKERS',
  'KAFKA_REQUEST_TIMEOUT_MS',
  'SCHEMA_REGISTRY_URL',
] as const;
export type ServiceConfig = Config<(typeof SERVICE_CONFIG_KEYS)[number]>;

/** What every service process builds first; nothing in it is connected yet. */
export interface ServiceBasics {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly kafka: KafkaClient;
  readonly codec: StageCodec;
}

/** One service process: what it builds first, its ops server, and its shutdown. */
export class ServiceProcess {
  readonly basics: ServiceBasics;
  private ops: FastifyInstance | undefined;

  /** `kafkaRetries` shortens KafkaJS's retry schedule. */
  constructor(
    service: string,
    private readonly config: ServiceConfig,
    kafkaRetries?: number,
  ) {
    const logger = createLogger(service, config.AISPM_INSTANCE_ID, config.AISPM_LOG_LEVEL);
    const kafka = createKafka(
      {
        brokers: config.KAFKA_BROKERS,
        clientId: `${service}-${config.AISPM_INSTANCE_ID}`,
        requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
        ...(kafkaRetries === undefined ? {} : { retries: kafkaRetries }),
      },
      logger,
    );
    const metrics = new Metrics(service);
    this.basics = { logger, metrics, kafka, codec: new StageCodec(config.SCHEMA_REGISTRY_URL) };
  }

  /**
   * Serves `/metrics`, `/healthz` and `/readyz` on the ops address. Metrics are labelled by
   * tenant, so they belong on a port only the operator's network reaches, never on a public one.
   */
  async serveOps(probes: Probes): Promise<void> {
    const { metrics } = this.basics;
    const ops = fastify({ logger: false });
    ops.get('/metrics', async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });
    await ops.register(probeRoutes(probes));
    await ops.listen({ host: this.config.AISPM_OPS_HOST, port: this.config.AISPM_OPS_PORT });
    this.ops = ops;
  }

  /**
   * On SIGTERM or SIGINT runs `stop`, then closes the ops server (so probes answer until the
   * end), then exits.
   */
  onShutdown(stop: () => Promise<void>): void {
    onShutdownSignal(this.basics.logger, this.config.AISPM_SHUTDOWN_TIMEOUT_MS, async () => {
      await stop();
      await this.ops?.close();
    });
  }
}

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits; if stopping takes longer than `timeoutMs`
 * the process exits anyway with code 1, so an orchestrator is never left waiting.
 */
function onShutdownSignal(logger: Logger, timeoutMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'graceful shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
}

/** Runs `main`, turning a start-up failure into one clear line on stderr and exit code 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
