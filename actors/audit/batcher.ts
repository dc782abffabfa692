/**
 * Collects events from every producer and hands them to the store in batches: a batch
 * leaves when batch_size events are waiting, or flush_interval after the oldest arrived.
 * One store write is in flight at a time (or maxInFlight, for a store that takes concurrent
 * batches); events that arrive meanwhile form the next batch.
 * A failed write is retried with backoff (nothing is dropped); producers are acknowledged
 * only after their events are stored, which is what bounds memory (see src/audit/emit.ts).
 */
import type { AuditEvent } from '../../src/audit/events.ts';

export interface BatchWriter {
  write(events: AuditEvent[]): Promise<void>;
}

interface Entry {
  event: AuditEvent;
  producer: number;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;

export class Batcher {
  readonly #writer: BatchWriter;
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #onStored: (producer: number, count: number) => void;
  readonly #onWriteError: (err: unknown, attempt: number) => void;
  #buffer: Entry[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** writes in flight; at most #maxInFlight (1 unless the store can take concurrent batches) */
  readonly #inFlight = new Set<Promise<void>>();
  readonly #maxInFlight: number;
  #retryDelayMs = 0;
  #stopped = false;
  readonly stats = { stored: 0, batches: 0, failedWrites: 0, lastFlushMs: 0 };

  constructor(options: {
    writer: BatchWriter;
    batchSize: number;
    flushIntervalMs: number;
    onStored: (producer: number, count: number) => void;
    onWriteError: (err: unknown, attempt: number) => void;
    /** concurrent writes (database store: the next batch is encoded while one COPY is in flight) */
    maxInFlight?: number;
  }) {
    this.#writer = options.writer;
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 1);
    this.#batchSize = options.batchSize;
    this.#intervalMs = options.flushIntervalMs;
    this.#onStored = options.onStored;
    this.#onWriteError = options.onWriteError;
  }

  add(producer: number, events: readonly AuditEvent[]): void {
    for (const event of events) this.#buffer.push({ event, producer });
    if (this.#buffer.length >= this.#batchSize) this.#kick();
    else if (!this.#timer && this.#inFlight.size === 0) this.#timer = setTimeout(() => this.#kick(), this.#intervalMs);
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  /** Writes everything buffered now (and waits for a write in flight). */
  async flush(): Promise<void> {
    while (this.#buffer.length > 0 || this.#inFlight.size > 0) {
      if (this.#buffer.length > 0) this.#kick();
      await Promise.race(this.#inFlight);
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #kick(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // A second write starts only for a full batch: small ones wait for the first to finish.
    while (
      this.#inFlight.size < this.#maxInFlight &&
      (this.#buffer.length >= this.#batchSize || (this.#inFlight.size === 0 && this.#buffer.length > 0))
    ) {
      const writing: Promise<void> = this.#writeLoop().finally(() => {
        this.#inFlight.delete(writing);
        if (this.#stopped) return;
        if (this.#buffer.length >= this.#batchSize) this.#kick();
        else if (this.#buffer.length > 0 && !this.#timer) this.#timer = setTimeout(() => this.#kick(), this.#intervalMs);
      });
      this.#inFlight.add(writing);
    }
  }

  async #writeLoop(): Promise<void> {
    const batch = this.#buffer.splice(0, this.#batchSize);
    let attempt = 0;
    for (;;) {
      const started = performance.now();
      try {
        await this.#writer.write(batch.map((e) => e.event));
        this.stats.lastFlushMs = performance.now() - started;
        break;
      } catch (err) {
        attempt++;
        this.stats.failedWrites++;
        this.#onWriteError(err, attempt);
        this.#retryDelayMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.#retryDelayMs * 2));
        await new Promise((resolve) => setTimeout(resolve, this.#retryDelayMs));
      }
    }
    this.#retryDelayMs = 0;
    this.stats.stored += batch.length;
    this.stats.batches++;
    const perProducer = new Map<number, number>();
    for (const { producer } of batch) perProducer.set(producer, (perProducer.get(producer) ?? 0) + 1);
    for (const [producer, count] of perProducer) this.#onStored(producer, count);
  }
}
