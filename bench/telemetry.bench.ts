/**
 * What traces cost per action (issue 21): the same load through two runtimes in one process
 * run, one without OTEL_* (traces off) and one exporting every span over OTLP http/protobuf with
 * the batch span processor to a receiver in this process that reads and drops the requests.
 * File store, strict durability, 256 sessions by default.
 *
 *   npm run bench -- telemetry [--sessions 256] [--actions 100] [--rounds 3]
 *     [--protocol http/protobuf|http/json] [--sampler always_on|traceidratio --ratio 0.1]
 *
 * Goal: on costs at most 10% of throughput. Off adds one property test per action (no span,
 * no ids, nothing exported), so the off runtime is the baseline.
 *
 * Also reported, because wall time on a shared machine drifts: the process CPU per action of
 * each mode (every thread), and what the SDK alone costs per span in the same run (two worker
 * threads making and exporting spans of the same shape and nothing else) set against an
 * action's CPU with traces off: on a machine whose cores the load fills, that share is the least
 * throughput traces can cost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRuntime, type Runtime } from '../src/index.ts';
import { tracingSettings } from '../src/telemetry/tracing.ts';
import { alternatingLoad } from './session-load.ts';
import { type SpanWorkResult, spanWorkCpu } from './span-work.ts';
import { median, round } from './stats.ts';

export const description =
  'OpenTelemetry traces on (OTLP, batch processor) vs off: throughput and latency at many sessions';

type Mode = 'off' | 'on';

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const sessions = Number(options.sessions ?? 256);
  const actions = Number(options.actions ?? 100);
  const rounds = Number(options.rounds ?? 3);
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-bench-telemetry-'));
  const otel = {
    OTEL_EXPORTER_OTLP_PROTOCOL: options.protocol === 'http/json' ? 'http/json' : 'http/protobuf',
    OTEL_TRACES_SAMPLER: options.sampler === 'traceidratio' ? 'traceidratio' : 'always_on',
    OTEL_TRACES_SAMPLER_ARG: String(Number(options.ratio ?? 1)),
  };
  let exports = 0;
  let exportedBytes = 0;
  const receiver = createServer((req, res) => {
    exports++;
    req.on('data', (c: Buffer) => {
      exportedBytes += c.length;
    });
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const runtimes = {} as Record<Mode, Runtime>;
  try {
    for (const mode of ['off', 'on'] as const) {
      runtimes[mode] = createRuntime(
        {
          log_level: 'warn',
          audit: { storage_type: 'file', log_dir: path.join(dir, mode, 'audit') },
          runtime: { workers: 2, sandbox_dir: path.join(dir, mode, 'sandbox'), max_sessions: sessions + 10 },
          policy: { max_iterations: 100_000, max_concurrent_actions: 64 },
        },
        {
          env: {
            ENVIRONMENT: 'test',
            ...(mode === 'on' ? { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...otel } : {}),
          },
        },
      );
      await runtimes[mode].start();
    }
    const results = await alternatingLoad({
      runtimes,
      request: { org_id: 'bench-org', user_id: 'bench-user', agent_id: 'bench-agent', tools: ['echo'] },
      sessions,
      actions,
      rounds,
      tool: 'echo',
      params: (si, i) => ({ message: `${si}-${i}` }),
    });
    for (const runtime of Object.values(runtimes)) await runtime.stop();
    // The SDK's own cost per span, in the same run: the same span shape made and exported by two
    // worker threads doing nothing else (bench/span-work.ts), hot. The runtime cannot make a span
    // cheaper than this; against the CPU an action costs with traces off, it is the least that
    // traces can cost on a machine whose cores the load already fills.
    const settings = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...otel })!;
    const alone: SpanWorkResult[] = [];
    for (let r = 0; r < 3; r++) {
      alone.push(
        await spanWorkCpu({ mode: 'worker', settings, spansPerWorker: (sessions * actions) / 2, workers: 2 }),
      );
    }
    const medianOf = (pick: (w: SpanWorkResult) => number) => median(alone.map(pick));
    // Everything but this thread, where the receiver runs (a collector runs elsewhere): the span
    // threads and V8's helper threads collecting their garbage.
    const sdkAlone = medianOf((w) => w.cpu_us_per_span.process - w.cpu_us_per_span.main_thread);
    const offCpu = results.off.median_cpu_us_per_action;
    const ratio = results.on.median_actions_per_s / results.off.median_actions_per_s;
    // Round r of each mode ran back to back, so their ratio sees one state of a shared machine
    // whose speed drifts by half between rounds; the median of those ratios is the verdict.
    const pairs = results.on.rounds_actions_per_s.map((on, r) => on / results.off.rounds_actions_per_s[r]!);
    const paired = median(pairs);
    return {
      otel,
      sessions,
      actions_per_session: actions,
      traces_off: results.off,
      traces_on: results.on,
      on_vs_off_throughput_of_medians: round(ratio, 3),
      on_vs_off_throughput_per_round: pairs.map((p) => round(p, 3)),
      on_vs_off_throughput: round(paired, 3),
      throughput_cost_percent: round((1 - paired) * 100, 1),
      cpu_per_action_on_vs_off: round(
        results.on.median_cpu_us_per_action / results.off.median_cpu_us_per_action,
        3,
      ),
      cpu_us_per_action_added: round(
        results.on.median_cpu_us_per_action - results.off.median_cpu_us_per_action,
        1,
      ),
      sdk_cpu_us_per_span_alone: {
        rounds: alone.map((w) => w.cpu_us_per_span),
        median_without_receiver: round(sdkAlone, 1),
      },
      least_throughput_cost_percent: round((1 - offCpu / (offCpu + sdkAlone)) * 100, 1),
      otlp_exports: exports,
      otlp_exported_bytes: exportedBytes,
      goal: 'traces on cost at most 10% of throughput at 256 sessions',
      meets_goal: paired >= 0.9,
    };
  } finally {
    for (const runtime of Object.values(runtimes)) await runtime.stop().catch(() => {});
    await new Promise((resolve) => receiver.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
}
