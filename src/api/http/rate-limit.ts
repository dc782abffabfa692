/**
 * Per-bucket request limits for the HTTP API: RATE_LIMIT_MAX requests per
 * RATE_LIMIT_WINDOW_SECONDS, in fixed windows that start at a bucket's first request.
 * A bucket is a token, else a client address (server.ts picks it).
 *
 * A synchronous counter rather than @fastify/rate-limit: that plugin awaits its key generator
 * and store on every request (two async functions and a promise each), and a load test of
 * the daemon measured it at a few microseconds a request on a path that costs little more.
 */

/** Buckets kept before expired ones are swept (and, if all are live, the oldest dropped). */
const DEFAULT_MAX_BUCKETS = 10_000;

interface Window {
  count: number;
  startMs: number;
}

export interface RateLimitVerdict {
  /** seconds until the bucket's window ends (Retry-After) */
  retryAfterSeconds: number;
  max: number;
}

export class RateLimiter {
  readonly max: number;
  readonly windowMs: number;
  readonly #maxBuckets: number;
  readonly #now: () => number;
  /** insertion order = window start order (a window that restarts is re-inserted), so sweeps stop early */
  readonly #windows = new Map<string, Window>();

  constructor(options: { max: number; windowMs: number; maxBuckets?: number; now?: () => number }) {
    if (!(options.max >= 0) || !(options.windowMs > 0))
      throw new RangeError(
        `rate limit: expected max >= 0 and windowMs > 0, got ${options.max} / ${options.windowMs}`,
      );
    this.max = options.max;
    this.windowMs = options.windowMs;
    this.#maxBuckets = options.maxBuckets ?? DEFAULT_MAX_BUCKETS;
    this.#now = options.now ?? Date.now;
  }

  /** Counts one request of `bucket`: undefined while it is within the limit, else when to retry. */
  hit(bucket: string): RateLimitVerdict | undefined {
    const now = this.#now();
    let w = this.#windows.get(bucket);
    if (w === undefined || now - w.startMs >= this.windowMs) {
      if (w !== undefined) this.#windows.delete(bucket);
      else if (this.#windows.size >= this.#maxBuckets) this.#sweep(now);
      w = { count: 0, startMs: now };
      this.#windows.set(bucket, w);
    }
    if (++w.count <= this.max) return undefined;
    return {
      max: this.max,
      retryAfterSeconds: Math.max(1, Math.ceil((w.startMs + this.windowMs - now) / 1000)),
    };
  }

  get size(): number {
    return this.#windows.size;
  }

  #sweep(now: number): void {
    for (const [bucket, w] of this.#windows) {
      if (now - w.startMs < this.windowMs) break;
      this.#windows.delete(bucket);
    }
    // Every bucket is live (many clients at once): forget the oldest rather than grow without bound.
    if (this.#windows.size >= this.#maxBuckets) {
      const oldest = this.#windows.keys().next();
      if (!oldest.done) this.#windows.delete(oldest.value);
    }
  }
}
