/**
 * Owns the life of a pipeline worker process: the wiring every worker shares around its stage
 * (logger, metrics, Kafka, schema registration, ops server) and the shutdown order: mark unready,
 * stop fetching and finish the in-flight batch (which commits), close storage, then exit.
 */
import type { Kafka } from 'kafkajs';
import type { Config } from '@aispm/config';
import { SCHEMA_NAMES } from '@aispm/contracts';
import { buildOpsServer, createLogger, Metrics, onShutdownSignal, type Logger } from '@aispm/observability';
import { createKafka } from './client';
import { StageCodec } from './codec';
import { HealthReporter, type LagSource } from './health';

/** The configuration keys every worker reads. */
export const WORKER_CONFIG_KEYS = [
  'AISPM_LOG_LEVEL',
  'AISPM_INSTANCE_ID',
  'AISPM_GROUP_PREFIX',
  'AISPM_OPS_HOST',
  'AISPM_OPS_PORT',
  'AISPM_SHUTDOWN_TIMEOUT_MS',
  'AISPM_TOPIC_REFRESH_MS',
  'AISPM_TENANT_PATTERN',
  'AISPM_HEALTH_INTERVAL_MS',
  'AISPM_STALL_MS',
  'AISPM_STAGE_SHARDS',
  'AISPM_STAGE_FETCH_MIN_BYTES',
  'AISPM_STAGE_FETCH_MAX_WAIT_MS',
  'KAFKA_BROKERS',
  'KAFKA_REQUEST_TIMEOUT_MS',
  'SCHEMA_REGISTRY_URL',
] as const;
export type WorkerConfig = Config<(typeof WORKER_CONFIG_KEYS)[number]>;

/** What a worker's stage needs from the process. */
export interface WorkerContext {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly kafka: Kafka;
  readonly codec: StageCodec;
}

/** The part of a stage the process drives; its group's lag is reported as health evidence. */
export interface RunnableStage extends LagSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  healthy(): boolean;
  ready(): boolean;
  /** How long its oldest unfinished batch has been at it; 0 when none is. */
  stalledForMs(): number;
}

/** Starts a worker: wires its context, builds its stage, serves ops routes, handles signals. */
export async function runWorker(
  service: string,
  config: WorkerConfig,
  build: (context: WorkerContext) => Promise<{
    stage: RunnableStage;
    close?: () => Promise<void>;
    /** Runs before each health report, e.g. a storage ping. */
    probe?: () => Promise<void>;
  }>,
): Promise<void> {
  const logger = createLogger(service, config.AISPM_INSTANCE_ID, config.AISPM_LOG_LEVEL);
  const metrics = new Metrics(service);
  const kafka = createKafka(
    {
      brokers: config.KAFKA_BROKERS,
      clientId: `${service}-${config.AISPM_INSTANCE_ID}`,
      requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
    },
    logger,
  );
  const codec = new StageCodec(config.SCHEMA_REGISTRY_URL);
  // The ops routes answer from the first moment: /healthz says the process is up while it
  // registers schemas and connects (which waits on Kafka and the registry), and /readyz says
  // which of those it is still at.
  let starting: string | undefined = 'registering schemas';
  const started: { stage?: RunnableStage } = {};
  let stopping = false;
  // Ready means the work is moving: a batch at it longer than AISPM_STALL_MS makes the stage
  // unready and is reported for its tenants, until it goes through.
  const stalledMs = () => {
    const busy = started.stage?.stalledForMs() ?? 0;
    return busy >= config.AISPM_STALL_MS ? busy : 0;
  };
  const ops = buildOpsServer(metrics, {
    healthy: () => started.stage?.healthy() ?? !stopping,
    ready: () => starting === undefined && !stopping && started.stage!.ready() && stalledMs() === 0,
    notReadyReason: () => {
      if (stopping) return 'shutting down';
      if (starting !== undefined) return `starting: ${starting}`;
      const stalled = stalledMs();
      if (stalled > 0) return `stalled: a batch has not gone through for ${Math.round(stalled / 1000)} s`;
      return started.stage!.ready() ? undefined : 'not subscribed to its topics yet';
    },
  });
  await ops.listen({ host: config.AISPM_OPS_HOST, port: config.AISPM_OPS_PORT });
  await codec.register(SCHEMA_NAMES);
  starting = 'connecting to Kafka and storage';
  const built = await build({ logger, metrics, kafka, codec });
  const { stage, close, probe } = built;
  started.stage = stage;
  const health = new HealthReporter(kafka, codec, metrics, logger, {
    service,
    instanceId: config.AISPM_INSTANCE_ID,
    intervalMs: config.AISPM_HEALTH_INTERVAL_MS,
    lag: stage,
    stalledMs,
    ...(probe ? { probe } : {}),
  });
  starting = 'joining its consumer group';
  await stage.start();
  await health.start();
  starting = undefined;
  logger.info({ ops: `http://${config.AISPM_OPS_HOST}:${config.AISPM_OPS_PORT}` }, 'worker started');
  onShutdownSignal(logger, config.AISPM_SHUTDOWN_TIMEOUT_MS, async () => {
    stopping = true;
    await stage.stop();
    await health.stop();
    await close?.();
    await ops.close();
  });
}

/** Runs `main`, turning a start-up failure into one clear line on stderr and exit code 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
