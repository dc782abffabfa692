/**
 * Metrics counted inside the audit thread (workers/audit.worker.ts).
 *
 *   session workers ──audit.append──► AuditActor ──Batcher──► instrumented store.append()
 *                                                              └─► AuditMetrics (this registry)
 *   main thread ──comlink auditApi.metrics()──► text, appended to the main registry's text
 *
 * Why here: actions run on piscina worker threads, each with its own heap, so a prom-client
 * registry there would be one of N that the main thread must gather. Every action's terminal
 * event (action_completed / action_failed / action_rejected, with duration_ms) already passes
 * through this one thread, and is counted only once the store has written it (a retried batch
 * is counted once, when it finally succeeds). So one registry here sees every action of every
 * worker, including the ones a crashed worker's supervisor recorded. Names here never repeat
 * a name of the main registry (src/metrics/runtime-metrics.ts), so the two texts concatenate
 * into one valid exposition.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type ActionOutcome, type AuditEvent, actionOutcome } from '../audit/events.ts';
import type { AuditStore, BatchEncoder } from '../audit/stores/store.ts';
import { ACTION_DURATION_BUCKETS_S, FLUSH_DURATION_BUCKETS_S } from './buckets.ts';



export class AuditMetrics {
  readonly registry = new Registry();
  readonly #executions = new Counter({
    name: 'runtime_action_executions_total',
    help: 'Actions that reached a terminal audit event, by action and status (success, failure, rejected)',
    labelNames: ['action_name', 'status'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'runtime_action_duration_seconds',
    help: 'Run time of executed actions (completed or failed), from their audit events',
    labelNames: ['action_name'] as const,
    buckets: ACTION_DURATION_BUCKETS_S,
    registers: [this.registry],
  });
  readonly #written = new Counter({
    name: 'runtime_audit_events_written_total',
    help: 'Audit events written to storage (rate() of this is the audit write rate)',
    registers: [this.registry],
  });
  readonly #flush = new Histogram({
    name: 'runtime_audit_flush_duration_seconds',
    help: 'Latency of one audit batch write to storage',
    buckets: FLUSH_DURATION_BUCKETS_S,
    registers: [this.registry],
  });
  readonly #failures = new Counter({
    name: 'runtime_audit_write_failures_total',
    help: 'Audit batch writes that failed (and were retried)',
    registers: [this.registry],
  });

  /** `buffered` reads the batcher's backlog when /metrics is scraped. */
  trackBuffer(buffered: () => number): void {
    new Gauge({
      name: 'runtime_audit_buffer_size',
      help: 'Audit events received and not yet written to storage',
      registers: [this.registry],
      collect() {
        this.set(buffered());
      },
    });
  }

  /** Counts what a successful write stored: `count` events, of which `outcomes` ended actions. */
  recordWritten(count: number, outcomes: readonly ActionOutcome[], seconds: number): void {
    this.#written.inc(count);
    this.#flush.observe(seconds);
    // Counted per (action, status) first, then one inc each: a batch holds a few actions many
    // times, and prom-client hashes the labels on every call.
    const counts = new Map<string, Map<string, number>>();
    for (const { status, name, duration_ms } of outcomes) {
      let byStatus = counts.get(name);
      if (!byStatus) {
        byStatus = new Map();
        counts.set(name, byStatus);
      }
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      if (status !== 'rejected' && duration_ms !== null) {
        this.#duration.observe({ action_name: name }, duration_ms / 1000);
      }
    }
    for (const [name, byStatus] of counts) {
      for (const [status, n] of byStatus) this.#executions.inc({ action_name: name, status }, n);
    }
  }

  recordFailure(): void {
    this.#failures.inc();
  }

  /**
   * Wraps a store so every append is measured. A Proxy, not a hand-written delegate, so
   * methods a store adds later (and its private fields, via the bound target) still work.
   */
  instrument<S extends AuditStore>(store: S): S {
    const measured = async (write: () => Promise<void>, count: number, outcomes: () => readonly ActionOutcome[]) => {
      const started = performance.now();
      try {
        await write();
      } catch (err) {
        this.recordFailure();
        throw err;
      }
      this.recordWritten(count, outcomes(), (performance.now() - started) / 1000);
    };
    const append = (events: readonly AuditEvent[]) =>
      measured(
        () => store.append(events),
        events.length,
        () => events.map(actionOutcome).filter((o): o is ActionOutcome => o !== undefined),
      );
    // A batch from the batcher is written through the store's encoder: measured there.
    const encoder: BatchEncoder = {
      ...store.encoder,
      write: (pieces) =>
        measured(
          () => store.encoder.write(pieces),
          pieces.reduce((n, p) => n + p.length, 0),
          () => store.encoder.outcomes(pieces),
        ),
    };
    return new Proxy(store, {
      get(target, prop) {
        if (prop === 'append') return append;
        if (prop === 'encoder') return encoder;
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
