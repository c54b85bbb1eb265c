/**
 * Owns the CLI's direct connections to the platform's servers (Kafka, the control plane,
 * ClickHouse), for the commands that work below the API: bootstrap, topics, replay, verify.
 */
import { clickHouseFromConfig, type ClickHouse } from '@aispm/clickhouse';
import { ControlPlane, controlPlaneSettings } from '@aispm/control';
import { createKafka, type StageCodec } from '@aispm/kafka';
import { createLogger } from '@aispm/observability';
import type { Options } from './command';
import type { CliConfig } from './env';

/** A Kafka client for the CLI, logging to stderr. */
export function kafkaFor(config: CliConfig) {
  return createKafka(
    {
      brokers: config.KAFKA_BROKERS,
      clientId: 'aispm-cli',
      requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
    },
    createLogger('cli', 'cli', config.AISPM_LOG_LEVEL, 'stderr'),
  );
}

/** The control plane as this CLI run sees it, loaded; `stop()` it when done. */
export async function startControlPlane(
  config: CliConfig,
  codec: StageCodec,
  instanceId: string,
): Promise<ControlPlane> {
  const logger = createLogger('cli', 'cli', config.AISPM_LOG_LEVEL, 'stderr');
  const control = new ControlPlane(
    kafkaFor(config),
    codec,
    logger,
    controlPlaneSettings('cli', { ...config, AISPM_INSTANCE_ID: instanceId }),
  );
  await control.start();
  return control;
}

/** Runs `work` with a ClickHouse connection and the database named by --database (or config). */
export async function withClickHouse<T>(
  options: Options,
  config: CliConfig,
  work: (clickhouse: ClickHouse, database: string) => Promise<T>,
): Promise<T> {
  const database = typeof options.database === 'string' ? options.database : config.CLICKHOUSE_DATABASE;
  const clickhouse = clickHouseFromConfig(config);
  try {
    return await work(clickhouse, database);
  } finally {
    await clickhouse.close();
  }
}
