/**
 * The floor under issue 2's speed bars: what a no-op action costs when only the work the
 * design and the issue require is done, through the same threads, codec and audit actor.
 *
 *   main (256 callers) ──exec frames──► 2 workers (bench/fixtures/floor-host.ts: two
 *   hash-chained audit events per action, a result) ──reply frames──► main
 *   workers ──audit.append frames──► the real audit thread (file store) ──acks──► workers
 *
 * Run in the same process, side by side: the raw postMessage ping-pong (the bars' baseline),
 * this floor, and the runtime itself. If the floor misses a bar, no implementation of the
 * design reaches it on this machine; the gap between floor and runtime is what the runtime's
 * own steps cost (session actor, validation, policy, concurrency slot, timeout, metrics).
 *
 *   npm run bench -- floor [--sessions 256] [--actions 200] [--latency 5000] [--rounds 3]
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { loadConfig } from '../config/load.ts';
import type { ConfigInput } from '../config/schema.ts';
import { createRuntime } from '../src/index.ts';
import { MessagePortTransport } from '../src/transport/message-port.ts';
import { MODULE_EXT, workerBootstrap, workerEntry } from '../src/worker-entry.ts';
import type { AuditApi } from '../src/audit/audit-api.ts';
import type { FloorExec, FloorReply } from './fixtures/floor-host.ts';
import { canPin, pinThreads } from './placement.ts';
import { startRawPingPong } from './raw-ping-pong.ts';
import { round, summarize } from './stats.ts';

export const description = 'the floor under the no-op action bars: only the mandatory work, same threads, vs raw and the runtime';

const IDS = { org_id: 'bench-org', user_id: 'bench-user', agent_id: 'bench-agent' };
const LATENCY_BLOCK = 250;

interface Caller {
  execute(sessionId: string, message: string): Promise<unknown>;
}

/** The floor: the real audit thread, `workers` floor hosts, and a caller on this thread. */
export async function startFloor(
  overrides: ConfigInput,
  workers: number,
): Promise<Caller & { flush(): Promise<void>; close(): Promise<void> }> {
  const config = loadConfig({ overrides, env: { ENVIRONMENT: 'test' } });
  const auditWorker = new Worker(workerBootstrap(workerEntry('audit').filename), { eval: true, workerData: { config } });
  const audit = Comlink.wrap<AuditApi>(nodeEndpoint(auditWorker));
  await audit.init();
  const pending = new Map<number, (value: unknown) => void>();
  let nextReq = 0;
  const hosts: Array<{ worker: Worker; transport: MessagePortTransport<FloorReply, FloorExec> }> = [];
  for (let i = 0; i < workers; i++) {
    const caller = new MessageChannel();
    const toAudit = new MessageChannel();
    await audit.attachProducer(Comlink.transfer(toAudit.port2, [toAudit.port2]));
    const worker = new Worker(workerBootstrap(path.join(import.meta.dirname, `fixtures/floor-host.${MODULE_EXT}`)), {
      eval: true,
      workerData: { callerPort: caller.port2, auditPort: toAudit.port1, window: config.audit.producer_window },
      transferList: [caller.port2, toAudit.port1],
    });
    const transport = new MessagePortTransport<FloorReply, FloorExec>(caller.port1);
    transport.onMessage((m) => {
      if (m.type !== 'reply') return;
      pending.get(m.req)?.(m.value);
      pending.delete(m.req);
    });
    hosts.push({ worker, transport });
  }
  const hostOf = new Map<string, (typeof hosts)[number]>();
  return {
    execute(sessionId, message) {
      let host = hostOf.get(sessionId);
      if (!host) {
        host = hosts[hostOf.size % hosts.length]!;
        hostOf.set(sessionId, host);
      }
      const req = nextReq++;
      const { transport } = host;
      return new Promise((resolve) => {
        pending.set(req, resolve);
        transport.send({ type: 'exec', req, session_id: sessionId, name: 'echo', params: { message } });
      });
    },
    flush: () => audit.flush(),
    async close() {
      await audit.flush();
      await audit.close();
      for (const { worker } of hosts) await worker.terminate();
      auditWorker.unref();
      await auditWorker.terminate();
    },
  };
}

/** One caller per session id, each running its actions one after another; actions/s and CPU per action. */
export async function throughput(caller: Caller, ids: readonly string[], actionsPerSession: number) {
  await Promise.all(ids.map((id) => caller.execute(id, 'warm')));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    ids.map(async (id, si) => {
      for (let i = 0; i < actionsPerSession; i++) await caller.execute(id, `${si}-${i}`);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const total = ids.length * actionsPerSession;
  return { actions_per_s: Math.round(total / seconds), cpu_us_per_action: round((cpu.user + cpu.system) / total, 1) };
}

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const sessions = Number(options.sessions ?? 256);
  const actionsPerSession = Number(options.actions ?? 200);
  const latencyN = Number(options.latency ?? 5000);
  const rounds = Number(options.rounds ?? 3);
  const workers = availableParallelism();
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-floor-'));
  const overrides = (name: string): ConfigInput => ({
    log_level: 'warn',
    audit: { storage_type: 'file', log_dir: path.join(dir, name, 'audit'), flush_interval: 0.05 },
    runtime: { sandbox_dir: path.join(dir, name, 'sandbox'), max_sessions: sessions + 10, workers },
    policy: { max_iterations: 1_000_000, max_concurrent_actions: 64 },
  });
  const floor = await startFloor(overrides('floor'), workers);
  const runtime = createRuntime(overrides('runtime'), { env: { ENVIRONMENT: 'test' } });
  await runtime.start();
  const raw = await startRawPingPong();
  try {
    const runtimeSessions = new Map<string, Awaited<ReturnType<typeof runtime.createSession>>>();
    const runtimeCaller: Caller = {
      async execute(sessionId, message) {
        let session = runtimeSessions.get(sessionId);
        if (!session) {
          session = await runtime.createSession({ ...IDS, tools: ['echo'] });
          runtimeSessions.set(sessionId, session);
        }
        const result = await session.execute({ name: 'echo', params: { message } });
        if (!result.success) throw new Error(`action failed: ${JSON.stringify(result.error)}`);
        return result;
      },
    };

    // 1. Latency, one action at a time; the three take turns in blocks so all see the same
    // machine, under each thread placement (see placement.ts).
    const latencySession = randomUUID();
    for (let k = 0; k < 500; k++) {
      await floor.execute(latencySession, `warm ${k}`);
      await runtimeCaller.execute(latencySession, `warm ${k}`);
    }
    const latency: Record<string, Record<string, unknown>> = {};
    for (const placement of canPin() ? (['free', 'one_core', 'separate_cores'] as const) : (['free'] as const)) {
      pinThreads(placement);
      const samples = { raw: [] as number[], floor: [] as number[], runtime: [] as number[] };
      for (let done = 0; done < latencyN; done += LATENCY_BLOCK) {
        for (let k = 0; k < LATENCY_BLOCK; k++) samples.raw.push(await raw.once());
        for (let k = 0; k < LATENCY_BLOCK; k++) {
          const t0 = performance.now();
          await floor.execute(latencySession, `hello ${k}`);
          samples.floor.push(performance.now() - t0);
        }
        for (let k = 0; k < LATENCY_BLOCK; k++) {
          const t0 = performance.now();
          await runtimeCaller.execute(latencySession, `hello ${k}`);
          samples.runtime.push(performance.now() - t0);
        }
      }
      const [r, f, x] = [summarize(samples.raw), summarize(samples.floor), summarize(samples.runtime)];
      latency[placement] = {
        raw_p50_us: r.p50_us,
        floor_p50_us: f.p50_us,
        runtime_p50_us: x.p50_us,
        floor_ratio_p50: round(f.p50_us / r.p50_us),
        runtime_ratio_p50: round(x.p50_us / r.p50_us),
      };
    }
    pinThreads('free');

    // 2. Throughput, floor and runtime in turns; each round's best is kept (noise only slows a run).
    const ids = Array.from({ length: sessions }, () => randomUUID());
    const floorRuns: Array<Awaited<ReturnType<typeof throughput>>> = [];
    const runtimeRuns: Array<Awaited<ReturnType<typeof throughput>>> = [];
    for (let r = 0; r < rounds; r++) {
      // Each side's audit writes finish (untimed) before the other side's round starts.
      floorRuns.push(await throughput(floor, ids, actionsPerSession));
      await floor.flush();
      runtimeRuns.push(await throughput(runtimeCaller, ids, actionsPerSession));
      await runtime.audit.flush();
    }
    const best = (runs: typeof floorRuns) => runs.reduce((a, b) => (b.actions_per_s > a.actions_per_s ? b : a));

    return {
      latency: { bar: 'runtime p50 <= 3x raw p50', ...latency },
      throughput: {
        sessions,
        actions_per_session: actionsPerSession,
        workers,
        audit_storage: 'file',
        floor_rounds: floorRuns,
        runtime_rounds: runtimeRuns,
        floor_best: best(floorRuns),
        runtime_best: best(runtimeRuns),
        runtime_vs_floor: round(best(runtimeRuns).actions_per_s / best(floorRuns).actions_per_s),
        // CPU the runtime's own steps add to each action, over the floor's (best rounds)
        runtime_own_cpu_us_per_action: round(best(runtimeRuns).cpu_us_per_action - best(floorRuns).cpu_us_per_action, 1),
        bar: '>= 50,000 no-op actions/s',
      },
    };
  } finally {
    await raw.close();
    await floor.close();
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
