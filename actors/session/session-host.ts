/**
 * The session host: one per pool worker, it owns the session actors pinned to that thread
 * and dispatches the supervisor's messages to them.
 *
 *   supervisor ──session.* frames──► SessionHost.mailbox ──► SessionActor (by session_id)
 *   SessionActor ──events──► AuditOutbox ──audit.append──► audit actor
 *   SessionHost ──supervisor.reply / approval_requested / session_ended──► supervisor
 */
import type { Config } from '../../config/schema.ts';
import type { SessionContext } from '../../src/contracts.ts';
import { Mailbox } from '../../src/actor-system/mailbox.ts';
import { AuditOutbox } from '../../src/audit/emit.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { loadSkills } from '../../src/capabilities/skills/loader.ts';
import { RuntimeError, toWireError } from '../../src/errors.ts';
import { CapabilityGraphBuilder } from '../../src/execution/capability-graph.ts';
import type { Transport } from '../../src/transport/transport.ts';
import type { AuditMessage } from '../audit/messages.ts';
import type { SupervisorMessage } from '../supervisor/messages.ts';
import type { SessionHostMessage } from './messages.ts';
import { createPlanner } from './planners/index.ts';
import { SessionActor } from './session-actor.ts';

export class SessionHost {
  readonly #config: Config;
  readonly #toSupervisor: Transport<SessionHostMessage, SupervisorMessage>;
  readonly #outbox: AuditOutbox;
  readonly #sessions = new Map<string, SessionActor>();
  readonly #builder: CapabilityGraphBuilder;
  readonly #mailbox: Mailbox<SessionHostMessage>;
  #onShutdown: (() => void) | undefined;
  readonly shutDown: Promise<void>;

  constructor(
    config: Config,
    toSupervisor: Transport<SessionHostMessage, SupervisorMessage>,
    toAudit: Transport<SessionHostMessage, AuditMessage>,
  ) {
    this.#config = config;
    this.#toSupervisor = toSupervisor;
    this.#outbox = new AuditOutbox(
      { send: (events: AuditEvent[]) => toAudit.send({ type: 'audit.append', events }) },
      config.audit.producer_window,
    );
    toAudit.onMessage((m) => {
      if (m.type === 'session.audit_ack') this.#outbox.ack(m.count);
    });
    this.#builder = new CapabilityGraphBuilder({
      cacheTtlSeconds: config.capability.cache_ttl,
      maxSkillsPerAgent: config.capability.max_skills_per_agent,
      maxMcpServersPerOrg: config.capability.max_mcp_servers_per_org,
    });
    this.#mailbox = new Mailbox(
      (m) => this.#handle(m),
      (err) => console.error('session host: message handler failed', err),
    );
    this.shutDown = new Promise((resolve) => {
      this.#onShutdown = resolve;
    });
    toSupervisor.onMessage((m) => this.#mailbox.post(m));
  }

  // Handlers only start work; replies are sent when it settles, so one slow action never
  // holds up the messages behind it.
  #handle(m: SessionHostMessage): void {
    if (m.type === 'session.audit_ack') return;
    if (m.type === 'session.forget') {
      this.#sessions.delete(m.session_id);
      return;
    }
    this.#reply(m.req, this.#dispatch(m));
  }

  #dispatch(m: Exclude<SessionHostMessage, { type: 'session.audit_ack' | 'session.forget' }>): Promise<unknown> {
    switch (m.type) {
      case 'session.start':
        return this.#start(m.ctx);
      case 'session.execute':
        return this.#session(m.session_id).then((s) => s.execute(m.actions));
      case 'session.run':
        return this.#session(m.session_id).then((s) => s.run());
      case 'session.approve':
        return this.#session(m.session_id).then((s) =>
          s.approve(m.action_id, m.decision, m.decision.decided_by ?? 'unknown'),
        );
      case 'session.cancel':
        return this.#session(m.session_id).then((s) => s.cancel(m.reason));
      case 'session.end':
        return this.#session(m.session_id).then((s) => s.end());
      case 'session.status':
        return this.#session(m.session_id).then((s) => s.status());
      case 'session.shutdown':
        return this.#shutdown();
    }
  }

  async #start(ctx: SessionContext) {
    if (this.#sessions.has(ctx.session_id)) {
      throw new RuntimeError('session_exists', `session ${ctx.session_id} already exists`);
    }
    const skills = ctx.skills.length > 0 ? await loadSkills(this.#config.runtime.skills_dir) : new Map();
    const graph = await this.#builder.build(ctx, skills);
    const planner = createPlanner(ctx.planner, ctx.secrets);
    const r = this.#config.runtime;
    const actor = new SessionActor(ctx, graph, planner, {
      outbox: this.#outbox,
      notify: (message) => {
        if (message.type === 'supervisor.session_ended') this.#scheduleForget(ctx.session_id);
        this.#toSupervisor.send(message);
      },
      sandboxRoot: r.sandbox_dir,
      httpAllowedHosts: r.http_allowed_hosts,
      executeCodeTimeoutMs: r.execute_code_timeout_ms,
      executeCodeMaxMemoryMb: r.execute_code_max_memory_mb,
    });
    this.#sessions.set(ctx.session_id, actor);
    return { session_id: ctx.session_id, state: actor.state, capabilities: actor.capabilities };
  }

  async #session(sessionId: string): Promise<SessionActor> {
    const actor = this.#sessions.get(sessionId);
    if (!actor) throw new RuntimeError('session_not_found', `no session ${sessionId} on this worker`);
    return actor;
  }

  #scheduleForget(sessionId: string): void {
    const ttlMs = this.#config.runtime.ended_session_ttl_seconds * 1000;
    setTimeout(() => this.#sessions.delete(sessionId), ttlMs).unref();
  }

  /** Cancels what is still running, then waits until the audit actor has stored every event. */
  async #shutdown(): Promise<void> {
    await Promise.all(
      [...this.#sessions.values()].map((s) =>
        s.state === 'completed' || s.state === 'failed' || s.state === 'cancelled'
          ? undefined
          : s.cancel('the runtime is stopping'),
      ),
    );
    await this.#outbox.drained();
    queueMicrotask(() => this.#onShutdown?.());
  }

  #reply(req: number, work: Promise<unknown>): void {
    // The audit frame leaves before the reply, so a caller that reads the trail right after
    // a result finds that result's events (see AuditActor.#caughtUp).
    work.then(
      (value) => {
        this.#outbox.flush();
        this.#toSupervisor.send({ type: 'supervisor.reply', req, ok: true, value: value ?? null });
      },
      (err) => {
        this.#outbox.flush();
        this.#toSupervisor.send({ type: 'supervisor.reply', req, ok: false, error: toWireError(err) });
      },
    );
  }

  get auditOutbox(): AuditOutbox {
    return this.#outbox;
  }
}
