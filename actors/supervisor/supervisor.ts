/**
 * The supervisor actor (main thread): owns the session table, places sessions on pool
 * workers, routes messages to them, resolves approvals, replaces crashed workers and refuses
 * new work when full.
 *
 *   send(session command, src/session-protocol.ts) ──► Supervisor ──#ask / #post(slot n)──►
 *      MessagePortTransport (msgpack frames) ──► workers/session.worker.ts (piscina thread n)
 *      ──session.command──► actors/session/commands.ts
 *   ◄── supervisor.reply / approval_requested / session_ended ──┘
 *
 *   piscina task of worker n rejects (thread died) ──► #onWorkerDied(n): fail its sessions'
 *   in-flight work with worker_crashed, audit it, start a replacement (RestartPolicy permitting).
 *
 *   MCP (issue 4): start ──acquire──► McpGateway (this thread) ──snapshots──► session.command (start)
 *   host ──mcp.call / mcp.cancel──► #onMessage ──► McpGateway ──session.mcp_result──► that host
 *   McpGateway change ──session.mcp_status──► every host
 */
import type { PolicySource } from '../../src/policy/policy-source.ts';
import type { TracingSettings } from '../../src/telemetry/tracing.ts';
import type * as Comlink from 'comlink';
import type { Config } from '../../config/schema.ts';
import { PendingAsks } from '../../src/actor-system/ask.ts';
import type { AuditEventDraft } from '../../src/audit/events.ts';
import { sessionFailureDrafts } from '../../src/audit/session-failure.ts';
import { isTerminal, type PendingApproval, type SessionContext, type SessionState } from '../../src/contracts.ts';
import {
  COMMAND_TRAITS,
  type ExistingSessionCommand,
  type ReplyTo,
  type SessionCommand,
  type StartedSession,
} from '../../src/session-protocol.ts';
import { RuntimeError, errorMessage } from '../../src/errors.ts';
import type { Logger } from '../../src/log.ts';
import { keyOf, onlySessionOf, parseSessionKey, type SessionKey } from '../../src/session-key.ts';
import type { AuditApi } from '../../src/audit/audit-api.ts';
import type { McpGateway } from '../mcp-gateway/gateway.ts';
import type { McpServerSnapshot } from '../../src/capabilities/mcp/shapes.ts';
import type { McpGatewayMessage } from '../mcp-gateway/messages.ts';
import type { AgentCapabilityCache } from '../../src/capabilities/cache/agent-capabilities.ts';
import type { SessionHostMessage } from '../session/messages.ts';
import type { SupervisorMessage } from './messages.ts';
import { type SessionEntry, SessionTable } from './session-table.ts';
import { type WorkerSlot, WorkerSlots } from './worker-slots.ts';

/** Control asks (start, status, approve) answer fast; execute/run are bounded by session timeouts. */
const CONTROL_ASK_TIMEOUT_MS = 30_000;
/** while stopping, how often the audit actor is asked to write what it holds */
const SHUTDOWN_FLUSH_EVERY_MS = 50;

export type ApprovalListener = (event: {
  session_id: string;
  org_id: string;
  approval: PendingApproval;
}) => void;

export interface SupervisorStats {
  workers: number;
  active_sessions: number;
  worker_restarts: number;
  pending_asks: number;
  respawning_stopped: boolean;
}

export class Supervisor {
  readonly #config: Config;
  readonly #audit: Comlink.Remote<AuditApi>;
  readonly #log: Logger;
  readonly #table = new SessionTable();
  readonly #asks = new PendingAsks();
  readonly #workers: WorkerSlots;
  readonly #approvalListeners = new Set<ApprovalListener>();
  /** told when a session reaches a terminal state (the cluster registry listens; issue 6) */
  readonly #endedListeners = new Set<(key: SessionKey, state: SessionState) => void>();
  #stopping = false;
  readonly #inflightWork = new Set<Promise<unknown>>();
  readonly #mcp: McpGateway | undefined;
  readonly #capabilityCache: AgentCapabilityCache | undefined;

  constructor(
    config: Config,
    audit: Comlink.Remote<AuditApi>,
    log: Logger,
    mcp?: McpGateway,
    capabilityCache?: AgentCapabilityCache,
  ) {
    this.#config = config;
    this.#audit = audit;
    this.#log = log.child({ actor: 'supervisor' });
    this.#mcp = mcp;
    this.#capabilityCache = capabilityCache;
    // Connection changes reach every host; each audits them in the sessions that use the server.
    // A changed tool list also drops the cached graphs built with the old one.
    mcp?.onChange((snapshot) => {
      capabilityCache?.observe(snapshot);
      for (const slot of this.#workers.slots()) this.#post(slot, { type: 'session.mcp_status', snapshot });
    });
    this.#workers = new WorkerSlots(config, audit, this.#log, {
      message: (worker, m) => this.#onMessage(worker, m),
      died: (worker, err) => void this.#onWorkerDied(worker, err),
      unsendable: (message, err) => this.#failUnsendable(message, err),
    });
  }

  start(): Promise<void> {
    return this.#workers.start();
  }

  /**
   * The Cedar policies (POLICY_DIR) every session decides with, as text: hosts compile it. Before
   * start() it goes to every host at boot; after, to the running hosts at once (a reload).
   */
  setPolicies(source: PolicySource): void {
    this.#workers.policies = source;
    for (const slot of this.#workers.slots()) this.#post(slot, { type: 'session.policies', source });
  }

  /** OpenTelemetry settings every host builds its own exporter from (before start()). */
  setTracing(settings: TracingSettings): void {
    this.#workers.tracing = settings;
  }

  onApprovalRequested(listener: ApprovalListener): () => void {
    this.#approvalListeners.add(listener);
    return () => this.#approvalListeners.delete(listener);
  }

  onSessionEnded(listener: (key: SessionKey, state: SessionState) => void): () => void {
    this.#endedListeners.add(listener);
    return () => this.#endedListeners.delete(listener);
  }

  /**
   * Sends a session command (src/session-protocol.ts) to the worker its session is pinned to;
   * `start` places a new session first. Not an async function: an action's way through is one
   * reaction on the worker's reply (bookkeeping), not async frames around it.
   */
  send<C extends SessionCommand>(command: C): Promise<ReplyTo<C['command']>> {
    type Reply = Promise<ReplyTo<C['command']>>;
    if (command.command === 'start') return this.#start(command.ctx) as Reply;
    return this.#command(command as ExistingSessionCommand) as Reply;
  }

  async #start(ctx: SessionContext): Promise<StartedSession> {
    if (this.#stopping) throw new RuntimeError('runtime_stopping');
    // Ids are unique within an org (issue 15): another org's "s1" is not this one's concern.
    const key = keyOf(ctx);
    if (this.#table.has(key)) {
      throw new RuntimeError('session_exists', `session ${ctx.session_id} already exists`);
    }
    if (this.#table.active >= this.#config.runtime.max_sessions) {
      throw new RuntimeError(
        'runtime_busy',
        `the runtime holds its maximum of ${this.#config.runtime.max_sessions} active sessions; retry later`,
      );
    }
    // One org cannot take the runtime's capacity from the others (issue 15).
    const orgLimit = this.#config.runtime.org_max_sessions;
    if (orgLimit > 0 && this.#table.activeOfOrg(ctx.org_id) >= orgLimit) {
      throw new RuntimeError(
        'org_session_limit',
        `org ${ctx.org_id} holds its maximum of ${orgLimit} active sessions (ORG_MAX_SESSIONS); end one first`,
      );
    }
    const slot = this.#placeSession();
    // The entry goes in before the worker answers, so concurrent creates see the load and the id.
    const entry: SessionEntry = {
      key,
      identity: {
        org_id: ctx.org_id,
        user_id: ctx.user_id,
        agent_id: ctx.agent_id,
        session_id: ctx.session_id,
      },
      slot,
      state: 'running',
      inflight: new Map(),
      startedAt: new Date().toISOString(),
    };
    this.#table.add(entry);
    try {
      // Connect (or join) the session's MCP servers first, so its graph holds their tools.
      const mcp = this.#mcp && ctx.mcp_servers.length > 0 ? await this.#acquireMcp(this.#mcp, key, ctx) : undefined;
      await this.#workers.get(slot)!.ready;
      return await this.#ask<StartedSession>(
        slot,
        (req) => ({ type: 'session.command', req, command: { command: 'start', ctx }, ...(mcp ? { mcp } : {}) }),
        { timeoutMs: CONTROL_ASK_TIMEOUT_MS },
      );
    } catch (err) {
      this.#mcp?.release(key);
      this.#table.remove(key);
      throw err;
    }
  }

  /**
   * The session's MCP servers and their tool lists: from the capability cache when the agent's
   * graph is cached (no server is asked), else listed by each server and then cached.
   */
  async #acquireMcp(gateway: McpGateway, session: SessionKey, ctx: SessionContext): Promise<McpServerSnapshot[]> {
    const cache = this.#capabilityCache;
    if (!cache) return gateway.acquire(session, ctx.org_id, ctx.mcp_servers, { relist: true });
    const { key, mcpTools } = await cache.lookup(ctx);
    if (mcpTools) return gateway.acquire(session, ctx.org_id, ctx.mcp_servers, { cached: mcpTools });
    const snapshots = await gateway.acquire(session, ctx.org_id, ctx.mcp_servers, { relist: true });
    await cache.remember(key, snapshots);
    return snapshots;
  }

  /**
   * Every command of an existing session, treated as its COMMAND_TRAITS say. Commands that carry
   * actions are kept in flight on the session's entry, so a worker crash can name each one.
   */
  #command(command: ExistingSessionCommand): Promise<unknown> {
    const traits = COMMAND_TRAITS[command.command];
    let entry: SessionEntry;
    try {
      entry = this.#entry(command.session);
      if (traits.whenEnded === 'refuse') this.#refuseEnded(entry);
      else if (entry.finalStatus) return Promise.resolve(entry.finalStatus);
    } catch (err) {
      return Promise.reject(err);
    }
    const actions = 'actions' in command ? command.actions : undefined;
    let req = 0;
    const reply = this.#ask<unknown>(
      entry.slot,
      (id) => {
        req = id;
        if (actions) entry.inflight.set(id, actions);
        return { type: 'session.command', req: id, command };
      },
      { timeoutMs: traits.deadline === 'control' ? CONTROL_ASK_TIMEOUT_MS : Number.POSITIVE_INFINITY },
    );
    const settled = reply.then(
      (value) => {
        if (actions) entry.inflight.delete(req);
        return value;
      },
      (err: unknown) => {
        if (actions) entry.inflight.delete(req);
        if (!(err instanceof RuntimeError) || err.code !== 'worker_crashed') throw err;
        if (traits.onWorkerCrash === 'final_status' && entry.finalStatus) return entry.finalStatus;
        if (traits.onWorkerCrash === 'failed_results' && actions) {
          return actions.map((a) => ({ action_id: a.id, name: a.name, success: false, error: err.toWire(), duration_ms: 0 }));
        }
        throw err;
      },
    );
    return traits.drained ? this.#track(settled) : settled;
  }

  /** Asks every session host to send its waiting audit events now (read-your-writes for audit queries). */
  async flushAudit(): Promise<void> {
    await Promise.all(
      [...this.#workers.slots()].map((slot) =>
        this.#ask(slot, (req) => ({ type: 'session.flush_audit', req }), { timeoutMs: CONTROL_ASK_TIMEOUT_MS }).catch(
          () => {},
        ),
      ),
    );
  }

  /** True when this supervisor holds the session (it was started here). */
  holds(key: SessionKey): boolean {
    return this.#table.has(key);
  }

  /**
   * The key of a session held here: the org's session of that id, or, without an org, the one
   * session of that id (undefined when none; invalid_request when several orgs have one).
   */
  find(sessionId: string, orgId?: string): SessionKey | undefined {
    if (orgId !== undefined) {
      const key = keyOf({ org_id: orgId, session_id: sessionId });
      return this.#table.has(key) ? key : undefined;
    }
    return onlySessionOf(sessionId, this.#table.withId(sessionId))?.key;
  }

  stats(): SupervisorStats {
    return {
      workers: this.#workers.size,
      active_sessions: this.#table.active,
      worker_restarts: this.#workers.restarts,
      pending_asks: this.#asks.size,
      respawning_stopped: this.#workers.respawnStopped,
    };
  }

  /** For tests and operations: the piscina threads (to kill one, say). */
  get threads(): readonly import('node:worker_threads').Worker[] {
    return this.#workers.threads;
  }

  /** The worker slot and thread id a session is pinned to. */
  placement(key: SessionKey): { slot: number; thread_id: number } | undefined {
    const entry = this.#table.get(key);
    if (!entry) return undefined;
    return { slot: entry.slot, thread_id: this.#workers.get(entry.slot)?.threadId ?? -1 };
  }

  /**
   * Stops taking sessions, lets in-flight actions finish for up to `drainTimeoutMs`, then
   * cancels what is left and waits for every worker's audit events to be stored.
   */
  async stop(drainTimeoutMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const drained = Promise.allSettled([...this.#inflightWork]);
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, drainTimeoutMs).unref())]);
    // Each host answers once the audit actor acknowledged its events as stored; flush while we
    // wait, or a long audit.flush_interval would hold the stop until CONTROL_ASK_TIMEOUT_MS (issue 5).
    const flushing = setInterval(() => void this.#audit.flush().catch(() => {}), SHUTDOWN_FLUSH_EVERY_MS);
    await Promise.allSettled(
      [...this.#workers.slots()].map((slot) =>
        this.#ask(slot, (req) => ({ type: 'session.shutdown', req }), { timeoutMs: CONTROL_ASK_TIMEOUT_MS }),
      ),
    );
    clearInterval(flushing);
    await this.#workers.stop();
  }

  #onMessage(worker: WorkerSlot, m: SupervisorMessage): void {
    switch (m.type) {
      case 'supervisor.ready':
        this.#workers.markReady(worker, m.thread_id);
        return;
      case 'supervisor.reply':
        this.#asks.resolve(m);
        return;
      case 'supervisor.approval_requested': {
        const { org_id, session_id } = parseSessionKey(m.session);
        for (const listener of this.#approvalListeners) {
          try {
            listener({ session_id, org_id, approval: m.approval });
          } catch (err) {
            this.#log.error({ err }, 'approval listener failed');
          }
        }
        return;
      }
      case 'supervisor.session_ended':
        this.#table.end(m.session, m.state);
        this.#mcp?.release(m.session);
        this.#forgetLater(m.session);
        this.#emitEnded(m.session, m.state);
        return;
      case 'mcp.call':
      case 'mcp.cancel':
        this.#onMcpMessage(worker, m);
        return;
    }
  }

  #onMcpMessage(worker: WorkerSlot, m: McpGatewayMessage): void {
    // owner is unique per spawned host, so a replacement's call ids never meet the dead one's.
    const host = worker.owner;
    if (m.type === 'mcp.cancel') {
      this.#mcp?.cancel(host, m.call, m.reason);
      return;
    }
    const reply = (outcome: Awaited<ReturnType<McpGateway['call']>>) => {
      // The host may have died meanwhile; its replacement never asked.
      if (!this.#workers.isCurrent(worker)) return;
      this.#post(worker.slot, { type: 'session.mcp_result', call: m.call, outcome });
    };
    if (!this.#mcp) {
      reply({
        ok: false,
        error: { code: 'mcp_unavailable', message: 'this runtime has no MCP gateway' },
        meta: { duration_ms: 0, attempts: 0, server_name: '' },
      });
      return;
    }
    this.#mcp.call(host, m).then(reply, (err: unknown) =>
      reply({
        ok: false,
        error: { code: 'mcp_call_failed', message: errorMessage(err) },
        meta: { duration_ms: 0, attempts: 0, server_name: '' },
      }),
    );
  }

  async #onWorkerDied(worker: WorkerSlot, err: unknown): Promise<void> {
    if (!this.#workers.isCurrent(worker)) return;
    if (this.#stopping) {
      // stop() ends the pool; a host task rejected by destroy() is not a crash.
      this.#asks.failOwner(worker.owner, new RuntimeError('runtime_stopping'));
      return;
    }
    const message = `worker ${worker.slot} (thread ${worker.threadId}) died: ${errorMessage(err)}`;
    this.#log.error({ slot: worker.slot }, message);
    this.#mcp?.cancelHost(worker.owner);

    // 1. Replace it at once (new sessions wait for it), unless workers are crash-looping.
    if (!this.#workers.replace(worker)) {
      this.#log.fatal({ slot: worker.slot }, 'workers keep dying; no longer replacing them');
    }

    // 2. Audit the loss for each session that lived there, continuing its hash chain.
    const drafts: Array<{ identity: SessionEntry['identity']; draft: AuditEventDraft }> = [];
    for (const entry of this.#table.activeOn(worker.slot)) {
      const failure = sessionFailureDrafts({
        message,
        errorCode: 'worker_crashed',
        actions: [...entry.inflight.values()].flat(),
        why: 'its worker crashed',
      });
      for (const draft of failure) drafts.push({ identity: entry.identity, draft });
      entry.finalStatus = {
        session_id: entry.identity.session_id,
        org_id: entry.identity.org_id,
        state: 'failed',
        iteration: 0,
        results: this.#table.crashResults(entry, message),
        pending_approvals: [],
        error: { code: 'worker_crashed', message },
        started_at: entry.startedAt,
        ended_at: new Date().toISOString(),
      };
      this.#table.end(entry.key, 'failed');
      this.#mcp?.release(entry.key);
      this.#forgetLater(entry.key);
      this.#emitEnded(entry.key, 'failed');
    }
    try {
      await this.#audit.appendChained(drafts);
    } catch (auditErr) {
      this.#log.error({ err: auditErr }, 'could not audit a worker crash');
    }
    this.#workers.detachAudit(worker);

    // 3. Fail exactly the asks that worker owned; nothing waits forever.
    this.#asks.failOwner(worker.owner, new RuntimeError('worker_crashed', message));
  }

  #failUnsendable(message: SessionHostMessage, err: Error): void {
    this.#log.error({ err, type: message.type }, 'a message to a session host could not be encoded; it was dropped');
    if ('req' in message && typeof message.req === 'number') {
      const error = new RuntimeError('invalid_request', `the request could not be encoded (${err.message})`);
      this.#asks.resolve({ req: message.req, ok: false, error: error.toWire() });
    }
  }

  #ask<T>(
    slot: number,
    build: (req: number) => SessionHostMessage,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<T> {
    const worker = this.#workers.get(slot);
    if (!worker) return Promise.reject(new RuntimeError('worker_crashed', `worker ${slot} is not running`));
    const { req, reply } = this.#asks.create<T>(worker.owner, options);
    this.#post(slot, build(req));
    return reply;
  }

  /** Every message to a session host leaves here (tracing and metrics hook in at this one place). */
  #post(slot: number, message: SessionHostMessage): void {
    this.#workers.post(slot, message);
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inflightWork.add(work);
    const done = () => this.#inflightWork.delete(work);
    work.then(done, done);
    return work;
  }

  #placeSession(): number {
    if (this.#workers.size === 0) {
      throw new RuntimeError('runtime_busy', 'no session worker is running (workers kept crashing)');
    }
    let best = -1;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const slot of this.#workers.slots()) {
      const load = this.#table.activeCountOn(slot);
      if (load < bestLoad) {
        best = slot;
        bestLoad = load;
      }
    }
    return best;
  }

  #entry(key: SessionKey): SessionEntry {
    const entry = this.#table.get(key);
    if (!entry) throw new RuntimeError('session_not_found', `no session ${parseSessionKey(key).session_id}`);
    return entry;
  }

  #refuseEnded(entry: SessionEntry): void {
    if (isTerminal(entry.state)) {
      throw new RuntimeError(
        'session_not_active',
        `session ${entry.identity.session_id} has ended (${entry.state})`,
      );
    }
  }

  #emitEnded(key: SessionKey, state: SessionState): void {
    for (const listener of this.#endedListeners) {
      try {
        listener(key, state);
      } catch (err) {
        this.#log.error({ err }, 'session-ended listener failed');
      }
    }
  }

  #forgetLater(key: SessionKey): void {
    const ttlMs = this.#config.runtime.ended_session_ttl_seconds * 1000;
    setTimeout(() => this.#table.remove(key), ttlMs).unref();
  }
}
