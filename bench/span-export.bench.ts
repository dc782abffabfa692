/**
 * Where should worker spans be exported (issue 21, "measure and choose")? The same span work in
 * two session-worker threads, two ways, taking turns in one process run:
 *
 *   worker: each worker exports its own spans (batch processor + OTLP exporter in the worker),
 *           what the runtime does (src/telemetry/tracing.ts)
 *   main:   each worker ships its ended spans as plain data to the main thread in batches of
 *           512 (a postMessage each), and the main thread exports them with one OTLP exporter
 *
 * to a receiver in this process that reads and drops the requests. Reported: CPU per span of the
 * workers, of the main thread and of the whole process (GC and libuv threads included), and the
 * wall time. The main thread is where the runtime routes every message and serves the API: work
 * moved there delays every session, not only the ones that make spans.
 *
 *   npm run bench -- span-export [--spans 50000] [--rounds 3] [--protocol http/protobuf|http/json]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OTLPTraceExporter as OTLPJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { TracingSettings } from '../src/telemetry/tracing.ts';
import type { PlainSpan } from './fixtures/span-worker.ts';
import { type SpanWorkResult, spanWorkCpu } from './span-work.ts';
import { median, round } from './stats.ts';

export const description =
  'worker spans exported by each worker vs shipped to the main thread and exported there: CPU per span and wall time';

const WORKERS = 2;
type Mode = 'worker' | 'main';

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const spansPerWorker = Math.ceil(Number(options.spans ?? 50_000) / WORKERS);
  const rounds = Number(options.rounds ?? 3);
  const protocol = options.protocol === 'http/json' ? 'http/json' : 'http/protobuf';
  let received = 0;
  const receiver = createServer((req, res) => {
    req.on('data', (c: Buffer) => {
      received += c.length;
    });
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;
  const settings: TracingSettings = {
    protocol,
    url,
    headers: {},
    serviceName: 'semibot-runtime',
    resourceAttributes: {},
    sampler: 'always_on',
    samplerArg: undefined,
    batch: {},
  };
  // The main thread's exporter for shipped spans (mode main).
  const exporter = protocol === 'http/json' ? new OTLPJsonExporter({ url }) : new OTLPProtoExporter({ url });
  const resource = resourceFromAttributes({ 'service.name': 'semibot-runtime' });
  const scope = { name: 'semibot-runtime' };
  const exportShipped = (spans: PlainSpan[]) =>
    new Promise<void>((resolve) =>
      exporter.export(
        spans.map((s) => readable(s, resource, scope)),
        () => resolve(),
      ),
    );

  const once = (mode: Mode) =>
    spanWorkCpu({ mode, settings, spansPerWorker, workers: WORKERS, onShipped: exportShipped });

  const results: Record<Mode, Array<SpanWorkResult>> = { worker: [], main: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const mode of r % 2 === 0 ? (['worker', 'main'] as const) : (['main', 'worker'] as const)) {
        results[mode].push(await once(mode));
      }
    }
  } finally {
    await exporter.shutdown().catch(() => {});
    await new Promise((resolve) => receiver.close(resolve));
  }
  const medianOf = (mode: Mode, pick: (r: SpanWorkResult) => number) => median(results[mode].map(pick));
  const processCpu = {
    worker: medianOf('worker', (r) => r.cpu_us_per_span.process),
    main: medianOf('main', (r) => r.cpu_us_per_span.process),
  };
  const mainCpu = {
    worker: medianOf('worker', (r) => r.cpu_us_per_span.main_thread),
    main: medianOf('main', (r) => r.cpu_us_per_span.main_thread),
  };
  return {
    protocol,
    workers: WORKERS,
    rounds: results,
    median_cpu_us_per_span: { process: processCpu, main_thread: mainCpu },
    median_wall_ms: {
      worker: medianOf('worker', (r) => r.wall_ms),
      main: medianOf('main', (r) => r.wall_ms),
    },
    ship_to_main_over_per_worker: {
      process_cpu: round(processCpu.main / processCpu.worker, 3),
      main_thread_cpu_us_per_span_added: round(mainCpu.main - mainCpu.worker, 2),
    },
    otlp_bytes_received: received,
  };
}

/** A shipped span as the OTLP exporter reads it. */
function readable(
  s: PlainSpan,
  resource: ReadableSpan['resource'],
  instrumentationScope: ReadableSpan['instrumentationScope'],
): ReadableSpan {
  const spanContext = { traceId: s.traceId, spanId: s.spanId, traceFlags: s.traceFlags };
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () => spanContext,
    parentSpanContext:
      s.parentSpanId === undefined
        ? undefined
        : { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: s.traceFlags },
    startTime: s.startTime,
    endTime: s.endTime,
    duration: s.duration,
    status: s.status,
    attributes: s.attributes as ReadableSpan['attributes'],
    links: [],
    events: [],
    ended: true,
    resource,
    instrumentationScope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
