/**
 * Owns running a replay against the real log: resolving a spec to ranges with the broker's
 * offsets, reading the ranges (without touching any pipeline consumer group), decoding each record
 * through the registry, pacing, and handing records to a sink: NDJSON, a rebuild of the
 * projections in another ClickHouse database, or reinjection into the pipeline.
 */
import type { Writable } from 'node:stream';
import { identifier, type ClickHouse } from '@aispm/clickhouse';
import {
  parseTenantTopic,
  tenantTopic,
  type DlqRecord,
  type Envelope,
  type NormalizedEvent,
  type NormalizedEventV1,
} from '@aispm/contracts';
import { AppError, isRetriable } from '@aispm/errors';
import {
  readRanges,
  type KafkaClient,
  type KafkaProducer,
  type ProducerMessage,
  type RangeMessage,
  type StageCodec,
} from '@aispm/kafka';
import { RawDecryptor, type Kms } from '@aispm/kms';
import { upcastNormalized } from '@aispm/normalization';
import { toEventRow } from '@aispm/projection';
import { Pacer } from './pace';
import { planRanges, type ReplayRange, type ReplaySpec } from './plan';
import { ndjsonLine, toReplayLine, type ReplayRecord } from './record';

/** A replay resolved against the log: the topic and each partition's range. */
export interface ReplayPlan {
  readonly topic: string;
  readonly ranges: readonly ReplayRange[];
}

/** Resolves `spec` with the topic's current offsets; the ends captured here are where it stops. */
export async function planReplay(kafka: KafkaClient, spec: ReplaySpec): Promise<ReplayPlan> {
  const topic = tenantTopic(spec.tenant, spec.stage);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const atTime = async (bound: ReplaySpec['from']) =>
      bound && 'timeMs' in bound
        ? new Map(
            (await admin.fetchTopicOffsetsByTimestamp(topic, bound.timeMs)).map((o) => [
              o.partition,
              o.offset,
            ]),
          )
        : undefined;
    const ranges = planRanges(
      spec,
      offsets.map(({ partition, low, high }) => ({ partition, low, high })),
      await atTime(spec.from),
      await atTime(spec.to),
    );
    return { topic, ranges };
  } finally {
    await admin.disconnect();
  }
}

/** A decoded value; `json` is its JSON text when it was parsed without validation. */
export interface DecodedValue<T> {
  readonly value: T;
  readonly json?: string;
}

/**
 * Decodes a value, validating it against its schema (as the pipeline's stages do) or only parsing
 * it (what a record's producer validated need not be validated again to be shown).
 */
async function decodeValue<T>(
  codec: StageCodec,
  bytes: Buffer | null,
  validate: boolean,
): Promise<DecodedValue<T>> {
  return validate ? { value: await codec.decode<T>(bytes) } : codec.parse<T>(bytes);
}

/**
 * The one place a raw-stage value is opened: decrypted with the tenant's data key by a
 * `RawDecryptor`, the raw stage's one decryption (the redactor uses it too), then decoded. Once
 * the tenant's key is destroyed a new decryptor fails with `KMS_KEY_DESTROYED` for every record.
 */
export async function decodeRawValue(
  codec: StageCodec,
  decryptor: RawDecryptor,
  tenant: string,
  bytes: Buffer | null,
  validate: boolean,
): Promise<DecodedValue<Envelope>> {
  const plain = await decryptor.decrypt(tenant, bytes ?? Buffer.alloc(0));
  return decodeValue<Envelope>(codec, plain, validate);
}

async function decode(
  codec: StageCodec,
  spec: ReplaySpec,
  message: RangeMessage,
  options: RunReplayOptions,
  decryptor: RawDecryptor,
): Promise<ReplayRecord> {
  try {
    const { value, json } =
      spec.stage === 'raw'
        ? await decodeRawValue(codec, decryptor, spec.tenant, message.value, options.validate)
        : await decodeValue(codec, message.value, options.validate);
    return { ...message, decoded: value, ...(json === undefined ? {} : { json }) };
  } catch (error) {
    // A registry outage must stop the replay; a record that cannot be decoded is reported as such.
    if (isRetriable(error)) throw error;
    const code = error instanceof AppError ? error.code : 'KAFKA_DECODE_FAILED';
    return { ...message, decoded: null, error: { code, message: String((error as Error).message) } };
  }
}

/** Takes the records of one chunk; returns how many it wrote. */
export type ReplaySink = (records: readonly ReplayRecord[]) => Promise<number>;

/** Counts of a finished replay. */
export interface ReplayResult {
  /** Records read from the log (transaction markers and aborted records are not records). */
  readonly records: number;
  /** Records the sink wrote: lines, rows or reinjected messages. */
  readonly written: number;
  /** Records that could not be decoded. */
  readonly undecodable: number;
}

/** Options of {@link runReplay}. */
export interface RunReplayOptions {
  /** Prefix of the throwaway consumer group. */
  readonly groupPrefix: string;
  readonly signal?: AbortSignal;
  /**
   * Validate each record against its schema, as the stages do: on for a rebuild and a
   * reinjection, which must behave as the pipeline; off for NDJSON, which shows the log as it is
   * (its producer validated each record) at about twice the speed.
   */
  readonly validate: boolean;
  /** Opens the raw stage's data keys (DESIGN §7). */
  readonly kms: Kms;
}

/** Reads `plan`, decodes every record and hands them to `sink`, at most `spec.rate` per second. */
export async function runReplay(
  kafka: KafkaClient,
  codec: StageCodec,
  spec: ReplaySpec,
  plan: ReplayPlan,
  sink: ReplaySink,
  options: RunReplayOptions,
): Promise<ReplayResult> {
  const pacer = new Pacer(spec.rate);
  // One per replay: a record's data key is unwrapped once, not per record (the gateway encrypts
  // thousands of records under one key, and each unwrap read the tenant's key store from disk).
  const decryptor = new RawDecryptor(options.kms);
  let records = 0;
  let written = 0;
  let undecodable = 0;
  await readRanges(
    kafka,
    plan.topic,
    plan.ranges,
    async (messages, heartbeat) => {
      const chunkSize = pacer.chunkSize();
      for (let start = 0; start < messages.length; start += chunkSize) {
        if (options.signal?.aborted) return;
        const chunk = messages.slice(start, start + chunkSize);
        await pacer.take(chunk.length);
        const decoded: ReplayRecord[] = [];
        for (const message of chunk) decoded.push(await decode(codec, spec, message, options, decryptor));
        records += decoded.length;
        undecodable += decoded.filter((record) => record.error).length;
        written += await sink(decoded);
        await heartbeat();
      }
    },
    options,
  );
  return { records, written, undecodable };
}

/**
 * The write buffer of an NDJSON file: a few batches' worth, so the disk writes one batch while the
 * next is decoded instead of stalling the read at every 16 KiB (Node's default).
 */
export const NDJSON_BUFFER_BYTES = 4 * 1024 * 1024;

/** Writes each record as an NDJSON line to `out`, waiting whenever `out` asks for a pause. */
export function ndjsonSink(spec: ReplaySpec, topic: string, out: Writable): ReplaySink {
  return async (records) => {
    if (out.destroyed) return 0;
    let text = '';
    for (const record of records) text += `${ndjsonLine(toReplayLine(spec, topic, record), record.json)}\n`;
    if (!out.write(text)) {
      await new Promise<void>((resolve, reject) => {
        const done = (error?: Error) => {
          out.off('drain', done);
          out.off('close', done);
          out.off('error', done);
          if (error) reject(error);
          else resolve();
        };
        out.once('drain', done).once('close', done).once('error', done);
      });
    }
    return records.length;
  };
}

/**
 * Projects normalized records into `database` with the projector's own core (`toEventRow`), so a
 * rebuild holds exactly what the live projection would. Records that cannot be decoded are left
 * out, as the projector dead-letters them.
 */
export function rebuildSink(clickhouse: ClickHouse, database: string): ReplaySink {
  const table = `${identifier(database)}.events`;
  return async (records) => {
    const now = Date.now();
    const rows = records
      .filter((record) => !record.error)
      .map((record) =>
        toEventRow(
          upcastNormalized(record.decoded as NormalizedEvent | NormalizedEventV1),
          { partition: record.partition, offset: record.offset },
          now,
        ),
      );
    if (rows.length > 0) await clickhouse.insert(table, rows);
    return rows.length;
  };
}

/** Stages a dead letter may go back to: those a pipeline worker consumes. */
const REINJECTABLE = new Set(['raw', 'redacted', 'normalized']);

/** Where a record goes back into the pipeline, or undefined when it cannot go back. */
export function reinjection(
  spec: ReplaySpec,
  record: ReplayRecord,
): { topic: string; message: ProducerMessage } | undefined {
  if (spec.stage === 'raw') {
    // The bytes exactly as the gateway wrote them: the same idempotency key and content hash.
    return {
      topic: tenantTopic(spec.tenant, 'raw'),
      message: { key: record.key, value: record.value, headers: { ...record.headers } },
    };
  }
  if (spec.stage !== 'dlq' || record.error) return undefined;
  const dead = record.decoded as DlqRecord;
  const source = parseTenantTopic(dead.source.topic);
  // A dead letter names its source topic; it may only go back into its own tenant's pipeline.
  if (!source || source.tenant !== spec.tenant || !REINJECTABLE.has(source.stage)) return undefined;
  return {
    topic: dead.source.topic,
    message: {
      key: dead.original_key ?? null,
      value: Buffer.from(dead.original_base64, 'base64'),
      headers: { ...record.headers },
    },
  };
}

/**
 * Sends records back into the pipeline: raw events to the raw topic, dead letters to the topic
 * they failed on. They keep their bytes, so their idempotency keys: every projection counts each
 * key once, however often it is reinjected.
 */
export function reinjectSink(producer: Pick<KafkaProducer, 'sendBatch'>, spec: ReplaySpec): ReplaySink {
  return async (records) => {
    const byTopic = new Map<string, ProducerMessage[]>();
    for (const record of records) {
      const target = reinjection(spec, record);
      if (target) byTopic.set(target.topic, [...(byTopic.get(target.topic) ?? []), target.message]);
    }
    if (byTopic.size === 0) return 0;
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    return [...byTopic.values()].reduce((sum, messages) => sum + messages.length, 0);
  };
}
