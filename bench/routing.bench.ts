/**
 * The actor path's cost: a no-op action through supervisor → session actor (worker) → result,
 * against a raw worker_threads postMessage round trip measured in the same run.
 *
 *   1. latency: one action at a time, p50/p99, vs raw ping-pong of a similar message, under
 *      each thread placement (free, one core, separate cores: see placement.ts)
 *   2. throughput: many sessions with actions in flight, audit to file on (median of rounds)
 *   3. idle sessions: resident memory held per idle session (10,000 sessions)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRuntime } from '../src/index.ts';
import { canPin, type Placement, pinThreads } from './placement.ts';
import { startRawPingPong } from './raw-ping-pong.ts';
import { round, summarize } from './stats.ts';

export const description = 'no-op action round trip and throughput through the actor path vs raw postMessage';

const IDS = { org_id: 'bench-org', user_id: 'bench-user', agent_id: 'bench-agent' };
const LATENCY_BLOCK = 250;

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const latencyN = Number(options.latency ?? 5000);
  const sessions = Number(options.sessions ?? 256);
  const actionsPerSession = Number(options.actions ?? 200);
  const idleSessions = Number(options.idle ?? 10_000);
  // actions per execute() call in the throughput phase (an external planner submitting a step)
  const batch = Number(options.batch ?? 1);
  const rounds = Number(options.rounds ?? 3);
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-bench-'));
  const runtime = createRuntime(
    {
      log_level: 'warn',
      // relaxed: this bench measures the message path against raw postMessage; what waiting for
      // stable storage adds (strict, the default) is bench/durability.bench.ts's subject.
      audit: { storage_type: 'file', log_dir: path.join(dir, 'audit'), flush_interval: 0.05, durability: 'relaxed' },
      runtime: { sandbox_dir: path.join(dir, 'sandbox'), max_sessions: idleSessions + sessions + 10 },
      policy: { max_iterations: 100_000, max_concurrent_actions: 64 },
    },
    { env: { ENVIRONMENT: 'test' } },
  );
  await runtime.start();
  try {
    // 1. Latency, one action at a time. Baseline and runtime take turns in blocks of
    // LATENCY_BLOCK so both see the same machine state, under each thread placement in turn
    // (see placement.ts: left free, the raw ping-pong shares a core and the runtime does not).
    const pingPong = await startRawPingPong();
    const session = await runtime.createSession({ ...IDS, tools: ['echo'] });
    for (let i = 0; i < 500; i++) await session.execute({ name: 'echo', params: { message: `warm ${i}` } });
    const placements: Placement[] = canPin() ? ['free', 'one_core', 'separate_cores'] : ['free'];
    const latency: Record<string, Record<string, unknown>> = {};
    for (const placement of placements) {
      pinThreads(placement);
      await pingPong.measure(300, []);
      for (let k = 0; k < 300; k++) await session.execute({ name: 'echo', params: { message: `warm ${k}` } });
      const rawSamples: number[] = [];
      const samples: number[] = [];
      for (let done = 0, i = 0; done < latencyN; done += LATENCY_BLOCK) {
        const n = Math.min(LATENCY_BLOCK, latencyN - done);
        await pingPong.measure(n, rawSamples);
        for (let k = 0; k < n; k++, i++) {
          const t0 = performance.now();
          await session.execute({ name: 'echo', params: { message: `hello ${i}` } });
          samples.push(performance.now() - t0);
        }
      }
      const raw = summarize(rawSamples);
      const actor = summarize(samples);
      latency[placement] = {
        raw_postmessage_round_trip: raw,
        runtime_noop_action: actor,
        ratio_p50: round(actor.p50_us / raw.p50_us),
        meets_bar: actor.p50_us <= 3 * raw.p50_us,
      };
    }
    pinThreads('free');
    await pingPong.close();

    // 2. Throughput: `sessions` sessions, each running its actions one after another.
    const many = await Promise.all(
      Array.from({ length: sessions }, () => runtime.createSession({ ...IDS, tools: ['echo'] })),
    );
    const warm = Promise.all(many.map((s) => s.execute({ name: 'echo', params: { message: 'warm' } })));
    await warm;
    // Rounds of `sessions` x `actions`; each starts once the audit writes of what came before
    // (session starts, the previous round) are done, so a round times its own actions only.
    const runs: Array<{ actions_per_s: number; cpu_us_per_action: number; seconds: number }> = [];
    const perAction: number[] = [];
    const total = sessions * actionsPerSession;
    for (let r = 0; r < rounds; r++) {
      await runtime.audit.flush();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        many.map(async (s, si) => {
          for (let i = 0; i < actionsPerSession; i += batch) {
            const a0 = performance.now();
            const step = Array.from({ length: batch }, (_, k) => ({ name: 'echo', params: { message: `${si}-${i + k}` } }));
            const results = await s.execute(step);
            perAction.push(performance.now() - a0);
            for (const res of results) if (!res.success) throw new Error(`action failed: ${JSON.stringify(res.error)}`);
          }
        }),
      );
      const elapsedS = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      runs.push({
        actions_per_s: Math.round(total / elapsedS),
        // CPU of every thread (main, workers, audit) per action: the machine-independent cost.
        cpu_us_per_action: round((cpu.user + cpu.system) / total, 1),
        seconds: round(elapsedS, 3),
      });
    }
    await runtime.audit.flush();
    const byRate = [...runs].sort((x, y) => x.actions_per_s - y.actions_per_s);
    const median = byRate[Math.floor(byRate.length / 2)]!;
    const best = byRate[byRate.length - 1]!;
    const stored = await runtime.audit.count({ org_id: IDS.org_id });
    for (const s of many) await s.end();
    await session.end();

    // 3. Idle sessions: resident memory before and after opening them.
    global.gc?.();
    await new Promise((r) => setTimeout(r, 500));
    const rssBefore = process.memoryUsage().rss;
    const idle = [];
    for (let i = 0; i < idleSessions; i += 500) {
      idle.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(500, idleSessions - i) }, () =>
            runtime.createSession({ ...IDS, tools: ['echo', 'sleep', 'read_file', 'write_file'] }),
          ),
        )),
      );
    }
    await runtime.audit.flush();
    await new Promise((r) => setTimeout(r, 500));
    const rssAfter = process.memoryUsage().rss;
    const perSessionKb = (rssAfter - rssBefore) / 1024 / idleSessions;

    return {
      latency: { bar: 'runtime p50 <= 3x raw p50, each under the same thread placement', ...latency },
      throughput: {
        sessions,
        actions_per_execute: batch,
        actions_per_round: total,
        rounds: runs,
        median_actions_per_s: median.actions_per_s,
        median_cpu_us_per_action: median.cpu_us_per_action,
        best_actions_per_s: best.actions_per_s,
        per_execute_latency: summarize(perAction),
        audit_events_stored: stored,
        audit_storage: 'file',
        bar: '>= 50,000 no-op actions/s',
        meets_bar: median.actions_per_s >= 50_000,
      },
      idle_sessions: {
        sessions: idleSessions,
        rss_before_mb: round(rssBefore / 2 ** 20, 1),
        rss_after_mb: round(rssAfter / 2 ** 20, 1),
        kb_per_session: round(perSessionKb, 1),
        sessions_per_gb: Math.round((1024 * 1024) / perSessionKb),
        bar: '10,000 idle sessions in < 1 GB resident',
        meets_bar: rssAfter < 2 ** 30,
      },
    };
  } finally {
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
