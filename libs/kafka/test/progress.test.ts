import { BatchProgress, LoopLiveness } from '../src/progress';

describe('BatchProgress', () => {
  it('counts a failing batch as busy from its first attempt until it succeeds', () => {
    const progress = new BatchProgress();
    expect(progress.busyForMs(1_000)).toBe(0);
    progress.started('t:0', 1_000);
    progress.started('t:0', 5_000);
    expect(progress.busyForMs(61_000)).toBe(60_000);
    progress.settled('t:0');
    expect(progress.busyForMs(62_000)).toBe(0);
  });

  it('reports the oldest busy partition, and forgets partitions moved away', () => {
    const progress = new BatchProgress();
    progress.started('a:0', 10);
    progress.started('b:1', 20);
    expect(progress.busyForMs(100)).toBe(90);
    progress.retain(new Set(['b:1']));
    expect(progress.busyForMs(100)).toBe(80);
    progress.retain(new Set());
    expect(progress.busyForMs(100)).toBe(0);
  });
});

describe('LoopLiveness', () => {
  it('is alive while the loop beats within the bound, and not once it stops beating', () => {
    const liveness = new LoopLiveness(1_000, 0);
    expect(liveness.alive(999)).toBe(true);
    expect(liveness.alive(1_000)).toBe(false);
    liveness.beat(1_500);
    expect(liveness.alive(2_400)).toBe(true);
    // A beat reported late never moves the last progress back.
    liveness.beat(1_200);
    expect(liveness.alive(2_499)).toBe(true);
    expect(liveness.alive(2_500)).toBe(false);
  });
});
