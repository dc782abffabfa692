/**
 * The capability cache as a session start uses it (main thread, called by the supervisor):
 *
 *   createSession ──lookup(ctx)──► hit:  the agent's MCP tool lists, no server is asked
 *                                  miss: the gateway asks each server (tools/list), then remember()
 *   McpGateway change (a server's tool list differs from the last one seen) ──► invalidateServer
 *
 * Sessions without MCP servers never come here: their graphs are built from local tools and
 * skills, and each worker keeps those compiled (CapabilityGraphBuilder).
 */
import type { McpServerSnapshot, McpToolInfo } from '../mcp/shapes.ts';
import type { SessionContext } from '../../contracts.ts';
import type { Logger } from '../../log.ts';
import { agentCapabilityKey } from './agent-key.ts';
import type { CapabilityCache } from './capability-cache.ts';
import type { ComponentHealth } from '../../health.ts';

/** Connections whose last tool list is remembered, to tell a changed list from a reconnect. */
const MAX_TRACKED_CONNECTIONS = 10_000;

export interface CapabilityCacheStats {
  backend: 'in_process' | 'redis';
  hits: number;
  misses: number;
  invalidations: number;
}

export class AgentCapabilityCache {
  readonly #cache: CapabilityCache;
  readonly #ttlSeconds: number;
  readonly #log: Logger;
  /** connection key → its last tool list seen (JSON), to tell a change from a reconnect */
  readonly #lastTools = new Map<string, string>();
  #hits = 0;
  #misses = 0;
  #invalidations = 0;

  constructor(cache: CapabilityCache, ttlSeconds: number, log: Logger) {
    this.#cache = cache;
    this.#ttlSeconds = ttlSeconds;
    this.#log = log;
  }

  get enabled(): boolean {
    return this.#ttlSeconds > 0;
  }

  /** The agent's cached MCP tool lists, or a miss (always a miss with cache_ttl 0). */
  async lookup(ctx: SessionContext): Promise<{ key: string; mcpTools?: Record<string, McpToolInfo[]> }> {
    const key = agentCapabilityKey(ctx);
    if (!this.enabled) {
      this.#misses++;
      return { key };
    }
    const hit = await this.#cache.get(key);
    if (!hit) {
      this.#misses++;
      return { key };
    }
    this.#hits++;
    return { key, mcpTools: hit.mcp_tools };
  }

  /** Caches what the servers listed; only a complete picture (every server connected) is kept. */
  async remember(key: string, snapshots: readonly McpServerSnapshot[]): Promise<void> {
    if (!this.enabled || snapshots.length === 0 || snapshots.some((s) => !s.connected)) return;
    const mcpTools: Record<string, McpToolInfo[]> = {};
    for (const s of snapshots) mcpTools[s.key] = s.tools;
    await this.#cache.set(
      key,
      { built_at: new Date().toISOString(), mcp_tools: mcpTools },
      this.#ttlSeconds,
      snapshots.map((s) => s.key),
    );
  }

  /**
   * A connection changed: when its tool list differs from the last one seen, every cached
   * graph built with the old list goes. A first list is not a change: how stale a shared entry
   * may be when no node was connected to see the change is what cache_ttl bounds.
   */
  observe(snapshot: McpServerSnapshot): void {
    if (!snapshot.connected) return;
    const tools = JSON.stringify(snapshot.tools);
    const before = this.#lastTools.get(snapshot.key);
    this.#lastTools.delete(snapshot.key); // re-inserted last: Map order is then least recently seen first
    this.#lastTools.set(snapshot.key, tools);
    // Bounded: connections come and go with server configs; the least recently seen are forgotten
    // (a forgotten one only misses one invalidation, which the TTL then bounds).
    if (this.#lastTools.size > MAX_TRACKED_CONNECTIONS) {
      const oldest = this.#lastTools.keys().next().value;
      if (oldest !== undefined) this.#lastTools.delete(oldest);
    }
    if (before === undefined || before === tools) return;
    this.#invalidations++;
    this.#cache.invalidateServer(snapshot.key).catch((err: unknown) => {
      this.#log.warn({ err: (err as Error).message, mcp_server: snapshot.key }, 'capability cache invalidation failed');
    });
  }

  stats(): CapabilityCacheStats {
    return { backend: this.#cache.backend, hits: this.#hits, misses: this.#misses, invalidations: this.#invalidations };
  }

  health(): ComponentHealth {
    const h = this.#cache.health();
    return this.enabled ? h : { status: h.status, detail: `${h.detail}; disabled (capability.cache_ttl is 0)` };
  }

  close(): Promise<void> {
    return this.#cache.close();
  }
}
