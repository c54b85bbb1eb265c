/**
 * Owns the life of a pipeline worker process: the wiring every worker shares around its stage
 * (logger, metrics, Kafka, schema registration, health evidence, ops server) and the shutdown
 * order: mark unready, stop fetching and finish the in-flight batch (which commits), close
 * storage, then exit.
 */
import type { Config } from '@aispm/config';
import { SCHEMA_NAMES } from '@aispm/contracts';
import { HealthReporter, STAGE_CONFIG_KEYS, type LagSource } from '@aispm/kafka';
import { SERVICE_CONFIG_KEYS, ServiceProcess, type ServiceBasics } from './process';

/** The configuration keys every worker reads. */
export const WORKER_CONFIG_KEYS = [...SERVICE_CONFIG_KEYS, 'AISPM_STALL_MS', ...STAGE_CONFIG_KEYS] as const;
export type WorkerConfig = Config<(typeof WORKER_CONFIG_KEYS)[number]>;

/** What a worker's stage needs from the process. */
export type WorkerContext = ServiceBasics;

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
  const proc = new ServiceProcess(service, config);
  const { logger, metrics, kafka, codec } = proc.basics;
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
  await proc.serveOps({
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
  await codec.register(SCHEMA_NAMES);
  starting = 'connecting to Kafka and storage';
  const { stage, close, probe } = await build(proc.basics);
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
  proc.onShutdown(async () => {
    stopping = true;
    await stage.stop();
    await health.stop();
    await close?.();
  });
}
