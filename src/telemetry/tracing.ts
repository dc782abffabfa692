/**
 * OpenTelemetry traces (issue 21), configured only by the standard OTEL_* variables of the
 * runtime's environment, and off unless they ask for it:
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_TRACES_EXPORTER=otlp → on
 *   OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none → off
 *   OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL   http/protobuf (default) | http/json
 *   OTEL_EXPORTER_OTLP[_TRACES]_HEADERS    k=v,k2=v2 (values URL-encoded)
 *   OTEL_SERVICE_NAME (default semibot-runtime), OTEL_RESOURCE_ATTRIBUTES
 *   OTEL_TRACES_SAMPLER / _ARG             always_on, always_off, traceidratio, parentbased_*
 *   OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_EXPORT_TIMEOUT
 *
 * Every thread that makes spans (the main thread, each session worker) builds its own provider
 * from the same settings and exports with a batch processor of its own: spans never cross
 * threads, and a stopping runtime flushes each thread's batch before the thread ends.
 */
import { type Context, type Span, type Tracer, context, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { VERSION } from '../api/version.ts';

/** The OTEL_* settings, read once on the main thread and handed to every worker as they are. */
export interface TracingSettings {
  protocol: 'http/protobuf' | 'http/json';
  /** the traces URL (…/v1/traces) */
  url: string;
  headers: Record<string, string>;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: string;
  samplerArg: number | undefined;
  batch: {
    scheduledDelayMillis?: number;
    maxExportBatchSize?: number;
    maxQueueSize?: number;
    exportTimeoutMillis?: number;
  };
}

export class TracingConfigError extends Error {
  override name = 'TracingConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

/** The settings the environment asks for, or undefined when tracing is off. */
export function tracingSettings(env: Env): TracingSettings | undefined {
  const exporter = (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase();
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true' || exporter === 'none') return undefined;
  if (exporter && !exporter.split(',').every((e) => e.trim() === 'otlp')) {
    throw new TracingConfigError(`OTEL_TRACES_EXPORTER=${exporter}: only otlp (or none) is supported`);
  }
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!tracesEndpoint && !endpoint && exporter !== 'otlp') return undefined;
  const protocol = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    'http/protobuf'
  ).trim();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new TracingConfigError(
      `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol}: use http/protobuf or http/json (grpc is not supported)`,
    );
  }
  // The signal-specific variable is the whole URL; the generic one is a base that gets /v1/traces.
  const url = tracesEndpoint || `${(endpoint || 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`;
  try {
    new URL(url);
  } catch {
    throw new TracingConfigError(`OTEL_EXPORTER_OTLP_ENDPOINT: ${JSON.stringify(url)} is not a URL`);
  }
  const resourceAttributes = keyValues(env.OTEL_RESOURCE_ATTRIBUTES);
  const sampler = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  const settings: TracingSettings = {
    protocol,
    url,
    headers: {
      ...keyValues(env.OTEL_EXPORTER_OTLP_HEADERS),
      ...keyValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
    },
    serviceName: env.OTEL_SERVICE_NAME?.trim() || resourceAttributes['service.name'] || 'semibot-runtime',
    resourceAttributes,
    sampler,
    samplerArg: env.OTEL_TRACES_SAMPLER_ARG !== undefined ? Number(env.OTEL_TRACES_SAMPLER_ARG) : undefined,
    batch: {
      ...positive('scheduledDelayMillis', env.OTEL_BSP_SCHEDULE_DELAY),
      ...positive('maxExportBatchSize', env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE),
      ...positive('maxQueueSize', env.OTEL_BSP_MAX_QUEUE_SIZE),
      ...positive('exportTimeoutMillis', env.OTEL_BSP_EXPORT_TIMEOUT),
    },
  };
  // Checked here, on the main thread: a worker must never fail to boot on a setting.
  samplerOf(settings);
  return settings;
}

/** A thread's tracer provider and what it needs to flush. */
export class Tracing {
  readonly tracer: Tracer;
  readonly #provider: BasicTracerProvider;
  static readonly #propagator = new W3CTraceContextPropagator();

  constructor(settings: TracingSettings) {
    const exporterConfig = { url: settings.url, headers: settings.headers };
    const exporter =
      settings.protocol === 'http/json'
        ? new OTLPJsonExporter(exporterConfig)
        : new OTLPProtoExporter(exporterConfig);
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        ...settings.resourceAttributes,
        'service.name': settings.serviceName,
        'service.version': VERSION,
      }),
      sampler: samplerOf(settings),
      spanProcessors: [new BatchSpanProcessor(exporter, settings.batch)],
    });
    this.tracer = this.#provider.getTracer('semibot-runtime', VERSION);
  }

  /** The context a W3C `traceparent` (and `tracestate`) names, to parent a span on. */
  static extract(traceparent: string | undefined, tracestate?: string): Context {
    if (traceparent === undefined) return context.active();
    const carrier: Record<string, string> = { traceparent };
    if (tracestate !== undefined) carrier.tracestate = tracestate;
    return Tracing.#propagator.extract(context.active(), carrier, {
      get: (c, key) => c[key],
      keys: (c) => Object.keys(c),
    });
  }

  /** The `traceparent` of a span, for the next hop. */
  static traceparent(span: Span): string {
    const carrier: Record<string, string> = {};
    Tracing.#propagator.inject(trace.setSpan(context.active(), span), carrier, {
      set: (c, key, value) => {
        c[key] = value;
      },
    });
    return carrier.traceparent ?? '';
  }

  flush(): Promise<void> {
    return this.#provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}

/** A valid W3C traceparent (version 00), or undefined: anything else is ignored, never an error. */
export function validTraceparent(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim().toLowerCase();
  return /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(text) &&
    !/^00-0{32}-/.test(text) &&
    !/-0{16}-[0-9a-f]{2}$/.test(text)
    ? text
    : undefined;
}

/** Trace and span ids of a span, for audit metadata (nothing for a span that is not recorded). */
export function traceIds(span: Span | undefined): { trace_id: string; span_id: string } | undefined {
  if (span === undefined) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return traceFlags & 1 ? { trace_id: traceId, span_id: spanId } : undefined;
}

function samplerOf(settings: TracingSettings): Sampler {
  const ratio = Number.isFinite(settings.samplerArg) ? Math.min(1, Math.max(0, settings.samplerArg!)) : 1;
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    default:
      throw new TracingConfigError(
        `OTEL_TRACES_SAMPLER=${settings.sampler}: expected always_on, always_off, traceidratio or parentbased_always_on|always_off|traceidratio`,
      );
  }
}

function keyValues(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    try {
      out[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      out[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
    }
  }
  return out;
}

function positive<K extends string>(key: K, text: string | undefined): Partial<Record<K, number>> {
  const n = Number(text);
  return text !== undefined && Number.isFinite(n) && n > 0
    ? ({ [key]: n } as Partial<Record<K, number>>)
    : {};
}
