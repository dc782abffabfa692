/**
 * Worker side of MCP: turns the gateway's server snapshots into `mcp` capabilities of the
 * capability graph, and runs them by message.
 *
 *   session.start {ctx, mcp: snapshots} ─┐
 *   session.mcp_status {snapshot} ───────┴─► McpRegistry (per host, newest version wins)
 *   CapabilityGraph.get/summary ──► McpLiveView (per org + servers; rebuilt when a version changes)
 *   capability.invoke ──► McpCallClient ──mcp.call──► gateway (main thread) ──► server
 *
 * The view is live because a session's graph is built once (and cached per agent): a server
 * that disconnects drops out of summary() at once and its tools fail fast with
 * mcp_unavailable; when it reconnects, or says its tool list changed, the new list shows up.
 */
import type { McpServerSnapshot, McpToolInfo } from './shapes.ts';
import type { SessionContext } from '../../contracts.ts';
import { RuntimeError, toWireError } from '../../errors.ts';
import { sessionKey } from '../../session-key.ts';
import type {
  Capability,
  InvokeContext,
  LiveCapabilities,
  McpToolProvider,
} from '../../execution/capability-graph.ts';
import { type ParamsValidator, compileParamsValidator } from '../../execution/json-schema.ts';
import type { McpCallClient } from './call-client.ts';
import { disambiguatedName, mcpConnectionKey, mcpToolName } from './naming.ts';

/** The newest snapshot of every connection this host has heard of. */
export class McpRegistry {
  readonly #snapshots = new Map<string, McpServerSnapshot>();

  /** Keeps the snapshot if it is newer; returns the one it replaced (or undefined), or null when stale. */
  update(snapshot: McpServerSnapshot): McpServerSnapshot | undefined | null {
    const current = this.#snapshots.get(snapshot.key);
    if (current && current.version >= snapshot.version) return null;
    this.#snapshots.set(snapshot.key, snapshot);
    return current;
  }

  get(key: string): McpServerSnapshot | undefined {
    return this.#snapshots.get(key);
  }
}

export class McpCapabilityProvider implements McpToolProvider {
  readonly #registry: McpRegistry;
  readonly #client: McpCallClient;

  constructor(registry: McpRegistry, client: McpCallClient) {
    this.#registry = registry;
    this.#client = client;
  }

  async capabilitiesFor(ctx: SessionContext): Promise<Capability[]> {
    return [...this.liveFor(ctx).list()];
  }

  liveFor(ctx: SessionContext): LiveCapabilities {
    return new McpLiveView(
      ctx.mcp_servers.map((s) => ({ key: mcpConnectionKey(ctx.org_id, s), id: s.id })),
      this.#registry,
      this.#client,
    );
  }
}

class McpLiveView implements LiveCapabilities {
  readonly #servers: ReadonlyArray<{ key: string; id: string }>;
  readonly #registry: McpRegistry;
  readonly #client: McpCallClient;
  #stamp = '';
  #byName = new Map<string, Capability>();
  #listed: Capability[] = [];

  constructor(
    servers: ReadonlyArray<{ key: string; id: string }>,
    registry: McpRegistry,
    client: McpCallClient,
  ) {
    this.#servers = servers;
    this.#registry = registry;
    this.#client = client;
  }

  get(name: string): Capability | undefined {
    this.#refresh();
    return this.#byName.get(name);
  }

  list(): readonly Capability[] {
    this.#refresh();
    return this.#listed;
  }

  #refresh(): void {
    let stamp = '';
    for (const s of this.#servers) stamp += `${this.#registry.get(s.key)?.version ?? -1},`;
    if (stamp === this.#stamp) return;
    const byName = new Map<string, Capability>();
    const listed: Capability[] = [];
    for (const s of this.#servers) {
      const snapshot = this.#registry.get(s.key);
      if (!snapshot) continue;
      for (const tool of snapshot.tools) {
        let name = mcpToolName(s.id, tool.name);
        // Another server of this session already took the name: both keep a distinct one.
        if (byName.has(name)) name = disambiguatedName(s.id, tool.name);
        const capability = this.#capability(name, snapshot, tool);
        byName.set(name, capability);
        if (snapshot.connected) listed.push(capability);
      }
    }
    this.#byName = byName;
    this.#listed = listed;
    this.#stamp = stamp;
  }

  #capability(name: string, snapshot: McpServerSnapshot, tool: McpToolInfo): Capability {
    const { key, server_id: serverId, server_name: serverName } = snapshot;
    const registry = this.#registry;
    const client = this.#client;
    const retrySafe = tool.read_only || tool.idempotent || snapshot.retry_tools.includes(tool.name);
    return {
      name,
      kind: 'mcp',
      version: `mcp:${serverId}`,
      source: `mcp://${serverId}/${tool.name}`,
      description: tool.description,
      inputSchema: tool.input_schema,
      validate: validatorFor(tool, serverId),
      mcpServer: { id: serverId, name: serverName },
      ...(tool.read_only ? { readOnly: true } : {}),
      async invoke(params: Record<string, unknown>, ictx: InvokeContext): Promise<unknown> {
        const now = registry.get(key);
        if (!now?.connected) {
          throw new RuntimeError(
            'mcp_unavailable',
            `MCP server ${serverId} is disconnected${now?.error ? ` (${now.error})` : ''}; it reconnects after mcp.reconnect_delay`,
          );
        }
        if (!now.tools.some((t) => t.name === tool.name)) {
          throw new RuntimeError(
            'mcp_unavailable',
            `MCP server ${serverId} no longer offers the tool ${tool.name}`,
          );
        }
        const base = {
          action_id: ictx.action_id ?? null,
          action_name: name,
          capability_type: 'mcp',
          capability_source: `mcp://${serverId}/${tool.name}`,
          capability_version: `mcp:${serverId}`,
          mcp_server_id: serverId,
          mcp_server_name: serverName,
        } as const;
        ictx.audit?.({
          ...base,
          event_type: 'mcp_call_started',
          message: `MCP call ${serverId}/${tool.name} started`,
          metadata: { tool: tool.name, retry_safe: retrySafe },
        });
        const startedAt = performance.now();
        let outcome: Awaited<ReturnType<McpCallClient['call']>>;
        try {
          outcome = await client.call(key, sessionKey(ictx.org_id, ictx.session_id), tool.name, params, ictx);
        } catch (err) {
          // Aborted here (action timeout or cancel): the gateway was told to cancel the request.
          const error = toWireError(err, 'action_cancelled');
          ictx.audit?.({
            ...base,
            event_type: 'mcp_call_failed',
            severity: 'error',
            message: `MCP call ${serverId}/${tool.name} abandoned: ${error.message}`,
            success: false,
            error_message: error.message,
            duration_ms: round(performance.now() - startedAt),
            metadata: { tool: tool.name, error_code: error.code, cancelled_on_server: true },
          });
          throw err;
        }
        const meta = { tool: tool.name, attempts: outcome.meta.attempts, retry_safe: retrySafe };
        if (outcome.ok) {
          ictx.audit?.({
            ...base,
            event_type: 'mcp_call_completed',
            message: `MCP call ${serverId}/${tool.name} completed`,
            success: true,
            duration_ms: outcome.meta.duration_ms,
            metadata: meta,
          });
          return outcome.value;
        }
        ictx.audit?.({
          ...base,
          event_type: 'mcp_call_failed',
          severity: 'error',
          message: `MCP call ${serverId}/${tool.name} failed: ${outcome.error.message}`,
          success: false,
          error_message: outcome.error.message,
          duration_ms: outcome.meta.duration_ms,
          metadata: { ...meta, error_code: outcome.error.code },
        });
        throw new RuntimeError(outcome.error.code, outcome.error.message);
      },
    };
  }
}

/** A server's schema that ajv cannot compile makes the tool refuse every call with a clear reason. */
function validatorFor(tool: McpToolInfo, serverId: string): ParamsValidator {
  try {
    return compileParamsValidator(tool.input_schema, `MCP tool ${serverId}/${tool.name}`);
  } catch (err) {
    const reason = (err as Error).message;
    return () => `the server's input schema cannot be used: ${reason}`;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
