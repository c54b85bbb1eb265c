import { advanceWatermark, INITIAL_WATERMARK, type RawSnapshot } from '../src';

const snap = (at_ms: number, ends: [number, bigint][]): RawSnapshot => ({ at_ms, ends: new Map(ends) });

describe('advanceWatermark', () => {
  it('moves to the newest snapshot whose end offsets are projected in every partition', () => {
    let state = advanceWatermark(
      INITIAL_WATERMARK,
      snap(100, [
        [0, 5n],
        [1, 2n],
      ]),
      new Map([[0, 5n]]),
    );
    expect(state.watermark_ms).toBe(0);
    state = advanceWatermark(
      state,
      snap(200, [
        [0, 6n],
        [1, 3n],
      ]),
      new Map([
        [0, 5n],
        [1, 2n],
      ]),
    );
    // The snapshot at 100 is reached; the one at 200 is not (partition 0 ends at 6).
    expect(state.watermark_ms).toBe(100);
    expect(state.pending.map((s) => s.at_ms)).toEqual([200]);
    state = advanceWatermark(
      state,
      snap(300, [
        [0, 9n],
        [1, 3n],
      ]),
      new Map([
        [0, 9n],
        [1, 3n],
      ]),
    );
    expect(state).toEqual({ watermark_ms: 300, pending: [] });
  });

  it('counts a partition with nothing in it as reached, and never moves back', () => {
    const state = advanceWatermark({ watermark_ms: 500, pending: [] }, snap(400, [[0, 0n]]), new Map());
    expect(state.watermark_ms).toBe(500);
  });

  it('keeps at most maxPending snapshots', () => {
    let state = INITIAL_WATERMARK;
    for (let at = 1; at <= 10; at += 1) state = advanceWatermark(state, snap(at, [[0, 100n]]), new Map(), 3);
    expect(state.pending.map((s) => s.at_ms)).toEqual([8, 9, 10]);
    expect(state.watermark_ms).toBe(0);
  });
});
