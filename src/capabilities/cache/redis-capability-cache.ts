/**
 * The capability cache in Redis (REDIS_URL), shared by every node of a deployment.
 *
 *   <prefix>entry:<agent key>        the entry, JSON, EX ttl
 *   <prefix>server:<connection key>  SET of the agent keys built with that server's tool list
 *
 * Redis is an optimisation, never a dependency of a session: every command fails fast (no
 * offline queue, a short command timeout) and then the in-process cache answers instead. The
 * first failure logs one warning and turns health() degraded; after a failure Redis is left
 * alone for RETRY_AFTER_MS (a Redis that hangs must not add a timeout to every session start),
 * then tried again. When the client reconnects or a command succeeds again it logs that and
 * goes back to Redis (ioredis keeps reconnecting on its own).
 */
import { Redis } from 'ioredis';
import { z } from 'zod';
import type { ComponentHealth } from '../../health.ts';
import { McpToolInfoSchema } from '../mcp/shapes.ts';
import type { Logger } from '../../log.ts';
import {
  type CachedCapabilities,
  type CapabilityCache,
  InProcessCapabilityCache,
} from './capability-cache.ts';

const CachedCapabilitiesSchema = z.object({
  built_at: z.string(),
  mcp_tools: z.record(z.string(), z.array(McpToolInfoSchema)),
});

/** After a failed command, how long the in-process cache answers before Redis is tried again. */
export const RETRY_AFTER_MS = 5000;

export interface RedisCacheOptions {
  log: Logger;
  /** key prefix, so several deployments (or tests) can share one Redis */
  prefix?: string;
  /** a command that takes longer counts as Redis being unreachable */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  retryAfterMs?: number;
}

export class RedisCapabilityCache implements CapabilityCache {
  readonly backend = 'redis' as const;
  readonly #client: Redis;
  readonly #fallback = new InProcessCapabilityCache();
  readonly #prefix: string;
  readonly #where: string;
  readonly #log: Logger;
  readonly #connectTimeoutMs: number;
  readonly #retryAfterMs: number;
  #degradedBy: string | undefined;
  /** performance.now() before which Redis is not asked (after a failure) */
  #skipUntil = 0;

  constructor(url: string, options: RedisCacheOptions) {
    this.#prefix = options.prefix ?? 'semibot:capabilities:';
    this.#log = options.log.child({ component: 'capability_cache' });
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.#retryAfterMs = options.retryAfterMs ?? RETRY_AFTER_MS;
    const parsed = new URL(url);
    this.#where = `${parsed.hostname}:${parsed.port || 6379}`; // never the password
    this.#client = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: this.#connectTimeoutMs,
      // Keep trying for ever, at most every 5 s: the cache comes back by itself.
      retryStrategy: (attempt) => Math.min(attempt * 200, 5000),
    });
    // Without a listener, ioredis reports each failed reconnect as an unhandled error.
    this.#client.on('error', (err: Error) => this.#degrade(err.message));
    this.#client.on('ready', () => this.#recover());
  }

  /** Connects, waiting at most connectTimeoutMs; an unreachable Redis only degrades the cache. */
  async connect(): Promise<void> {
    try {
      await this.#client.connect();
    } catch (err) {
      this.#degrade((err as Error).message);
    }
  }

  async get(key: string): Promise<CachedCapabilities | undefined> {
    if (!this.#usable()) return this.#fallback.get(key);
    let raw: string | null;
    try {
      raw = await this.#client.get(this.#entryKey(key));
      this.#recover();
    } catch (err) {
      this.#degrade((err as Error).message);
      return this.#fallback.get(key);
    }
    if (raw === null) return undefined;
    const parsed = CachedCapabilitiesSchema.safeParse(safeJson(raw));
    if (!parsed.success) {
      // Written by another version, or damaged: a miss, and the next build replaces it.
      this.#log.warn({ key }, 'ignoring a capability cache entry of an unknown shape');
      return undefined;
    }
    return parsed.data;
  }

  async set(
    key: string,
    value: CachedCapabilities,
    ttlSeconds: number,
    serverKeys: readonly string[],
  ): Promise<void> {
    if (!(ttlSeconds > 0)) return;
    if (!this.#usable()) return this.#fallback.set(key, value, ttlSeconds, serverKeys);
    const ttl = Math.max(1, Math.ceil(ttlSeconds));
    const tx = this.#client.multi().set(this.#entryKey(key), JSON.stringify(value), 'EX', ttl);
    // An index lives as long as the newest entry in it, so it covers every older one too.
    for (const server of serverKeys) tx.sadd(this.#serverKey(server), key).expire(this.#serverKey(server), ttl);
    try {
      await tx.exec();
      this.#recover();
    } catch (err) {
      this.#degrade((err as Error).message);
      await this.#fallback.set(key, value, ttlSeconds, serverKeys);
    }
  }

  async invalidateServer(serverKey: string): Promise<void> {
    await this.#fallback.invalidateServer(serverKey);
    if (!this.#usable()) return;
    try {
      const index = this.#serverKey(serverKey);
      const keys = await this.#client.smembers(index);
      await this.#client.del(index, ...keys.map((k) => this.#entryKey(k)));
    } catch (err) {
      // The Redis entries then expire with their TTL; the warning says the cache degraded.
      this.#degrade((err as Error).message);
    }
  }

  health(): ComponentHealth {
    if (this.#degradedBy !== undefined) {
      return {
        status: 'degraded',
        detail: `Redis at ${this.#where} unreachable (${this.#degradedBy}); capability cache in process on this node until it is back`,
      };
    }
    return { status: 'healthy', detail: `redis ${this.#where}` };
  }

  async close(): Promise<void> {
    await this.#fallback.close();
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }

  #usable(): boolean {
    if (this.#client.status !== 'ready') {
      this.#degrade(`connection ${this.#client.status}`);
      return false;
    }
    return performance.now() >= this.#skipUntil;
  }

  #recover(): void {
    this.#skipUntil = 0;
    if (this.#degradedBy === undefined) return;
    this.#log.info({ redis: this.#where }, 'Redis is reachable again: the capability cache is shared again');
    this.#degradedBy = undefined;
    // What was cached on this node meanwhile is dropped, so it cannot outlive an invalidation.
    void this.#fallback.close();
  }

  #degrade(reason: string): void {
    this.#skipUntil = performance.now() + this.#retryAfterMs;
    if (this.#degradedBy !== undefined) {
      this.#degradedBy = reason || this.#degradedBy;
      return;
    }
    this.#degradedBy = reason || 'unknown error';
    this.#log.warn(
      { redis: this.#where, err: this.#degradedBy },
      'Redis unreachable: the capability cache falls back to this node only; sessions are not affected',
    );
  }

  #entryKey(key: string): string {
    return `${this.#prefix}entry:${key}`;
  }

  #serverKey(serverKey: string): string {
    return `${this.#prefix}server:${serverKey}`;
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
