/**
 * The MCP gateway actor: one connection per configured server (keyed by org + server id +
 * transport config), shared by every session of that org that names it. It lives on the main
 * thread beside the supervisor, which relays the hosts' messages to it.
 *
 *   Supervisor.createSession ──acquire(session, org, servers)──► McpGateway ──► McpConnection (SDK Client)
 *        ◄── snapshots (connected?, tools) ── passed into session.start ─────────►  stdio child | HTTP
 *   worker: SessionHost ──mcp.call / mcp.cancel──► Supervisor ──► McpGateway.call/cancel
 *        ◄── session.mcp_result ── Supervisor ◄── outcome
 *   McpConnection state or tool list changes ──onChange──► Supervisor ──session.mcp_status──► every host
 *
 * A connection lives while sessions use it and lingers IDLE_LINGER_MS after the last one
 * ends, so a burst of short sessions does not respawn the server each time.
 */
import type { Config } from '../../config/schema.ts';
import type { McpServerConfig } from '../../src/contracts.ts';
import { RuntimeError } from '../../src/errors.ts';
import { parseSessionKey, type SessionKey } from '../../src/session-key.ts';
import type { Logger } from '../../src/log.ts';
import { mcpConnectionKey } from '../../src/capabilities/mcp/naming.ts';
import { McpConnection } from './connection.ts';
import type { PinGuard } from '../../src/capabilities/mcp/tool-pins.ts';
import type { UpstreamContext } from '../../src/capabilities/mcp/auth/upstream-auth.ts';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Tracing } from '../../src/telemetry/tracing.ts';
import type { McpCallOutcome, McpServerSnapshot, McpToolInfo } from '../../src/capabilities/mcp/shapes.ts';
import type { McpGatewayMessage } from './messages.ts';
import type { ComponentHealth } from '../../src/health.ts';

/** How often connections that withhold a changed tool list again (has an operator accepted it?). */
const PIN_RECHECK_MS = 5000;

export const IDLE_LINGER_MS = 30_000;

interface Entry {
  connection: McpConnection;
  sessions: Set<SessionKey>;
  idleTimer: NodeJS.Timeout | undefined;
}

export interface McpGatewayStats {
  connections: number;
  connected: number;
  calls_in_flight: number;
}

export class McpGateway {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #sessionKeys = new Map<SessionKey, string[]>();
  readonly #calls = new Map<string, AbortController>();
  readonly #listeners = new Set<(snapshot: McpServerSnapshot) => void>();
  #closed = false;
  readonly #pins: PinGuard | undefined;
  /** traces on: `tools/call {tool}` client spans, their context sent to the server in params._meta */
  readonly #tracing: Tracing | undefined;
  readonly #pinRecheck: NodeJS.Timeout | undefined;
  /** token store, secrets' environment and (CLI) the interactive login, for servers with `auth` */
  readonly #auth: UpstreamContext;

  constructor(config: Config, log: Logger, pins?: PinGuard, tracing?: Tracing, auth?: UpstreamContext) {
    this.#config = config;
    this.#auth = auth ?? { store: undefined, env: {} };
    this.#tracing = tracing;
    this.#log = log.child({ actor: 'mcp-gateway' });
    this.#pins = pins;
    if (pins) {
      // A withheld tool comes back once an operator accepts its new definition (mcp pins
      // accept): connections withholding something list again now and then to find out.
      this.#pinRecheck = setInterval(() => {
        for (const { connection } of this.#entries.values()) {
          if (connection.withheld.length > 0) void connection.relist();
        }
      }, PIN_RECHECK_MS);
      this.#pinRecheck.unref();
    }
  }

  /** Subscribes to connection and tool-list changes. */
  onChange(listener: (snapshot: McpServerSnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Registers a session's servers, enforcing max_mcp_servers_per_org, and waits until each
   * connection attempt has settled (bounded by mcp.connection_timeout). A server that could
   * not connect is returned disconnected (it keeps reconnecting); it does not fail the session.
   *
   * Tool lists follow the capability cache: with `cached` lists (a hit), a connection that has
   * yet to connect uses them instead of tools/list; with `relist` (a miss), servers that were
   * already connected are asked for their list again.
   */
  async acquire(
    session: SessionKey,
    orgId: string,
    servers: readonly McpServerConfig[],
    tools: { cached?: Readonly<Record<string, McpToolInfo[]>>; relist?: boolean } = {},
  ): Promise<McpServerSnapshot[]> {
    if (this.#closed) throw new RuntimeError('runtime_stopping');
    if (servers.length === 0) return [];
    const seen = new Set<string>();
    for (const s of servers) {
      if (seen.has(s.id))
        throw new RuntimeError('invalid_context', `mcp_servers: the id ${s.id} is given twice`);
      seen.add(s.id);
    }
    const keys = servers.map((s) => mcpConnectionKey(orgId, s));
    const max = this.#config.capability.max_mcp_servers_per_org;
    const inUse = new Set(keys);
    for (const [key, entry] of this.#entries) {
      if (entry.connection.orgId === orgId && entry.sessions.size > 0) inUse.add(key);
    }
    if (inUse.size > max) {
      throw new RuntimeError(
        'too_many_mcp_servers',
        `org ${orgId} would use ${inUse.size} MCP servers; max_mcp_servers_per_org is ${max}`,
        { org_id: orgId, servers: inUse.size, max },
      );
    }
    this.#sessionKeys.set(session, keys);
    const entries = servers.map((server, i) => this.#entry(keys[i]!, orgId, server));
    const wasConnected = entries.map((e) => e.connection.state === 'connected');
    for (const [i, entry] of entries.entries()) {
      entry.sessions.add(session);
      clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
      const cachedTools = tools.cached?.[keys[i]!];
      if (cachedTools) entry.connection.seed(cachedTools);
    }
    await Promise.all(entries.map((e) => e.connection.settle()));
    // A connection made just now has listed its tools already.
    if (tools.relist)
      await Promise.all(entries.map((e, i) => (wasConnected[i] ? e.connection.relist() : undefined)));
    return entries.map((e) => e.connection.snapshot());
  }

  /** The session ended: its connections may close once no session uses them. */
  release(session: SessionKey): void {
    const keys = this.#sessionKeys.get(session);
    if (!keys) return;
    this.#sessionKeys.delete(session);
    for (const key of keys) {
      const entry = this.#entries.get(key);
      if (!entry) continue;
      entry.sessions.delete(session);
      if (entry.sessions.size > 0 || entry.idleTimer) continue;
      entry.idleTimer = setTimeout(() => {
        if (entry.sessions.size > 0) return;
        this.#entries.delete(key);
        void entry.connection.close();
      }, IDLE_LINGER_MS);
      entry.idleTimer.unref();
    }
  }

  /** Runs one mcp.call from a host (`host` names the caller so call ids cannot clash). */
  async call(host: string, m: Extract<McpGatewayMessage, { type: 'mcp.call' }>): Promise<McpCallOutcome> {
    const entry = this.#entries.get(m.key);
    const noMeta = { duration_ms: 0, attempts: 0, server_name: entry?.connection.name ?? '' };
    if (!entry?.sessions.has(m.session)) {
      return {
        ok: false,
        error: {
          code: 'mcp_unavailable',
          message: `session ${parseSessionKey(m.session).session_id} has no MCP server ${m.key}`,
        },
        meta: noMeta,
      };
    }
    const id = `${host}:${m.call}`;
    const controller = new AbortController();
    this.#calls.set(id, controller);
    const span =
      this.#tracing && m.traceparent
        ? this.#tracing.tracer.startSpan(
            `tools/call ${m.tool}`,
            {
              kind: SpanKind.CLIENT,
              attributes: {
                'mcp.method.name': 'tools/call',
                'gen_ai.operation.name': 'execute_tool',
                'gen_ai.tool.name': m.tool,
                'semibot.mcp.server_id': entry.connection.server.id,
                ...(entry.connection.sessionId ? { 'mcp.session.id': entry.connection.sessionId } : {}),
              },
            },
            Tracing.extract(m.traceparent),
          )
        : undefined;
    try {
      const outcome = await entry.connection.call(
        m.tool,
        m.args,
        controller.signal,
        span ? { traceparent: Tracing.traceparent(span) } : undefined,
      );
      if (span && !outcome.ok) {
        span.setAttribute('error.type', outcome.error.code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
      }
      return outcome;
    } finally {
      span?.end();
      this.#calls.delete(id);
    }
  }

  /** The caller gave up (action timeout or cancel): abort the SDK request, which tells the server. */
  cancel(host: string, call: number, reason: string): void {
    this.#calls.get(`${host}:${call}`)?.abort(new RuntimeError('action_cancelled', reason));
  }

  /** A host died: abort every call it had in flight. */
  cancelHost(host: string): void {
    for (const [id, controller] of this.#calls) {
      if (id.startsWith(`${host}:`))
        controller.abort(new RuntimeError('worker_crashed', `host ${host} died`));
    }
  }

  snapshots(): McpServerSnapshot[] {
    return [...this.#entries.values()].map((e) => e.connection.snapshot());
  }

  stats(): McpGatewayStats {
    let connected = 0;
    for (const e of this.#entries.values()) if (e.connection.state === 'connected') connected++;
    return { connections: this.#entries.size, connected, calls_in_flight: this.#calls.size };
  }

  /** healthy when every connection in use is connected; degraded while some are down. */
  health(): ComponentHealth {
    const down = [...this.#entries.values()].filter(
      (e) => e.sessions.size > 0 && e.connection.state !== 'connected',
    );
    if (down.length === 0) return { status: 'healthy', detail: `${this.#entries.size} connection(s)` };
    return {
      status: 'degraded',
      detail: `${down.length} MCP server(s) disconnected: ${down.map((e) => e.connection.key).join(', ')}`,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#pinRecheck);
    for (const controller of this.#calls.values()) controller.abort(new RuntimeError('runtime_stopping'));
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const e of entries) clearTimeout(e.idleTimer);
    await Promise.all(entries.map((e) => e.connection.close()));
  }

  #entry(key: string, orgId: string, server: McpServerConfig): Entry {
    let entry = this.#entries.get(key);
    if (!entry) {
      const mcp = this.#config.mcp;
      entry = {
        connection: new McpConnection(key, orgId, server, {
          connectionTimeoutMs: mcp.connection_timeout * 1000,
          callTimeoutMs: mcp.call_timeout * 1000,
          maxRetries: mcp.max_retries,
          reconnectDelayMs: mcp.reconnect_delay * 1000,
          log: this.#log,
          onChange: (snapshot) => this.#emit(snapshot),
          ...(this.#pins ? { pins: this.#pins } : {}),
          auth: this.#auth,
        }),
        sessions: new Set(),
        idleTimer: undefined,
      };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  #emit(snapshot: McpServerSnapshot): void {
    for (const listener of this.#listeners) {
      try {
        listener(snapshot);
      } catch (err) {
        this.#log.error({ err }, 'MCP change listener failed');
      }
    }
  }
}
