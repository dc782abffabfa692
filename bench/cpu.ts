/**
 * CPU time, for benchmarks that need to say where the time went: this process (every thread)
 * and the PostgreSQL server's processes (from /proc; Linux only, empty elsewhere), including
 * backends that have exited since (the postmaster's reaped children).
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ, 100 on every Linux this runs on

export interface CpuReading {
  /** CPU seconds of this process, all threads */
  runtime: number;
  /** CPU seconds of the threads asked for by name */
  threads: Record<string, number>;
  /** CPU seconds of every process named postgres */
  postgres: number;
}

/** Thread ids of this process now (Linux; empty elsewhere). Diff two calls to find a new Worker's thread. */
export function threadIds(): string[] {
  try {
    return readdirSync('/proc/self/task');
  } catch {
    return [];
  }
}

/** `threads` names thread ids (from threadIds()) whose CPU time is read on their own. */
export function readCpu(threads: Record<string, string> = {}): CpuReading {
  const usage = process.cpuUsage();
  const perThread: Record<string, number> = {};
  for (const [name, tid] of Object.entries(threads)) perThread[name] = statSeconds(`/proc/self/task/${tid}/stat`) ?? 0;
  return { runtime: (usage.user + usage.system) / 1e6, threads: perThread, postgres: postgresCpuSeconds() };
}

/**
 * Microseconds of CPU per item between two readings: the whole process, each named thread,
 * the rest of the process (V8's GC and compiler threads, libuv's pool), and PostgreSQL.
 */
export function cpuPerItem(before: CpuReading, after: CpuReading, items: number): Record<string, number> {
  const us = (seconds: number) => Math.round((seconds * 1e6 * 10) / items) / 10;
  const out: Record<string, number> = {};
  let named = 0;
  for (const name of Object.keys(after.threads)) {
    const spent = after.threads[name]! - (before.threads[name] ?? 0);
    named += spent;
    out[`${name}_us`] = us(spent);
  }
  const runtime = after.runtime - before.runtime;
  if (named > 0) out.other_threads_us = us(Math.max(0, runtime - named));
  out.runtime_us = us(runtime);
  out.postgres_us = us(after.postgres - before.postgres);
  return out;
}

/** utime + stime; with `reaped`, also the children it has waited for (cutime + cstime). */
function statSeconds(file: string, reaped = false): number | undefined {
  try {
    const stat = readFileSync(file, 'utf8');
    // Fields after "(comm) ": state is [0]; utime, stime, cutime, cstime are [11]..[14] (stat(5) 14-17).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(f[11]) + Number(f[12]);
    return (reaped ? own + Number(f[13]) + Number(f[14]) : own) / TICKS_PER_S;
  } catch {
    return undefined;
  }
}

function postgresCpuSeconds(): number {
  let seconds = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const pid of pids) {
    if (!/^\d+$/.test(pid)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8');
    } catch {
      continue; // the process exited while we looked
    }
    // A backend that has exited (psql's, after its \\copy) is counted in the postmaster's
    // cutime/cstime once reaped; no other postgres process has children.
    if (comm.trim() === 'postgres') seconds += statSeconds(`/proc/${pid}/stat`, true) ?? 0;
  }
  return seconds;
}
