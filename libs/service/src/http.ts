/**
 * Owns the life of an HTTP service process (the ingest gateway, the API): what both build before
 * their app (logger, metrics, the KMS, Kafka, schema registration, the control plane, health
 * evidence, a Kafka probe, the ops server) and the shutdown order around the app's own: mark
 * unready, let the service stop answering and flush, then stop reporting and following the
 * control topic, and close the ops server last.
 */
import type { Config } from '@aispm/config';
import { SCHEMA_NAMES } from '@aispm/contracts';
import { ControlPlane, controlPlaneSettings } from '@aispm/control';
import { HealthReporter, KafkaProbe } from '@aispm/kafka';
import { LocalKms } from '@aispm/kms';
import type { Probes } from '@aispm/observability';
import { SERVICE_CONFIG_KEYS, ServiceProcess, type ServiceBasics } from './process';

/** The configuration keys every HTTP service reads. */
export const HTTP_SERVICE_CONFIG_KEYS = [
  ...SERVICE_CONFIG_KEYS,
  'AISPM_KMS_MASTER_KEY_FILE',
  'AISPM_TOPIC_PARTITIONS',
  'AISPM_TOPIC_REPLICATION',
  'AISPM_RAW_RETENTION_MS',
] as const;
export type HttpServiceConfig = Config<(typeof HTTP_SERVICE_CONFIG_KEYS)[number]>;

/** What an HTTP service's app is built from. */
export interface HttpServiceContext extends ServiceBasics {
  readonly kms: LocalKms;
  /** Started and caught up with the control topic. */
  readonly control: ControlPlane;
  /** The process's liveness and readiness, which the app also answers on its public port. */
  readonly probes: Probes;
}

/**
 * A request waits on KafkaJS's retries, so the HTTP services retry fewer times than the default
 * five: a Kafka outage is answered (a 503) after about 2 s of retries instead of 9.
 */
const REQUEST_KAFKA_RETRIES = 3;

/**
 * Starts an HTTP service: wires its context, lets `serve` build and listen, and on SIGTERM or
 * SIGINT calls the `close` it returned, which stops answering (requests in flight get their
 * answer) and then flushes and releases what `serve` built.
 */
export async function runHttpService(
  service: string,
  config: HttpServiceConfig,
  serve: (context: HttpServiceContext) => Promise<{ close: () => Promise<void> }>,
): Promise<void> {
  const proc = new ServiceProcess(service, config, REQUEST_KAFKA_RETRIES);
  const { logger, metrics, kafka, codec } = proc.basics;
  const kms = LocalKms.fromFile(config.AISPM_KMS_MASTER_KEY_FILE, { create: true });
  await codec.register(SCHEMA_NAMES);
  const control = new ControlPlane(kafka, codec, logger, controlPlaneSettings(service, config));
  await control.start();
  const reporter = new HealthReporter(kafka, codec, metrics, logger, {
    service,
    instanceId: config.AISPM_INSTANCE_ID,
    intervalMs: config.AISPM_HEALTH_INTERVAL_MS,
  });
  await reporter.start();
  const kafkaProbe = new KafkaProbe(kafka, logger);
  kafkaProbe.start();
  // The ops port opens first, so an orchestrator sees the start-up; ready waits for the public
  // port too, or a load balancer (or a test) would send requests a closed port refuses.
  let listening = false;
  let stopping = false;
  const notReadyReason = (): string | undefined => {
    if (stopping) return 'shutting down';
    if (!listening) return 'starting: the public port is not open yet';
    if (!control.caughtUp()) return 'reading the control topic to its end';
    if (!kafkaProbe.answers()) return 'Kafka does not answer';
    return undefined;
  };
  const probes: Probes = {
    healthy: () => true,
    ready: () => notReadyReason() === undefined,
    notReadyReason,
  };
  await proc.serveOps(probes);
  const { close } = await serve({ ...proc.basics, kms, control, probes });
  listening = true;
  proc.onShutdown(async () => {
    stopping = true;
    kafkaProbe.stop();
    await close();
    await reporter.stop();
    await control.stop();
  });
}
