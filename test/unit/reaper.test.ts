import { readFileSync } from 'node:fs';
import { reapAll, spawnTracked } from '../support/reaper';

/** Running: it exists and is not a zombie (an orphan waits as one until init reaps it). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('reaper', () => {
  it('stops what a suite left running, grandchildren included, when the suite ends', async () => {
    // A shell that ignores SIGTERM, with a child of its own: only the group's SIGKILL ends both.
    const child = spawnTracked('bash', ['-c', "trap '' TERM; sleep 300 & echo $!; wait"], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const grandchild = await new Promise<number>((resolve) =>
      child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    expect(alive(child.pid!)).toBe(true);
    expect(alive(grandchild)).toBe(true);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await reapAll();
    await exited;
    // SIGKILL is delivered at once, but the grandchild takes a moment to be gone.
    for (let waited = 0; alive(grandchild) && waited < 5_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(alive(grandchild)).toBe(false);
  }, 30_000);

  it('has nothing left to do for a child that already exited', async () => {
    const child = spawnTracked('true', [], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    await expect(reapAll()).resolves.toBeUndefined();
  });
});
