/**
 * What a suite started must not outlive it. Every child process a test spawns goes through
 * `spawnTracked`, in a process group of its own, and every private server registers its stop with
 * `onSuiteEnd`; the suites' jest environment (`reaping-environment.js`) empties the registry
 * after each suite's own hooks, whatever happened in them. Without it, a suite whose `beforeAll`
 * threw after starting services left them running, and jest waited on them forever instead of
 * printing its summary.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

type Cleanup = () => Promise<void>;

const cleanups = new Set<Cleanup>();
const groups = new Set<number>();

/** Runs `cleanup` when the suite ends unless it was unregistered first; returns the unregister. */
export function onSuiteEnd(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM to the child's group, SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopGroup(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.pid === undefined) return;
  const pid = child.pid;
  if (!exited(child)) {
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
    await done;
    clearTimeout(timer);
  }
  // A grandchild the child left behind in its group (a proxied server, a shell's job).
  signalGroup(pid, 'SIGKILL');
  groups.delete(pid);
}

/**
 * `spawn` in a process group of its own, stopped (the whole group) when the suite ends if the
 * test did not stop it first.
 */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  if (child.pid === undefined) return child;
  const pid = child.pid;
  groups.add(pid);
  const unregister = onSuiteEnd(() => stopGroup(child));
  child.once('exit', () => {
    unregister();
    groups.delete(pid);
  });
  return child;
}

/** Runs every registered cleanup; one that fails does not keep the others from running. */
export async function reapAll(): Promise<void> {
  const pending = [...cleanups];
  cleanups.clear();
  const results = await Promise.allSettled(pending.map((cleanup) => cleanup()));
  for (const result of results) {
    if (result.status === 'rejected')
      process.stderr.write(`suite cleanup failed: ${String(result.reason)}\n`);
  }
}

// A worker that exits without its afterAll (an uncaught error, a forced exit) still takes its
// children with it; only synchronous work runs here.
process.once('exit', () => {
  for (const pid of groups) signalGroup(pid, 'SIGKILL');
});

// The environment finds the registry here, on the suite's global object.
(globalThis as Record<symbol, unknown>)[Symbol.for('aispm.test.reaper')] = { reapAll };
