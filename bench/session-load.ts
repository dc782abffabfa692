/**
 * The load shape of the "what does X cost per action" benchmarks (policy.bench.ts,
 * telemetry.bench.ts): two runtimes in one process run, `sessions` sessions each, every session
 * running `actions` actions one after another, the runtimes taking turns round by round so both
 * see the same machine. Reports each runtime's median actions/s and latency.
 */
import type { Runtime, SessionRequest } from '../src/index.ts';
import { median, summarize } from './stats.ts';

export interface LoadResult {
  rounds_actions_per_s: number[];
  median_actions_per_s: number;
  /** process CPU time (every thread) per action, median over rounds: steadier than wall time */
  median_cpu_us_per_action: number;
  latency: ReturnType<typeof summarize>;
}

export async function alternatingLoad<M extends string>(options: {
  runtimes: Record<M, Runtime>;
  request: SessionRequest;
  sessions: number;
  actions: number;
  rounds: number;
  tool: string;
  params: (session: number, i: number) => Record<string, unknown>;
}): Promise<Record<M, LoadResult>> {
  const modes = Object.keys(options.runtimes) as M[];
  const sessionsOf = {} as Record<M, Awaited<ReturnType<Runtime['createSession']>>[]>;
  for (const mode of modes) {
    sessionsOf[mode] = await Promise.all(
      Array.from({ length: options.sessions }, () => options.runtimes[mode].createSession(options.request)),
    );
  }
  const perMode = Object.fromEntries(
    modes.map((m) => [m, { rates: [] as number[], cpu: [] as number[], latencies: [] as number[] }]),
  ) as Record<M, { rates: number[]; cpu: number[]; latencies: number[] }>;
  for (let r = 0; r < options.rounds; r++) {
    for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
      await options.runtimes[mode].audit.flush();
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      await Promise.all(
        sessionsOf[mode].map(async (s, si) => {
          for (let i = 0; i < options.actions; i++) {
            const a0 = performance.now();
            const result = await s.execute({ name: options.tool, params: options.params(si, i) });
            perMode[mode].latencies.push(performance.now() - a0);
            if (!result.success) throw new Error(`action failed: ${JSON.stringify(result.error)}`);
          }
        }),
      );
      const cpu = process.cpuUsage(cpu0);
      perMode[mode].cpu.push((cpu.user + cpu.system) / (options.sessions * options.actions));
      perMode[mode].rates.push(
        Math.round((options.sessions * options.actions) / ((performance.now() - t0) / 1000)),
      );
    }
  }
  return Object.fromEntries(
    modes.map((m) => [
      m,
      {
        rounds_actions_per_s: perMode[m].rates,
        median_actions_per_s: median(perMode[m].rates),
        median_cpu_us_per_action: Math.round(median(perMode[m].cpu) * 10) / 10,
        latency: summarize(perMode[m].latencies),
      },
    ]),
  ) as Record<M, LoadResult>;
}
