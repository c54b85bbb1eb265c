/**
 * Owns a tenant's freshness watermark (DESIGN §10): the time T such that every event the gateway
 * accepted before T is projected. Pure; the projector feeds it Kafka offsets and what ClickHouse
 * holds.
 *
 * How: the gateway answers 202 only after the raw topic acknowledged the event, so an event
 * accepted before `at_ms` sits below the raw end offsets read just after `at_ms` (a snapshot).
 * Every projected row records its raw partition and offset, so once the projected rows reach a
 * snapshot's end offsets in every raw partition, everything accepted before that snapshot's
 * `at_ms` is projected. The watermark is the newest snapshot reached. It never moves back.
 *
 * Limit: an event dead-lettered on the way never reaches ClickHouse, so if it is the last in its
 * raw partition the watermark waits for the next event of that partition to be projected.
 */

/** End offsets of a tenant's raw topic, read just after `at_ms`, by partition. */
export interface RawSnapshot {
  readonly at_ms: number;
  readonly ends: ReadonlyMap<number, bigint>;
}

/** A tenant's watermark and the snapshots it has not reached yet, oldest first. */
export interface WatermarkState {
  readonly watermark_ms: number;
  readonly pending: readonly RawSnapshot[];
}

export const INITIAL_WATERMARK: WatermarkState = { watermark_ms: 0, pending: [] };

/**
 * Adds `snapshot` and advances the watermark with `projectedNext` (per raw partition, the offset
 * after the highest one projected). At most `maxPending` snapshots are kept; dropping the oldest
 * only delays the watermark, it never makes it claim too much.
 */
export function advanceWatermark(
  state: WatermarkState,
  snapshot: RawSnapshot,
  projectedNext: ReadonlyMap<number, bigint>,
  maxPending = 64,
): WatermarkState {
  const pending = [...state.pending, snapshot].slice(-maxPending);
  const reached = (s: RawSnapshot) =>
    [...s.ends].every(([partition, end]) => (projectedNext.get(partition) ?? 0n) >= end);
  let newest = -1;
  for (let i = pending.length - 1; i >= 0; i -= 1) {
    if (reached(pending[i]!)) {
      newest = i;
      break;
    }
  }
  if (newest < 0) return { watermark_ms: state.watermark_ms, pending };
  return {
    watermark_ms: Math.max(state.watermark_ms, pending[newest]!.at_ms),
    pending: pending.slice(newest + 1),
  };
}
