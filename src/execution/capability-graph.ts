/**
 * The capability graph of a session: every action name it may use, with its kind
 * (skill | tool | mcp), version, source, JSON Schema and a compiled params validator.
 * Built from the session context; cached per agent for capability.cache_ttl seconds.
 */
import type { AuditEventDraft } from '../audit/events.ts';
import type { CapabilitySummary, SessionContext } from '../contracts.ts';
import { RuntimeError, errorMessage } from '../errors.ts';
import { agentCapabilityKey } from '../capabilities/cache/agent-key.ts';
import { BUILTIN_TOOLS } from '../capabilities/tools/index.ts';
import type { ToolContext } from '../capabilities/tools/tool.ts';
import type { Skill } from '../capabilities/skills/loader.ts';
import { type ParamsValidator, compileParamsValidator } from './json-schema.ts';

export type CapabilityKind = 'skill' | 'tool' | 'mcp';

export interface InvokeContext extends ToolContext {
  session_id: string;
  org_id: string;
  /** the action being run (MCP capabilities name it in their own audit events) */
  action_id?: string;
  /** traces on: the action's span as a W3C traceparent (MCP calls carry it to the server) */
  traceparent?: string;
  /** appends an event to the session's hash chain (MCP call events) */
  audit?: (draft: AuditEventDraft) => void;
  /**
   * Calls `listener` once if the action times out or is cancelled (at once if it already was);
   * returns a function that removes it. For callers that only need to hear about the end of
   * the action: reading `signal` creates an AbortController, which costs more than a short call.
   */
  onCancel?: (listener: (reason: unknown) => void) => () => void;
}

export interface Capability {
  name: string;
  kind: CapabilityKind;
  version: string;
  source: string;
  description: string;
  inputSchema: Record<string, unknown>;
  validate: ParamsValidator;
  /** MCP capabilities: the server they belong to */
  mcpServer?: { id: string; name: string };
  /**
   * Changes nothing outside the runtime (echo, sleep, read_file, an MCP tool that declares
   * readOnlyHint): with AUDIT_DURABILITY=strict, only a capability without this flag waits for
   * its action_started to be on stable storage before it runs.
   */
  readOnly?: boolean;
  invoke(params: Record<string, unknown>, ctx: InvokeContext): Promise<unknown>;
}

/**
 * Capabilities that change while a session runs: MCP tools of servers that disconnect,
 * reconnect or change their tool list (issue 4). Consulted at every get() and summary().
 */
export interface LiveCapabilities {
  /** every name it can resolve (tools of a disconnected server resolve, then fail with mcp_unavailable) */
  get(name: string): Capability | undefined;
  /** what the planner may use now: only connected servers' tools */
  list(): readonly Capability[];
}

/** Where MCP tools come from (the MCP gateway); absent until one is configured. */
export interface McpToolProvider {
  capabilitiesFor(ctx: SessionContext): Promise<Capability[]>;
  /** when present, MCP tools are looked up live instead of fixed when the graph is built */
  liveFor?(ctx: SessionContext): LiveCapabilities;
}

export class CapabilityGraph {
  readonly #byName: ReadonlyMap<string, Capability>;
  readonly #live: LiveCapabilities | undefined;

  constructor(capabilities: readonly Capability[], live?: LiveCapabilities) {
    this.#byName = new Map(capabilities.map((c) => [c.name, c]));
    this.#live = live;
  }

  get(name: string): Capability | undefined {
    return this.#byName.get(name) ?? this.#live?.get(name);
  }

  get size(): number {
    return this.#byName.size + (this.#live?.list().length ?? 0);
  }

  /** Names, kinds, versions and schemas: what the planner sees and session_started records. */
  summary(): CapabilitySummary[] {
    return [...this.#byName.values(), ...(this.#live?.list() ?? [])].map((c) => ({
      name: c.name,
      kind: c.kind,
      version: c.version,
      source: c.source,
      description: c.description,
      input_schema: c.inputSchema,
      ...(c.readOnly ? { read_only: true } : {}),
    }));
  }
}

export interface GraphLimits {
  cacheTtlSeconds: number;
  maxSkillsPerAgent: number;
  maxMcpServersPerOrg: number;
}

interface CacheEntry {
  graph: CapabilityGraph;
  expiresAt: number;
}

/**
 * Builds graphs and keeps the compiled ones per agent for capability.cache_ttl, in this thread
 * (validators and invoke functions cannot be shared; MCP tool lists are shared through the
 * capability cache on the main thread, src/capabilities/cache/).
 */
export class CapabilityGraphBuilder {
  readonly #cache = new Map<string, CacheEntry>();
  readonly #limits: GraphLimits;
  readonly #mcp: McpToolProvider | undefined;

  constructor(limits: GraphLimits, mcp?: McpToolProvider) {
    this.#limits = limits;
    this.#mcp = mcp;
  }

  async build(ctx: SessionContext, skills: ReadonlyMap<string, Skill>): Promise<CapabilityGraph> {
    if (ctx.skills.length > this.#limits.maxSkillsPerAgent) {
      throw new RuntimeError(
        'too_many_skills',
        `agent ${ctx.agent_id} asks for ${ctx.skills.length} skills; max_skills_per_agent is ${this.#limits.maxSkillsPerAgent}`,
      );
    }
    if (ctx.mcp_servers.length > this.#limits.maxMcpServersPerOrg) {
      throw new RuntimeError(
        'too_many_mcp_servers',
        `${ctx.mcp_servers.length} MCP servers given; max_mcp_servers_per_org is ${this.#limits.maxMcpServersPerOrg}`,
      );
    }
    const key = agentCapabilityKey(ctx);
    const now = Date.now();
    const hit = this.#cache.get(key);
    if (hit && hit.expiresAt > now) return hit.graph;

    const capabilities: Capability[] = [];
    for (const name of new Set(ctx.tools)) {
      const tool = BUILTIN_TOOLS.get(name);
      if (!tool) {
        throw new RuntimeError(
          'invalid_context',
          `tools: unknown built-in tool ${JSON.stringify(name)} (known: ${[...BUILTIN_TOOLS.keys()].join(', ')})`,
        );
      }
      capabilities.push({
        name: tool.name,
        kind: 'tool',
        version: tool.version,
        source: 'builtin',
        description: tool.description,
        inputSchema: tool.inputSchema,
        validate: compileParamsValidator(tool.inputSchema, `tool ${tool.name}`),
        ...(tool.readOnly ? { readOnly: true } : {}),
        invoke: (params, ictx) => tool.run(params, ictx),
      });
    }
    for (const name of new Set(ctx.skills)) {
      const skill = skills.get(name);
      if (!skill) {
        const known = [...skills.keys()];
        throw new RuntimeError(
          'invalid_context',
          `skills: unknown skill ${JSON.stringify(name)} (${known.length ? `known: ${known.join(', ')}` : 'no skills are loaded'})`,
        );
      }
      if (BUILTIN_TOOLS.has(name) && ctx.tools.includes(name)) {
        throw new RuntimeError('invalid_context', `skills: ${name} clashes with the built-in tool of the same name`);
      }
      capabilities.push(skillCapability(skill));
    }
    let live: LiveCapabilities | undefined;
    if (this.#mcp && ctx.mcp_servers.length > 0) {
      if (this.#mcp.liveFor) live = this.#mcp.liveFor(ctx);
      else capabilities.push(...(await this.#mcp.capabilitiesFor(ctx)));
    }

    const graph = new CapabilityGraph(capabilities, live);
    if (this.#limits.cacheTtlSeconds > 0) {
      this.#cache.set(key, { graph, expiresAt: now + this.#limits.cacheTtlSeconds * 1000 });
    }
    return graph;
  }
}

function skillCapability(skill: Skill): Capability {
  return {
    name: skill.name,
    kind: 'skill',
    version: skill.version,
    source: `skills/${skill.file}`,
    description: skill.description,
    inputSchema: skill.parameters,
    validate: compileParamsValidator(skill.parameters, `skill ${skill.name}`),
    invoke: async (params, ictx) => {
      try {
        return await skill.execute(params, {
          signal: ictx.signal,
          session_id: ictx.session_id,
          org_id: ictx.org_id,
          sandboxDir: ictx.sandboxDir,
        });
      } catch (err) {
        if (err instanceof RuntimeError) throw err;
        throw new RuntimeError('skill_error', `skill ${skill.name} failed: ${errorMessage(err)}`);
      }
    },
  };
}
