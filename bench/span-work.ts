/**
 * The span work of session workers alone, and the CPU it costs per span: `workers` threads each
 * make `spansPerWorker` spans shaped like the executor's `execute_tool` spans
 * (bench/fixtures/span-worker.ts) and either export them themselves (mode worker, the
 * runtime's Tracing) or ship them to this thread (mode main, `onShipped` exports them).
 * Used by span-export.bench.ts (where to export) and telemetry.bench.ts (what the SDK costs
 * per span on its own, in the same run as the load).
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TracingSettings } from '../src/telemetry/tracing.ts';
import { MODULE_EXT, workerBootstrap } from '../src/worker-entry.ts';
import { cpuPerItem, readCpu, threadIds } from './cpu.ts';
import type { PlainSpan } from './fixtures/span-worker.ts';
import { round } from './stats.ts';

export interface SpanWorkResult {
  spans: number;
  wall_ms: number;
  spans_per_s: number;
  cpu_us_per_span: { process: number; main_thread: number; new_threads: number };
}

export async function spanWorkCpu(options: {
  mode: 'worker' | 'main';
  settings: TracingSettings;
  spansPerWorker: number;
  workers: number;
  onShipped?: (spans: PlainSpan[]) => Promise<void>;
}): Promise<SpanWorkResult> {
  const { mode, settings, spansPerWorker } = options;
  const before = threadIds();
  const workers = Array.from(
    { length: options.workers },
    () =>
      new Worker(workerBootstrap(path.join(import.meta.dirname, `fixtures/span-worker.${MODULE_EXT}`)), {
        eval: true,
        workerData: { mode, settings, count: spansPerWorker },
      }),
  );
  const exports: Promise<void>[] = [];
  const go = () =>
    Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            const onMessage = (m: { spans?: PlainSpan[]; done?: boolean }) => {
              if (m.spans && options.onShipped) exports.push(options.onShipped(m.spans));
              if (m.done) {
                worker.off('message', onMessage);
                resolve();
              }
            };
            worker.on('message', onMessage);
            worker.postMessage('go');
          }),
      ),
    ).then(() => Promise.all(exports.splice(0)));
  // One unmeasured pass: the workers load and every side's code is compiled hot, as in a
  // runtime that has been running a while.
  await go();
  const workerThreads = threadIds().filter((t) => !before.includes(t));
  const named: Record<string, string> = { main: String(process.pid) };
  workerThreads.forEach((tid, i) => {
    named[`thread_${i}`] = tid;
  });
  const cpu0 = readCpu(named);
  const t0 = performance.now();
  await go();
  const wallMs = performance.now() - t0;
  const cpu1 = readCpu(named);
  await Promise.all(workers.map((w) => w.terminate()));
  const spans = spansPerWorker * options.workers;
  const perSpan = cpuPerItem(cpu0, cpu1, spans);
  // Threads other than main: the workers plus whatever started with them (their V8 helpers).
  const workerUs = Object.entries(perSpan)
    .filter(([k]) => k.startsWith('thread_'))
    .reduce((sum, [, v]) => sum + v, 0);
  return {
    spans,
    wall_ms: round(wallMs, 1),
    spans_per_s: Math.round(spans / (wallMs / 1000)),
    cpu_us_per_span: {
      process: perSpan.runtime_us!,
      main_thread: perSpan.main_us!,
      new_threads: round(workerUs, 2),
    },
  };
}
