/**
 * What "acknowledged means durable" costs (issue 15): the same load through two runtimes in one
 * process run, AUDIT_DURABILITY=strict (a result leaves once its closing event is fsync'd; a
 * tool with side effects waits for its action_started too) and relaxed (results leave before
 * their events are written), file audit store, taking turns round by round so both see the same
 * machine. The raw worker_threads ping-pong of the same run is the common baseline.
 *
 *   npm run bench -- durability [--sessions 256] [--actions 100] [--rounds 3] [--tool echo|write_file]
 *
 * Goal: strict keeps ≥ 70% of relaxed throughput at 256 sessions (group commit: one fdatasync
 * for every session waiting at that moment).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRuntime, type Runtime } from '../src/index.ts';
import { startRawPingPong } from './raw-ping-pong.ts';
import { round, summarize } from './stats.ts';

export const description =
  'AUDIT_DURABILITY strict vs relaxed: throughput and latency at many sessions, file store';

const IDS = { org_id: 'bench-org', user_id: 'bench-user', agent_id: 'bench-agent' };
type Mode = 'strict' | 'relaxed';

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const sessions = Number(options.sessions ?? 256);
  const actionsPerSession = Number(options.actions ?? 100);
  const rounds = Number(options.rounds ?? 3);
  const tool = options.tool === 'write_file' ? 'write_file' : 'echo';
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-bench-durability-'));
  const runtimes = {} as Record<Mode, Runtime>;
  try {
    for (const mode of ['strict', 'relaxed'] as const) {
      runtimes[mode] = createRuntime(
        {
          log_level: 'warn',
          audit: { storage_type: 'file', log_dir: path.join(dir, mode, 'audit'), durability: mode },
          runtime: { workers: 2, sandbox_dir: path.join(dir, mode, 'sandbox'), max_sessions: sessions + 10 },
          policy: { max_iterations: 1_000_000, max_concurrent_actions: 64 },
        },
        { env: { ENVIRONMENT: 'test' } },
      );
      await runtimes[mode].start();
    }
    const pingPong = await startRawPingPong();
    const rawSamples: number[] = [];
    await pingPong.measure(2000, rawSamples);
    await pingPong.close();

    const open = async (mode: Mode) =>
      Promise.all(
        Array.from({ length: sessions }, () => runtimes[mode].createSession({ ...IDS, tools: [tool] })),
      );
    const sessionsOf = { strict: await open('strict'), relaxed: await open('relaxed') };
    const params = (si: number, i: number) =>
      tool === 'echo' ? { message: `${si}-${i}` } : { path: `f${i % 8}.txt`, content: `${si}-${i}` };

    const perMode: Record<Mode, { rates: number[]; latencies: number[]; cpu: number[] }> = {
      strict: { rates: [], latencies: [], cpu: [] },
      relaxed: { rates: [], latencies: [], cpu: [] },
    };
    for (let r = 0; r < rounds; r++) {
      for (const mode of r % 2 === 0 ? (['strict', 'relaxed'] as const) : (['relaxed', 'strict'] as const)) {
        await runtimes[mode].audit.flush();
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await Promise.all(
          sessionsOf[mode].map(async (s, si) => {
            for (let i = 0; i < actionsPerSession; i++) {
              const a0 = performance.now();
              const result = await s.execute({ name: tool, params: params(si, i) });
              perMode[mode].latencies.push(performance.now() - a0);
              if (!result.success) throw new Error(`action failed: ${JSON.stringify(result.error)}`);
            }
          }),
        );
        const elapsedS = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const total = sessions * actionsPerSession;
        perMode[mode].rates.push(Math.round(total / elapsedS));
        perMode[mode].cpu.push(round((cpu.user + cpu.system) / total, 1));
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const summary = (mode: Mode) => ({
      rounds_actions_per_s: perMode[mode].rates,
      median_actions_per_s: median(perMode[mode].rates),
      cpu_us_per_action: median(perMode[mode].cpu),
      latency: summarize(perMode[mode].latencies),
    });
    const strict = summary('strict');
    const relaxed = summary('relaxed');
    const baseline = summarize(rawSamples);
    return {
      tool,
      sessions,
      actions_per_session: actionsPerSession,
      baseline_raw_postmessage_round_trip: baseline,
      strict,
      relaxed,
      strict_vs_relaxed_throughput: round(strict.median_actions_per_s / relaxed.median_actions_per_s),
      p50_vs_baseline: {
        strict: round(strict.latency.p50_us / baseline.p50_us),
        relaxed: round(relaxed.latency.p50_us / baseline.p50_us),
      },
      bar: 'strict keeps >= 70% of relaxed throughput at 256 sessions',
      meets_bar: strict.median_actions_per_s >= 0.7 * relaxed.median_actions_per_s,
    };
  } finally {
    for (const runtime of Object.values(runtimes)) await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
