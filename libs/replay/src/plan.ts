/**
 * Owns what a replay reads (DESIGN §12): the request as the CLI and the API take it, checked once,
 * and the per-partition offset ranges it resolves to against the log's current offsets. Pure: the
 * caller fetches the offsets.
 */
import { TENANT_STAGES, assertTenantSlug, type TenantStage } from '@aispm/contracts';
import { AppError } from '@aispm/errors';

/** Where a replay starts or stops: an offset (on every partition read) or a time. */
export type ReplayBound = { readonly offset: string } | { readonly timeMs: number };

/** What to replay. */
export interface ReplaySpec {
  readonly tenant: string;
  readonly stage: TenantStage;
  /** Partitions to read; absent reads all. */
  readonly partitions?: readonly number[];
  /** First offset (inclusive) or first time (the first record at or after it). */
  readonly from?: ReplayBound;
  /** Last offset (inclusive) or a time (records before it); absent is "now": the end at start. */
  readonly to?: ReplayBound;
  /** Records per second at most; absent is as fast as the log can be read. */
  readonly rate?: number;
}

/** The raw request fields, as CLI flags (`--from-offset`) or API query parameters (`from_offset`). */
export interface ReplayRequest {
  readonly tenant: string;
  readonly stage?: string;
  readonly partitions?: readonly string[];
  readonly fromOffset?: string;
  readonly fromTime?: string;
  readonly toOffset?: string;
  readonly toTime?: string;
  readonly rate?: string;
}

function invalid(message: string): AppError {
  return new AppError('REPLAY_INVALID_REQUEST', message);
}

const OFFSET = /^\d{1,19}$/;

/** A time as epoch milliseconds, or an ISO 8601 date-time with an explicit zone. */
function parseTime(raw: string, name: string): number {
  if (/^\d{1,15}$/.test(raw)) return Number(raw);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) {
    throw invalid(`${name} must be epoch milliseconds or an ISO 8601 time with a zone, got "${raw}"`);
  }
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw invalid(`${name} is not a valid time: "${raw}"`);
  return ms;
}

function bound(
  offset: string | undefined,
  time: string | undefined,
  side: 'from' | 'to',
): ReplayBound | undefined {
  if (offset !== undefined && time !== undefined) {
    throw invalid(`give ${side}-offset or ${side}-time, not both`);
  }
  if (offset !== undefined) {
    if (!OFFSET.test(offset)) throw invalid(`${side}-offset must be a whole number, got "${offset}"`);
    return { offset: BigInt(offset).toString() };
  }
  return time === undefined ? undefined : { timeMs: parseTime(time, `${side}-time`) };
}

/** Checks a request and returns the replay it asks for; REPLAY_INVALID_REQUEST names what is wrong. */
export function parseReplayRequest(request: ReplayRequest): ReplaySpec {
  if (!request.stage || !(TENANT_STAGES as readonly string[]).includes(request.stage)) {
    throw invalid(`stage must be one of ${TENANT_STAGES.join(', ')}, got "${request.stage ?? ''}"`);
  }
  const tenant = assertTenantSlug(request.tenant);
  const partitions = (request.partitions ?? [])
    .flatMap((part) => part.split(','))
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      if (!/^\d{1,5}$/.test(part)) throw invalid(`partition must be a whole number, got "${part}"`);
      return Number(part);
    });
  const from = bound(request.fromOffset, request.fromTime, 'from');
  const to = bound(request.toOffset, request.toTime, 'to');
  if (from && to && 'offset' in from && 'offset' in to && BigInt(from.offset) > BigInt(to.offset)) {
    throw invalid(`from-offset ${from.offset} is after to-offset ${to.offset}`);
  }
  if (from && to && 'timeMs' in from && 'timeMs' in to && from.timeMs > to.timeMs) {
    throw invalid('from-time is after to-time');
  }
  let rate: number | undefined;
  if (request.rate !== undefined) {
    rate = Number(request.rate);
    if (!/^\d+(\.\d+)?$/.test(request.rate) || !(rate > 0)) {
      throw invalid(`rate must be a positive number of records per second, got "${request.rate}"`);
    }
  }
  return {
    tenant,
    stage: request.stage as TenantStage,
    ...(partitions.length > 0 ? { partitions: [...new Set(partitions)].sort((a, b) => a - b) } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(rate === undefined ? {} : { rate }),
  };
}

/** A partition's offsets as the log reports them: the first kept and the end (next to write). */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

/** One partition's range: `from` inclusive, `to` exclusive; equal when nothing is read there. */
export interface ReplayRange {
  readonly partition: number;
  readonly from: string;
  readonly to: string;
}

/** Per partition, the first offset at or after a time (the end when no record is that late). */
export type OffsetsAtTime = ReadonlyMap<number, string>;

const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);

/**
 * The range of every partition of the topic. A partition not asked for gets an empty range at its
 * end; bounds are clamped to what the log still holds, and the end is the one captured now, so a
 * replay of a live topic terminates. `fromTime` and `toTime` are the offsets of `spec`'s time
 * bounds, when it has them.
 */
export function planRanges(
  spec: ReplaySpec,
  offsets: readonly PartitionOffsets[],
  fromTime?: OffsetsAtTime,
  toTime?: OffsetsAtTime,
): ReplayRange[] {
  const known = new Set(offsets.map((o) => o.partition));
  for (const partition of spec.partitions ?? []) {
    if (!known.has(partition)) {
      throw invalid(
        `the ${spec.stage} topic of ${spec.tenant} has no partition ${partition} (it has ${known.size})`,
      );
    }
  }
  const at = (times: OffsetsAtTime | undefined, partition: number, fallback: bigint) =>
    BigInt(times?.get(partition) ?? fallback.toString());
  return [...offsets]
    .sort((a, b) => a.partition - b.partition)
    .map(({ partition, low, high }) => {
      const first = BigInt(low);
      const end = BigInt(high);
      if (spec.partitions && !spec.partitions.includes(partition)) {
        return { partition, from: high, to: high };
      }
      let from = first;
      if (spec.from) from = 'offset' in spec.from ? BigInt(spec.from.offset) : at(fromTime, partition, end);
      let to = end;
      if (spec.to) to = 'offset' in spec.to ? BigInt(spec.to.offset) + 1n : at(toTime, partition, end);
      from = min(max(from, first), end);
      to = max(min(to, end), from);
      return { partition, from: from.toString(), to: to.toString() };
    });
}

/** How many offsets the ranges span: what a dry run reports (transaction markers included). */
export function countOffsets(ranges: readonly ReplayRange[]): number {
  return ranges.reduce((sum, range) => sum + Number(BigInt(range.to) - BigInt(range.from)), 0);
}
