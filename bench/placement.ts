/**
 * Thread placement for latency benchmarks (Linux, with util-linux's taskset).
 *
 * A round trip between two threads costs ~18 µs here when both run on one core and ~50-70 µs
 * when they sit on two (waking an idle vCPU). Left free, the scheduler places a two-thread
 * ping-pong on one core most of the time, and the runtime's threads (caller, session worker,
 * audit thread) on two: comparing those compares placements, not code. Pinning every thread of
 * the process the same way for both sides compares like with like.
 *
 *   free            the scheduler decides (as a deployment runs)
 *   one_core        every thread on CPU 0
 *   separate_cores  the calling (main) thread on CPU 0, every other thread on CPU 1
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export type Placement = 'free' | 'one_core' | 'separate_cores';

// Read once, at load: availableParallelism() follows the calling thread's affinity, so after
// pinning it would report one CPU and 'free' could never be restored.
const CPUS = availableParallelism();

/** Whether threads can be pinned here: Linux, taskset installed, two CPUs or more. */
export function canPin(): boolean {
  if (process.platform !== 'linux' || CPUS < 2) return false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins every thread of this process for `placement` (threads started later inherit their creator's). */
export function pinThreads(placement: Placement): void {
  const all = `0-${CPUS - 1}`;
  for (const tid of readdirSync('/proc/self/task')) {
    const cpus = placement === 'free' ? all : placement === 'one_core' || Number(tid) === process.pid ? '0' : '1';
    try {
      execFileSync('taskset', ['-p', '-c', cpus, tid], { stdio: 'ignore' });
    } catch {
      // The thread exited between the listing and the call.
    }
  }
}
