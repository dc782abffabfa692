/**
 * The session host: one per pool worker, it owns the session actors pinned to that thread
 * and dispatches the supervisor's messages to them.
 *
 *   supervisor ──session.command──► SessionHost #handle ──► ./commands.ts ──► SessionActor (by session key)
 *   SessionActor ──events──► AuditOutbox ──audit.append──► audit actor
 *   SessionHost ──supervisor.reply / approval_requested / session_ended──► supervisor
 *   mcp capability ──mcp.call / mcp.cancel──► supervisor ──► MCP gateway (main thread)
 *     ◄── session.mcp_result / session.mcp_status (connection changes, audited per session)
 */
import type { Config } from '../../config/schema.ts';
import { isTerminal, type SessionContext } from '../../src/contracts.ts';
import { AuditOutbox } from '../../src/audit/emit.ts';
import type { AuditEvent, AuditEventDraft } from '../../src/audit/events.ts';
import { McpCallClient } from '../../src/capabilities/mcp/call-client.ts';
import { mcpConnectionKey } from '../../src/capabilities/mcp/naming.ts';
import { McpCapabilityProvider, McpRegistry } from '../../src/capabilities/mcp/provider.ts';
import { loadSkills } from '../../src/capabilities/skills/loader.ts';
import { RuntimeError, toWireError } from '../../src/errors.ts';
import { CapabilityGraphBuilder } from '../../src/execution/capability-graph.ts';
import { keyOf, parseSessionKey, type SessionKey } from '../../src/session-key.ts';
import type { StartedSession } from '../../src/session-protocol.ts';
import type { Transport } from '../../src/transport/transport.ts';
import type { AuditMessage } from '../audit/messages.ts';
import type { McpServerSnapshot } from '../../src/capabilities/mcp/shapes.ts';
import type { SupervisorMessage } from '../supervisor/messages.ts';
import type { SessionHostMessage } from './messages.ts';
import { createPlanner } from './planners/index.ts';
import type { JailLimits } from '../../src/capabilities/tools/jail.ts';
import { handleCommand } from './commands.ts';
import { SessionActor } from './session-actor.ts';
import { CedarPolicies } from '../../src/policy/cedar-policies.ts';
import type { PolicySource } from '../../src/policy/policy-source.ts';
import { Tracing, type TracingSettings } from '../../src/telemetry/tracing.ts';

export class SessionHost {
  readonly #config: Config;
  readonly #toSupervisor: Transport<SessionHostMessage, SupervisorMessage>;
  readonly #outbox: AuditOutbox;
  /** by SessionKey: ids are unique within an org only (issue 15) */
  readonly #sessions = new Map<SessionKey, SessionActor>();
  readonly #builder: CapabilityGraphBuilder;
  readonly #mcpRegistry = new McpRegistry();
  readonly #mcpClient: McpCallClient;
  /** session → the MCP connection keys it uses, for connection events in its audit chain */
  readonly #mcpKeys = new Map<SessionKey, Set<string>>();
  #onShutdown: (() => void) | undefined;
  readonly shutDown: Promise<void>;
  /** execute_code's confinement, the same for every session of this host */
  readonly #jail: JailLimits;
  /** the Cedar policies every session of this host decides with (replaced on reload) */
  #policies: CedarPolicies | undefined;
  /** this thread's span exporter (OTEL_*), flushed when the host shuts down */
  readonly #tracing: Tracing | undefined;

  constructor(
    config: Config,
    toSupervisor: Transport<SessionHostMessage, SupervisorMessage>,
    toAudit: Transport<SessionHostMessage, AuditMessage>,
    policies?: PolicySource,
    tracing?: TracingSettings,
  ) {
    this.#tracing = tracing ? new Tracing(tracing) : undefined;
    this.#config = config;
    // Compiled once here, per thread: the main thread checked the same text before sending it.
    this.#policies = policies ? new CedarPolicies(policies) : undefined;
    this.#jail = Object.freeze({
      bwrap: config.runtime.execute_code_bwrap,
      maxTotalMemoryMb: config.runtime.execute_code_max_total_memory_mb,
      maxProcesses: config.runtime.execute_code_max_processes,
      maxFileBytes: config.runtime.execute_code_max_file_bytes,
    });
    this.#toSupervisor = toSupervisor;
    this.#outbox = new AuditOutbox(
      { send: (events: AuditEvent[], urgent: boolean) => toAudit.send({ type: 'audit.append', events, urgent }) },
      config.audit.producer_window,
    );
    toAudit.onMessage((m) => {
      if (m.type === 'session.audit_ack') this.#outbox.ack(m.count);
    });
    this.#mcpClient = new McpCallClient((m) => toSupervisor.send(m));
    this.#builder = new CapabilityGraphBuilder(
      {
        cacheTtlSeconds: config.capability.cache_ttl,
        maxSkillsPerAgent: config.capability.max_skills_per_agent,
        maxMcpServersPerOrg: config.capability.max_mcp_servers_per_org,
      },
      new McpCapabilityProvider(this.#mcpRegistry, this.#mcpClient),
    );
    this.shutDown = new Promise((resolve) => {
      this.#onShutdown = resolve;
    });
    // Handlers only start work and return at once, so messages are handled as they arrive, in order.
    toSupervisor.onMessage((m) => {
      try {
        this.#handle(m);
      } catch (err) {
        console.error('session host: message handler failed', err);
      }
    });
  }

  // Handlers only start work; replies are sent when it settles, so one slow action never
  // holds up the messages behind it.
  #handle(m: SessionHostMessage): void {
    switch (m.type) {
      case 'session.command': {
        const { command } = m;
        if (command.command === 'start') this.#reply(m.req, this.#start(command.ctx, m.mcp ?? []));
        else this.#reply(m.req, this.#withSession(command.session, (actor) => handleCommand(actor, command)));
        return;
      }
      case 'session.mcp_result':
        this.#mcpClient.settle(m.call, m.outcome);
        return;
      case 'session.mcp_status':
        this.#onMcpStatus(m.snapshot);
        return;
      case 'session.shutdown':
        this.#reply(m.req, this.#shutdown());
        return;
      case 'session.flush_audit':
        this.#outbox.flush();
        this.#reply(m.req, Promise.resolve());
        return;
      case 'session.audit_ack':
        return;
      case 'session.policies':
        this.#policies = new CedarPolicies(m.source);
        return;
    }
  }

  readonly #currentPolicies = (): CedarPolicies | undefined => this.#policies;

  async #start(ctx: SessionContext, mcp: McpServerSnapshot[]): Promise<StartedSession> {
    const key = keyOf(ctx);
    if (this.#sessions.has(key)) {
      throw new RuntimeError('session_exists', `session ${ctx.session_id} already exists`);
    }
    for (const snapshot of mcp) this.#mcpRegistry.update(snapshot);
    const skills = ctx.skills.length > 0 ? await loadSkills(this.#config.runtime.skills_dir) : new Map();
    const graph = await this.#builder.build(ctx, skills);
    const planner = createPlanner(ctx.planner, ctx.secrets);
    const r = this.#config.runtime;
    const actor = new SessionActor(ctx, graph, planner, {
      outbox: this.#outbox,
      notify: (message) => {
        if (message.type === 'supervisor.session_ended') this.#scheduleForget(key);
        this.#toSupervisor.send(message);
      },
      sandboxRoot: r.sandbox_dir,
      httpAllowedHosts: r.http_allowed_hosts,
      executeCodeTimeoutMs: r.execute_code_timeout_ms,
      executeCodeMaxMemoryMb: r.execute_code_max_memory_mb,
      executeCodeJail: this.#jail,
      strictDurability: this.#config.audit.durability === 'strict',
      maxMemoryBytes: r.session_max_memory_bytes,
      sandboxMaxBytes: r.sandbox_max_bytes,
      policies: this.#currentPolicies,
      ...(this.#tracing ? { tracer: this.#tracing.tracer } : {}),
    });
    this.#sessions.set(key, actor);
    if (ctx.mcp_servers.length > 0) {
      this.#mcpKeys.set(key, new Set(ctx.mcp_servers.map((s) => mcpConnectionKey(ctx.org_id, s))));
      // Each server's state at start goes into the session's own chain, right after session_started.
      for (const snapshot of mcp) {
        const current = this.#mcpRegistry.get(snapshot.key) ?? snapshot;
        actor.recordEvent(mcpConnectionEvent(current, 'at session start'));
      }
    }
    return { session_id: ctx.session_id, state: actor.state, capabilities: actor.capabilities };
  }

  /**
   * Runs `work` on the session's actor at once (no promise turn to look it up: this is every
   * action's way in); a missing session, or a handler that throws, becomes a rejection.
   */
  #withSession(key: SessionKey, work: (actor: SessionActor) => unknown): Promise<unknown> {
    const actor = this.#sessions.get(key);
    if (!actor) {
      const { session_id } = parseSessionKey(key);
      return Promise.reject(new RuntimeError('session_not_found', `no session ${session_id} on this worker`));
    }
    try {
      return Promise.resolve(work(actor));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #scheduleForget(key: SessionKey): void {
    const ttlMs = this.#config.runtime.ended_session_ttl_seconds * 1000;
    setTimeout(() => this.#sessions.delete(key), ttlMs).unref();
  }

  /** A connection changed: newer state is kept; a connect or disconnect is audited in each session using it. */
  #onMcpStatus(snapshot: McpServerSnapshot): void {
    const previous = this.#mcpRegistry.update(snapshot);
    if (previous === null) return;
    if (previous && previous.connected === snapshot.connected) return;
    for (const [session, keys] of this.#mcpKeys) {
      if (!keys.has(snapshot.key)) continue;
      this.#sessions.get(session)?.recordEvent(mcpConnectionEvent(snapshot, ''));
    }
  }

  /** Cancels what is still running, then waits until the audit actor has stored every event. */
  async #shutdown(): Promise<void> {
    await Promise.all(
      [...this.#sessions.values()].map((s) =>
        isTerminal(s.state) ? undefined : s.cancel('the runtime is stopping'),
      ),
    );
    this.#mcpClient.failAll('the runtime is stopping');
    await this.#outbox.drained();
    // Spans still in this thread's batch leave before the thread ends.
    await this.#tracing?.shutdown().catch(() => {});
    queueMicrotask(() => this.#onShutdown?.());
  }

  #reply(req: number, work: Promise<unknown>): void {
    work.then(
      (value) => this.#toSupervisor.send({ type: 'supervisor.reply', req, ok: true, value: value ?? null }),
      (err) => this.#toSupervisor.send({ type: 'supervisor.reply', req, ok: false, error: toWireError(err) }),
    );
  }


  get auditOutbox(): AuditOutbox {
    return this.#outbox;
  }
}

function mcpConnectionEvent(snapshot: McpServerSnapshot, when: string): AuditEventDraft {
  const suffix = when ? ` ${when}` : '';
  return snapshot.connected
    ? {
        event_type: 'mcp_connected',
        message: `MCP server ${snapshot.server_id} connected${suffix}`,
        mcp_server_id: snapshot.server_id,
        mcp_server_name: snapshot.server_name,
        success: true,
        metadata: { tools: snapshot.tools.map((t) => t.name), version: snapshot.version },
      }
    : {
        event_type: 'mcp_disconnected',
        severity: 'warning',
        message: `MCP server ${snapshot.server_id} disconnected${suffix}`,
        mcp_server_id: snapshot.server_id,
        mcp_server_name: snapshot.server_name,
        success: false,
        error_message: snapshot.error ?? null,
        metadata: { version: snapshot.version },
      };
}
