import { RoundGate } from '../src/round';

describe('RoundGate', () => {
  it('does the items joined in one turn of the event loop as one round', async () => {
    const rounds: number[][] = [];
    const gate = new RoundGate<number>(async (items) => {
      rounds.push(items);
    });
    await Promise.all([gate.join(1), gate.join(2), gate.join(3)]);
    await gate.join(4);
    expect(rounds).toEqual([[1, 2, 3], [4]]);
  });

  it('runs rounds one after another, never side by side', async () => {
    let running = 0;
    let most = 0;
    const gate = new RoundGate<number>(async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running -= 1;
    });
    const first = gate.join(1);
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([first, gate.join(2), gate.join(3)]);
    expect(most).toBe(1);
  });

  it('fails every member of a failed round, and goes on with the next', async () => {
    let calls = 0;
    const gate = new RoundGate<number>(async () => {
      calls += 1;
      if (calls === 1) throw new Error('broker away');
    });
    const results = await Promise.allSettled([gate.join(1), gate.join(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(gate.join(3)).resolves.toBeUndefined();
  });
});
