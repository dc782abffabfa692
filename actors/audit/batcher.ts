/**
 * Collects events from every producer and hands them to the store in batches: a batch
 * leaves when batch_size events are waiting, or flush_interval after the oldest arrived.
 * Events wait as pieces, as they arrived: arrays of events, or, for the database store, the
 * same events already encoded as rows (RowBlock); a batch is a list of pieces, the last one
 * cut to fit.
 * One store write is in flight at a time (or maxInFlight, for a store that takes concurrent
 * batches); events that arrive meanwhile form the next batch.
 * A failed write is retried with backoff (nothing is dropped); producers are acknowledged
 * only after their events are stored, which is what bounds memory (see src/audit/emit.ts).
 */
/** What waits in the batcher: events in some form, `length` of them, cut with slice(). */
export interface BatchPiece<P> {
  readonly length: number;
  slice(start: number, end?: number): P;
}

export interface BatchWriter<P> {
  write(pieces: P[]): Promise<void>;
}

interface Entry<P> {
  piece: P;
  producer: number;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;

export class Batcher<P extends BatchPiece<P>> {
  readonly #writer: BatchWriter<P>;
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #onStored: (producer: number, count: number) => void;
  readonly #onWriteError: (err: unknown, attempt: number) => void;
  #buffer: Entry<P>[] = [];
  /** events in #buffer */
  #buffered = 0;
  #timer: NodeJS.Timeout | undefined;
  /** writes in flight; at most #maxInFlight (1 unless the store can take concurrent batches) */
  readonly #inFlight = new Set<Promise<void>>();
  readonly #maxInFlight: number;
  #retryDelayMs = 0;
  #stopped = false;
  /** a producer waits for what is buffered (strict durability): write it without the interval */
  #urgent = false;
  #urgeScheduled = false;
  /** batches numbered as they start; their acks leave in that order (see #release) */
  #nextBatch = 0;
  #nextRelease = 0;
  readonly #finished = new Map<number, Map<number, number>>();
  readonly stats = { stored: 0, batches: 0, failedWrites: 0, lastFlushMs: 0 };

  constructor(options: {
    writer: BatchWriter<P>;
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

  add(producer: number, piece: P): void {
    if (piece.length === 0) return;
    this.#buffer.push({ piece, producer });
    this.#buffered += piece.length;
    if (this.#buffered >= this.#batchSize) this.#kick();
    else if (!this.#timer && this.#inFlight.size === 0) this.#timer = setTimeout(() => this.#kick(), this.#intervalMs);
  }

  get buffered(): number {
    return this.#buffered;
  }

  /** Writes everything buffered now (and waits for a write in flight). */
  async flush(): Promise<void> {
    while (this.#buffered > 0 || this.#inFlight.size > 0) {
      if (this.#buffered > 0) this.#kick();
      await Promise.race(this.#inFlight);
    }
  }

  /**
   * Writes what is buffered as soon as this turn's appends are in (setImmediate), instead of
   * after flush_interval: a producer waits for it. Appends from every producer that arrive
   * before then share the one write, and its fsync or commit (group commit).
   */
  urge(): void {
    this.#urgent = true;
    if (this.#urgeScheduled) return;
    this.#urgeScheduled = true;
    setImmediate(() => {
      this.#urgeScheduled = false;
      if (!this.#stopped && this.#buffered > 0) this.#kick();
    });
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
      (this.#buffered >= this.#batchSize || ((this.#inFlight.size === 0 || this.#urgent) && this.#buffered > 0))
    ) {
      const writing: Promise<void> = this.#writeLoop().finally(() => {
        this.#inFlight.delete(writing);
        if (this.#stopped) return;
        if (this.#buffered >= this.#batchSize || (this.#urgent && this.#buffered > 0)) this.#kick();
        else if (this.#buffered > 0 && !this.#timer) this.#timer = setTimeout(() => this.#kick(), this.#intervalMs);
      });
      this.#inFlight.add(writing);
    }
  }

  async #writeLoop(): Promise<void> {
    const batch = this.#take(this.#batchSize);
    if (this.#buffered === 0) this.#urgent = false;
    const order = this.#nextBatch++;
    const pieces = batch.map((e) => e.piece);
    let attempt = 0;
    for (;;) {
      const started = performance.now();
      try {
        await this.#writer.write(pieces);
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
    const perProducer = new Map<number, number>();
    for (const { producer, piece } of batch) {
      this.stats.stored += piece.length;
      perProducer.set(producer, (perProducer.get(producer) ?? 0) + piece.length);
    }
    this.stats.batches++;
    this.#finished.set(order, perProducer);
    this.#release();
  }

  /**
   * Acknowledges finished batches in the order they started. With several writes in flight a
   * later batch can commit first; acknowledged early, a producer counting acks would take an
   * earlier event, still in flight, for stored (src/audit/emit.ts, durable()).
   */
  #release(): void {
    for (let done = this.#finished.get(this.#nextRelease); done; done = this.#finished.get(this.#nextRelease)) {
      this.#finished.delete(this.#nextRelease);
      this.#nextRelease++;
      for (const [producer, count] of done) this.#onStored(producer, count);
    }
  }

  /** The oldest `count` events (fewer if fewer wait), the last piece cut to fit. */
  #take(count: number): Entry<P>[] {
    const taken: Entry<P>[] = [];
    let n = 0;
    while (n < count && this.#buffer.length > 0) {
      const entry = this.#buffer[0]!;
      const room = count - n;
      if (entry.piece.length <= room) {
        taken.push(entry);
        this.#buffer.shift();
        n += entry.piece.length;
      } else {
        taken.push({ producer: entry.producer, piece: entry.piece.slice(0, room) });
        entry.piece = entry.piece.slice(room);
        n += room;
      }
    }
    this.#buffered -= n;
    return taken;
  }
}
