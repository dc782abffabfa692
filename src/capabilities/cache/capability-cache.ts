/**
 * The capability cache: what a session start would otherwise have to ask remote MCP servers
 * for, kept per agent for capability.cache_ttl seconds. In process by default; in Redis when
 * REDIS_URL is set, so every node of a deployment shares it (redis-capability-cache.ts).
 *
 * What is cached is the serialisable part of a capability graph: the tool lists of the
 * agent's MCP servers, by connection key. Compiled params validators and invoke functions
 * cannot travel; each worker thread keeps its own compiled graphs for the same TTL
 * (CapabilityGraphBuilder). An entry is dropped early when one of its servers says its tool
 * list changed (invalidateServer), so a hit is never older than the last change notified.
 */
import type { McpToolInfo } from '../mcp/shapes.ts';
import type { ComponentHealth } from '../../health.ts';

export interface CachedCapabilities {
  /** ISO time the entry was built (operators can see how old a shared entry is) */
  built_at: string;
  /** connection key (org + server + transport) → that server's tools/list at built_at */
  mcp_tools: Record<string, McpToolInfo[]>;
}


export interface CapabilityCache {
  readonly backend: 'in_process' | 'redis';
  get(key: string): Promise<CachedCapabilities | undefined>;
  /** keeps the entry ttlSeconds (0 stores nothing), indexed under each MCP connection key */
  set(key: string, value: CachedCapabilities, ttlSeconds: number, serverKeys: readonly string[]): Promise<void>;
  /** drops every entry built with this MCP connection's tool list */
  invalidateServer(serverKey: string): Promise<void>;
  health(): ComponentHealth;
  close(): Promise<void>;
}

interface Entry {
  value: CachedCapabilities;
  expiresAtMs: number;
  serverKeys: readonly string[];
}

/** The default cache: a Map with expiry and a size bound, on an injectable clock. */
export class InProcessCapabilityCache implements CapabilityCache {
  readonly backend = 'in_process' as const;
  readonly #entries = new Map<string, Entry>();
  /** connection key → the entries built with it */
  readonly #byServer = new Map<string, Set<string>>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor({ maxEntries = 10_000, now = Date.now }: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  async get(key: string): Promise<CachedCapabilities | undefined> {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    if (hit.expiresAtMs <= this.#now()) {
      this.#remove(key);
      return undefined;
    }
    // A copy, so a caller that changes what it got cannot change another session's view.
    return structuredClone(hit.value);
  }

  async set(
    key: string,
    value: CachedCapabilities,
    ttlSeconds: number,
    serverKeys: readonly string[],
  ): Promise<void> {
    if (!(ttlSeconds > 0)) return;
    this.#remove(key); // re-insert: Map order is then oldest-written first
    this.#entries.set(key, {
      value: structuredClone(value),
      expiresAtMs: this.#now() + ttlSeconds * 1000,
      serverKeys: [...serverKeys],
    });
    for (const server of serverKeys) {
      const keys = this.#byServer.get(server) ?? new Set<string>();
      keys.add(key);
      this.#byServer.set(server, keys);
    }
    // Bounded: the oldest entries go first, so many agents cannot grow memory without limit.
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#remove(oldest);
    }
  }

  async invalidateServer(serverKey: string): Promise<void> {
    const keys = this.#byServer.get(serverKey);
    if (!keys) return;
    for (const key of [...keys]) this.#remove(key);
    this.#byServer.delete(serverKey);
  }

  health(): ComponentHealth {
    const n = this.#entries.size;
    return { status: 'healthy', detail: `in process, ${n} entr${n === 1 ? 'y' : 'ies'}` };
  }

  async close(): Promise<void> {
    this.#entries.clear();
    this.#byServer.clear();
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    for (const server of entry.serverKeys) {
      const keys = this.#byServer.get(server);
      keys?.delete(key);
      if (keys?.size === 0) this.#byServer.delete(server);
    }
  }
}
