/** CPU pinning for benchmarks: the load generator on core 1, servers on core 0 (when `taskset` exists). */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether processes are pinned. Importing this module pins the current process to core 1. */
export const pinned = hasTaskset();
if (pinned) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });

/** Spawns a Node process running `args`, on core 0 when pinning is available. */
export function spawnServer(args: string[], options: SpawnOptions): ChildProcess {
  return pinned
    ? spawn('taskset', ['-c', '0', process.execPath, ...args], options)
    : spawn(process.execPath, args, options);
}
