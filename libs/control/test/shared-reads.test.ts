import { SharedReads } from '../src/shared-reads';

/** Reads that finish when the test says, on a clock the test moves. */
function harness() {
  let clock = 0n;
  const reads: { startedNs: bigint; finish: (error?: Error) => void }[] = [];
  const shared = new SharedReads(
    () =>
      new Promise<void>((resolve, reject) => {
        reads.push({ startedNs: clock, finish: (error) => (error ? reject(error) : resolve()) });
      }),
    () => clock,
  );
  return {
    shared,
    reads,
    tick: () => {
      clock += 1n;
      return clock;
    },
  };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('SharedReads', () => {
  it('lets callers that asked before a read started share it', async () => {
    const { shared, reads, tick } = harness();
    const asked = tick();
    const first = shared.startedAfter(asked);
    const second = shared.startedAfter(asked);
    expect(reads).toHaveLength(1);
    reads[0]!.finish();
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
  });

  it('gives a caller who asked after the read in flight started a read of its own, queued once', async () => {
    const { shared, reads, tick } = harness();
    const early = shared.startedAfter(tick());
    const late = [shared.startedAfter(tick()), shared.startedAfter(tick()), shared.startedAfter(tick())];
    expect(reads).toHaveLength(1);
    reads[0]!.finish();
    await early;
    await settled();
    expect(reads).toHaveLength(2);
    expect(reads[1]!.startedNs).toBeGreaterThanOrEqual(3n);
    reads[1]!.finish();
    await expect(Promise.all(late)).resolves.toHaveLength(3);
  });

  it('passes a failed read on to its callers, and starts afresh after it', async () => {
    const { shared, reads, tick } = harness();
    const failing = shared.startedAfter(tick());
    reads[0]!.finish(new Error('no broker'));
    await expect(failing).rejects.toThrow('no broker');
    const next = shared.startedAfter(tick());
    expect(reads).toHaveLength(2);
    reads[1]!.finish();
    await expect(next).resolves.toBeUndefined();
  });
});
