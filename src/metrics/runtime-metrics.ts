/**
 * The main thread's Prometheus registry: process defaults, sessions, workers and HTTP.
 * Action and audit metrics live in the audit thread's registry (audit-metrics.ts explains
 * why); text() fetches that one over comlink and appends it, so /metrics is one document.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Runtime } from '../runtime.ts';
import { HTTP_DURATION_BUCKETS_S } from './buckets.ts';
import { registerDiskMetrics } from './disk-metrics.ts';

export class RuntimeMetrics {
  readonly registry = new Registry();
  readonly #runtime: Runtime;
  readonly httpRequests = new Counter({
    name: 'runtime_http_requests_total',
    help: 'HTTP API requests, by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'runtime_http_request_duration_seconds',
    help: 'HTTP API request latency, by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: HTTP_DURATION_BUCKETS_S,
    registers: [this.registry],
  });

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
    collectDefaultMetrics({ register: this.registry });
    // Spool size and free disk of the audit directory (issue 7).
    registerDiskMetrics(this.registry, runtime.config.audit.log_dir);
    // While stopping, the supervisor is gone and these throw: a scrape then reads nothing.
    const read = <T>(get: () => T): T | undefined => {
      try {
        return get();
      } catch {
        return undefined;
      }
    };
    const stats = () => read(() => runtime.stats());
    new Gauge({
      name: 'runtime_active_sessions',
      help: 'Sessions that have not ended',
      registers: [this.registry],
      collect() {
        this.set(stats()?.active_sessions ?? 0);
      },
    });
    new Gauge({
      name: 'runtime_session_workers',
      help: 'Session worker threads running',
      registers: [this.registry],
      collect() {
        this.set(stats()?.workers ?? 0);
      },
    });
    const webhooks = () => read(() => runtime.webhookStats());
    const seen = { delivered: 0, failed: 0, retried: 0 };
    new Counter({
      name: 'runtime_webhook_deliveries_total',
      help: 'Webhook deliveries by outcome: delivered (2xx), retried (an attempt failed, another follows), failed (given up or dropped)',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        const now = webhooks();
        if (!now) return;
        for (const outcome of ['delivered', 'failed', 'retried'] as const) {
          this.inc({ outcome }, now[outcome] - seen[outcome]);
          seen[outcome] = now[outcome];
        }
      },
    });
    new Gauge({
      name: 'runtime_webhook_pending',
      help: 'Events waiting to be delivered to webhooks',
      registers: [this.registry],
      collect() {
        this.set(webhooks()?.pending ?? 0);
      },
    });
    let counted = 0;
    new Counter({
      name: 'runtime_worker_restarts_total',
      help: 'Session worker threads replaced after a crash',
      registers: [this.registry],
      collect() {
        const restarts = stats()?.worker_restarts ?? counted;
        if (restarts > counted) this.inc(restarts - counted);
        counted = restarts;
      },
    });
    // Capability cache (issue 7): the hit rate is rate(…{result="hit"}) / rate(…).
    const cacheCounted = { hit: 0, miss: 0 };
    new Counter({
      name: 'runtime_capability_cache_lookups_total',
      help: 'Capability cache lookups at session start (sessions with MCP servers), by result',
      labelNames: ['result'] as const,
      registers: [this.registry],
      collect() {
        const cache = stats()?.capability_cache;
        if (!cache) return;
        for (const [result, now] of [
          ['hit', cache.hits],
          ['miss', cache.misses],
        ] as const) {
          if (now > cacheCounted[result]) this.inc({ result }, now - cacheCounted[result]);
          cacheCounted[result] = now;
        }
      },
    });
  }

  /** The whole exposition: this registry, then the audit thread's. */
  async text(): Promise<string> {
    const [main, audit] = await Promise.all([
      this.registry.metrics(),
      this.#runtime.audit.metrics().catch(() => ''),
    ]);
    return `${main.trimEnd()}\n${audit}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
