/**
 * The capability cache behind an interface, so several nodes can share one (Redis) while a
 * single node keeps it in process. What is cached is the serialisable part of a capability
 * graph — per agent: names, kinds, versions, sources, JSON Schemas and MCP tool lists —
 * never the compiled validators or invoke functions, which each thread rebuilds.
 *
 * Only the in-process implementation exists: no Redis client package (`redis` or `ioredis`)
 * is installed in this project. A RedisCapabilityCache implements the same interface with
 * GET / SET key value EX ttl, and on any Redis error falls back to an InProcessCapabilityCache
 * and reports `degraded` through health() (issue 7).
 */
export interface CachedCapability {
  name: string;
  kind: 'tool' | 'skill' | 'mcp';
  version: string;
  source: string;
  description?: string | undefined;
  input_schema: Record<string, unknown>;
}

export interface CapabilityCache {
  get(key: string): Promise<CachedCapability[] | undefined>;
  /** keeps the entry ttlSeconds; 0 stores nothing */
  set(key: string, value: CachedCapability[], ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
  health(): { status: 'healthy' | 'degraded'; detail?: string };
  close(): Promise<void>;
}

/** The default cache: a Map with expiry and a size bound, on an injectable clock. */
export class InProcessCapabilityCache implements CapabilityCache {
  readonly #entries = new Map<string, { value: CachedCapability[]; expiresAtMs: number }>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor({ maxEntries = 10_000, now = Date.now }: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  async get(key: string): Promise<CachedCapability[] | undefined> {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    if (hit.expiresAtMs <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    // Copies, so a caller that changes its graph cannot change another session's.
    return structuredClone(hit.value);
  }

  async set(key: string, value: CachedCapability[], ttlSeconds: number): Promise<void> {
    if (!(ttlSeconds > 0)) return;
    this.#entries.delete(key); // re-insert: Map order is then oldest-written first
    this.#entries.set(key, { value: structuredClone(value), expiresAtMs: this.#now() + ttlSeconds * 1000 });
    // Bounded: the oldest entries go first, so many agents cannot grow memory without limit.
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  health(): { status: 'healthy'; detail: string } {
    return { status: 'healthy', detail: `in process, ${this.#entries.size} entr${this.#entries.size === 1 ? 'y' : 'ies'}` };
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }
}

/** Picks the cache for a configuration: in process unless a Redis client can be had. */
export function createCapabilityCache(config: { redis: { url?: string | undefined } }): {
  cache: CapabilityCache;
  warning?: string;
} {
  const cache = new InProcessCapabilityCache();
  if (config.redis.url) {
    return {
      cache,
      warning: 'REDIS_URL is set but no Redis client package is installed: the capability cache stays in process (per node)',
    };
  }
  return { cache };
}
