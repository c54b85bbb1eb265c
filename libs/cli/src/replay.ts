/**
 * Owns `aispm replay` (DESIGN §12): a tenant's stage read back from the topic log into NDJSON (a
 * file or stdout), into a rebuild of the projections in another ClickHouse database, or back into
 * the pipeline; with a dry run and a rate limit. The CLI reads Kafka directly, so it checks the
 * key itself against the control plane, with the same rule as the gateway's auditor API, and
 * appends the replay to the audit trail before it reads a record.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { hashSecret } from '@aispm/auth';
import { clickHouseFromConfig, identifier, migrate, type ClickHouse } from '@aispm/clickhouse';
import { AuditTrail, type ControlPlane } from '@aispm/control';
import { SCHEMA_NAMES } from '@aispm/contracts';
import { AppError } from '@aispm/errors';
import { PARTITIONER, StageCodec } from '@aispm/kafka';
import { LocalKms } from '@aispm/kms';
import {
  authorizeReplay,
  countOffsets,
  ndjsonSink,
  NDJSON_BUFFER_BYTES,
  parseReplayRequest,
  planReplay,
  rebuildSink,
  reinjectSink,
  replayAuditDetail,
  runReplay,
  type ReplayMode,
  type ReplaySink,
  type ReplaySpec,
} from '@aispm/replay';
import { adminKey } from './admin-client';
import { UsageError, type Command, type Options } from './command';
import { kafkaFor, startControlPlane } from './connections';
import type { CliConfig } from './env';
import { list, optionalString, requireString } from './options';

/** The replay asked for, and what to do with it; a wrong combination is a usage error. */
export function replayRequest(
  options: Options,
  config: CliConfig,
): { spec: ReplaySpec; mode: ReplayMode; out?: string; database?: string } {
  let spec: ReplaySpec;
  try {
    spec = parseReplayRequest({
      tenant: requireString(options, 'tenant'),
      stage: requireString(options, 'stage'),
      partitions: list(options, 'partition'),
      fromOffset: optionalString(options, 'from-offset'),
      fromTime: optionalString(options, 'from-time'),
      toOffset: optionalString(options, 'to-offset'),
      toTime: optionalString(options, 'to-time'),
      rate: optionalString(options, 'rate'),
    });
  } catch (error) {
    if (error instanceof AppError) throw new UsageError(error.message);
    throw error;
  }
  const out = optionalString(options, 'out');
  const database = optionalString(options, 'rebuild');
  const reinject = options.reinject === true;
  if (database !== undefined && reinject) throw new UsageError('--rebuild and --reinject exclude each other');
  if (out !== undefined && (database !== undefined || reinject)) {
    throw new UsageError('--out writes NDJSON; it does not go with --rebuild or --reinject');
  }
  if (database !== undefined) {
    if (spec.stage !== 'normalized') throw new UsageError('--rebuild replays the normalized stage');
    if (database === config.CLICKHOUSE_DATABASE) {
      throw new UsageError(`--rebuild needs a database other than the live one (${database})`);
    }
    try {
      identifier(database);
    } catch {
      throw new UsageError(`--rebuild ${database} is not a valid database name`);
    }
  }
  if (reinject && spec.stage !== 'raw' && spec.stage !== 'dlq') {
    throw new UsageError('--reinject sends back raw events or dead letters: use --stage raw or dlq');
  }
  let mode: ReplayMode = 'read';
  if (database !== undefined) mode = 'rebuild';
  else if (reinject) mode = 'reinject';
  if (options['dry-run'] === true) mode = 'dry_run';
  return {
    spec,
    mode,
    ...(out === undefined ? {} : { out }),
    ...(database === undefined ? {} : { database }),
  };
}

/** The key the replay is done under: --key-file (e.g. a tenant's auditor key), else the CLI's key. */
function replayKey(options: Options, config: CliConfig): string {
  const file = optionalString(options, 'key-file');
  return file === undefined ? adminKey(config) : readFileSync(file, 'utf8').trim();
}

export const replayCommand: Command = {
  usage:
    'aispm replay --tenant SLUG --stage raw|redacted|normalized|posture|dlq [--partition N]... [--from-offset N | --from-time T] [--to-offset N | --to-time T] [--rate N] [--out FILE | --rebuild DATABASE | --reinject] [--dry-run] [--key-file FILE]',
  summary:
    "Replay a tenant's stage from the topic log into NDJSON, a rebuild of the projections, or back into the pipeline; audited.",
  resultTo: (options) =>
    options.out === undefined &&
    options.rebuild === undefined &&
    options.reinject !== true &&
    !options['dry-run']
      ? 'stderr'
      : 'stdout',
  async run(_positionals, options, config) {
    const { spec, mode, out, database } = replayRequest(options, config);
    const key = replayKey(options, config);
    const codec = new StageCodec(config.SCHEMA_REGISTRY_URL);
    await codec.register(SCHEMA_NAMES);
    const kafka = kafkaFor(config);
    const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: PARTITIONER });
    let control: ControlPlane | undefined;
    let clickhouse: ClickHouse | undefined;
    try {
      control = await startControlPlane(config, codec, 'replay');
      const principal = control.state.principal(hashSecret(key));
      if (!principal) throw new Error('The key is unknown or revoked');
      if (!control.state.tenant(spec.tenant)) throw new Error(`No tenant ${spec.tenant}`);
      authorizeReplay(principal, spec.tenant, spec.stage);
      const plan = await planReplay(kafka, spec);
      await producer.connect();
      // The audit event is durable before the first record is read.
      await new AuditTrail(producer, codec).append(
        `replay.${mode}`,
        principal,
        spec.tenant,
        replayAuditDetail(spec, plan.topic, plan.ranges, mode, 'cli', out ?? database),
      );
      const summary = {
        tenant: spec.tenant,
        stage: spec.stage,
        topic: plan.topic,
        mode,
        ranges: plan.ranges,
      };
      if (mode === 'dry_run') return { ...summary, offsets: countOffsets(plan.ranges) };
      let sink: ReplaySink;
      const file =
        out === undefined
          ? undefined
          : createWriteStream(out, { flags: 'wx', mode: 0o600, highWaterMark: NDJSON_BUFFER_BYTES });
      if (mode === 'rebuild') {
        clickhouse = clickHouseFromConfig(config);
        await migrate(clickhouse, database!);
        sink = rebuildSink(clickhouse, database!);
      } else if (mode === 'reinject') {
        sink = reinjectSink(producer, spec);
      } else {
        sink = ndjsonSink(spec, plan.topic, file ?? process.stdout);
      }
      const started = Date.now();
      const result = await runReplay(kafka, codec, spec, plan, sink, {
        groupPrefix: config.AISPM_GROUP_PREFIX,
        validate: mode !== 'read',
        kms: LocalKms.fromFile(config.AISPM_KMS_MASTER_KEY_FILE, { create: false }),
      });
      if (file) {
        file.end();
        await once(file, 'close');
      }
      return {
        ...summary,
        ...result,
        ...(out === undefined ? {} : { out }),
        ...(database === undefined ? {} : { database }),
        duration_ms: Date.now() - started,
      };
    } finally {
      await producer.disconnect();
      await control?.stop();
      await clickhouse?.close();
    }
  },
};
