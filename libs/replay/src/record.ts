/**
 * Owns the shape of what a replay emits: one NDJSON line per record, and the detail of the audit
 * event every replay writes. Pure.
 */
import type { TenantStage } from '@aispm/contracts';
import type { TopicMessage } from '@aispm/kafka';
import { countOffsets, type ReplayBound, type ReplayRange, type ReplaySpec } from './plan';

/** A record read from the log, decoded, or with the reason it could not be. */
export interface ReplayRecord extends TopicMessage {
  /** The decoded value; null when it could not be decoded (`error` says why). */
  readonly decoded: unknown;
  /** The decoded value's JSON text, when the decoder kept it. */
  readonly json?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** One NDJSON line of a replay (without the newline). */
export interface ReplayLine {
  readonly tenant: string;
  readonly stage: TenantStage;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly timestamp_ms: number;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly value: unknown;
  /** Only for a record that could not be decoded: why, and its bytes as they are in the log. */
  readonly error?: { readonly code: string; readonly message: string };
  readonly value_base64?: string;
}

/** The NDJSON line of a record. */
export function toReplayLine(spec: ReplaySpec, topic: string, record: ReplayRecord): ReplayLine {
  return {
    tenant: spec.tenant,
    stage: spec.stage,
    topic,
    partition: record.partition,
    offset: record.offset,
    timestamp_ms: record.timestampMs,
    key: record.key === null ? null : record.key.toString('utf8'),
    headers: record.headers,
    value: record.error ? null : record.decoded,
    ...(record.error
      ? { error: record.error, value_base64: (record.value ?? Buffer.alloc(0)).toString('base64') }
      : {}),
  };
}

/**
 * A line as NDJSON text. With the value's JSON text at hand (parsed, so valid), it is spliced in
 * rather than serialised again, which halves the cost of a line; text spanning several lines is
 * serialised anew, since NDJSON is one line per record.
 */
export function ndjsonLine(line: ReplayLine, json: string | undefined): string {
  if (json === undefined || line.error || json.includes('\n') || json.includes('\r'))
    return JSON.stringify(line);
  const { value: _value, ...rest } = line;
  return `${JSON.stringify(rest).slice(0, -1)},"value":${json}}`;
}

/** What a replay does with the records it reads. */
export type ReplayMode = 'read' | 'dry_run' | 'rebuild' | 'reinject';

function describeBound(bound: ReplayBound | undefined): string | null {
  if (!bound) return null;
  return 'offset' in bound ? `offset ${bound.offset}` : `time ${new Date(bound.timeMs).toISOString()}`;
}

/**
 * The detail of a replay's audit event: what was asked, the ranges it resolved to and through
 * which door (`cli` or `api`). Never a record's content.
 */
export function replayAuditDetail(
  spec: ReplaySpec,
  topic: string,
  ranges: readonly ReplayRange[],
  mode: ReplayMode,
  via: 'cli' | 'api',
  target?: string,
): Record<string, unknown> {
  return {
    stage: spec.stage,
    topic,
    mode,
    via,
    from: describeBound(spec.from),
    to: describeBound(spec.to),
    rate: spec.rate ?? null,
    ranges: ranges.filter((range) => range.from !== range.to),
    offsets: countOffsets(ranges),
    ...(target === undefined ? {} : { target }),
  };
}
