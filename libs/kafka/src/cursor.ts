/**
 * Owns the stream cursor: where a reader of a multi-partition topic stands, as one opaque string
 * (the SSE event id of the live stream, DESIGN §10). It lists, per partition, the next offset to
 * read, so resuming from it neither skips nor repeats a message whatever order the partitions
 * were read in. Format: `<partition>:<offset>` pairs joined by `.`, sorted by partition.
 */

/** Per partition, the next offset to read. */
export type Cursor = ReadonlyMap<number, bigint>;

const PAIR = /^(\d{1,5}):(\d{1,19})$/;
const MAX_PARTITIONS = 1024;

/** The cursor as an SSE event id. */
export function formatCursor(cursor: Cursor): string {
  return [...cursor]
    .sort(([a], [b]) => a - b)
    .map(([partition, offset]) => `${partition}:${offset}`)
    .join('.');
}

/** The cursor an event id names, or undefined when it is not one. */
export function parseCursor(text: string): Cursor | undefined {
  const pairs = text.split('.');
  if (pairs.length === 0 || pairs.length > MAX_PARTITIONS) return undefined;
  const cursor = new Map<number, bigint>();
  for (const pair of pairs) {
    const match = PAIR.exec(pair);
    if (!match) return undefined;
    const partition = Number(match[1]);
    if (cursor.has(partition)) return undefined;
    cursor.set(partition, BigInt(match[2]!));
  }
  return cursor;
}

/** A partition's retained range: its first offset and the offset after its last message. */
export interface RetainedRange {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

/**
 * Where to start reading. Without a cursor, at the end (live updates only). With one, at its
 * offsets; a partition it does not name (added since) starts at its first offset. `gap` says
 * retention already deleted part of what the cursor asked for, so the reader knows it missed some.
 */
export function startPositions(
  cursor: Cursor | undefined,
  ranges: readonly RetainedRange[],
): { positions: Map<number, bigint>; gap: boolean } {
  const positions = new Map<number, bigint>();
  let gap = false;
  for (const range of ranges) {
    const low = BigInt(range.low);
    const high = BigInt(range.high);
    if (!cursor) {
      positions.set(range.partition, high);
      continue;
    }
    const wanted = cursor.get(range.partition) ?? low;
    if (wanted < low) gap = true;
    positions.set(range.partition, wanted < low ? low : wanted > high ? high : wanted);
  }
  return { positions, gap };
}
