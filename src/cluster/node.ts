/**
 * A runtime node's cluster layer (issue 6): one address space for sessions across nodes.
 *
 *   Runtime (node A)                          NATS (JetStream KV + request/reply)        node B
 *   send(start) ─► #place() by load ─────────── <cluster>.node.B (msgpack frame) ──► #onRequest
 *   send(command) ─► registry copy: owner B ───── <cluster>.node.B ◄── reply frame ─── Supervisor B
 *   (frames from a peer are parsed with ClusterRequestSchema before they are served)
 *   audit.query   ─► cluster.flush_audit to every living node, then the shared PostgreSQL
 *
 *   every heartbeat_ms:          put <cluster>_nodes/<self> (lease + load)
 *   every node_loss_check_ms:    a peer's lease older than lease_ms (judged only while this
 *                                node is connected and its own renewals succeed) ─► #onNodeLost(peer):
 *       CAS each of its sessions to failed/node_lost (one node wins each) ─► winner audits
 *       error + session_ended (node-loss.ts) through its own audit thread; forwards waiting
 *       on the peer fail with node_lost.
 *   Supervisor.onSessionEnded ─► the session's record takes its final state
 *   Supervisor.onApprovalRequested ─► publish <cluster>.approvals (other nodes' listeners)
 *
 * Each node keeps its own supervisor, worker pool and audit thread; only session routing
 * and node liveness cross the network.
 */
import { hostname } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import * as Comlink from 'comlink';
import type { Config } from '../../config/schema.ts';
import type { ApprovalListener, Supervisor } from '../../actors/supervisor/supervisor.ts';
import type { AuditApi } from '../audit/audit-api.ts';
import type { AuditMessage } from '../../actors/audit/messages.ts';
import { isTerminal, type PendingApproval, type SessionContext, type SessionState, type SessionStatus } from '../contracts.ts';
import { RuntimeError, fromWire, toWireError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { keyOf, onlySessionOf, parseSessionKey, sessionKey, type SessionKey } from '../session-key.ts';
import { decodeFrame, encodeFrame } from '../transport/codec.ts';
import { MessagePortTransport } from '../transport/message-port.ts';
import {
  COMMAND_TRAITS,
  type ExistingSessionCommand,
  type ReplyTo,
  type SessionCommand,
  type StartedSession,
} from '../session-protocol.ts';
import { parseOrThrow } from '../validation.ts';
import { type ClusterReply, type ClusterRequest, ClusterRequestSchema, type SessionRecord } from './messages.ts';
import { nodeLostEvents, storedHead } from './node-loss.ts';
import { Registry, type Versioned } from './registry.ts';
import type { ComponentHealth } from '../health.ts';

/** while the owner has no responder (restarting, NATS reconnecting), retry this often */
const NO_RESPONDERS_RETRY_MS = 100;
/** one attempt of a question that is safe to repeat (status, audit flush) */
const IDEMPOTENT_ATTEMPT_MS = 1000;

export function nodeSubject(cluster: string, node: string): string {
  return `${cluster}.node.${node}`;
}


export interface ClusterDeps {
  config: Readonly<Config>;
  supervisor: Supervisor;
  audit: Comlink.Remote<AuditApi>;
  log: Logger;
}

export class ClusterNode {
  readonly nodeId: string;
  readonly #config: Readonly<Config>;
  readonly #cluster: Config['cluster'];
  readonly #supervisor: Supervisor;
  readonly #audit: Comlink.Remote<AuditApi>;
  readonly #log: Logger;
  readonly #nc: NatsConnection;
  readonly #registry: Registry;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #subs: Subscription[] = [];
  /** forwards waiting on a node, failed at once when that node is declared lost */
  readonly #waiting = new Map<string, Set<(err: RuntimeError) => void>>();
  /** sessions placed on a peer since its last heartbeat, so a burst of creates spreads out */
  readonly #placed = new Map<string, { revision: number; extra: number }>();
  readonly #losing = new Set<string>();
  readonly #approvalListeners = new Set<ApprovalListener>();
  readonly #unhook: Array<() => void> = [];
  #auditOut: MessagePortTransport<unknown, AuditMessage> | undefined;
  #connected = true;
  /** our last lease renewal failed: the registry itself is in trouble, judge no peer */
  #renewalsFailing = false;
  #stopped = false;

  private constructor(deps: ClusterDeps, nc: NatsConnection, nodeId: string) {
    this.#config = deps.config;
    this.#cluster = deps.config.cluster;
    this.#supervisor = deps.supervisor;
    this.#audit = deps.audit;
    this.#nc = nc;
    this.nodeId = nodeId;
    this.#log = deps.log.child({ actor: 'cluster', node: nodeId });
    this.#registry = new Registry(nc, this.#cluster.name, this.#log);
}

  /** Connects to NATS, opens the registry, takes requests and starts the lease and loss timers. */
  static async start(deps: ClusterDeps): Promise<ClusterNode> {
    const c = deps.config.cluster;
    const nodeId = c.node_id ?? `${hostname()}-${process.pid}`.replace(/[^-\w]/g, '_');
    if (!/^[-\w]{1,100}$/.test(nodeId)) {
      throw new RuntimeError('invalid_request', `cluster.node_id ${JSON.stringify(nodeId)}: expected letters, digits, - or _`);
    }
    const nc = await connect({
      servers: c.nats_url,
      name: `semibot-${nodeId}`,
      // Ride out a NATS restart: keep trying for as long as the node runs.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    }).catch((err: unknown) => {
      throw new RuntimeError('cluster_unavailable', `cannot reach NATS at ${c.nats_url}: ${errorMessage(err)}`);
    });
    const node = new ClusterNode(deps, nc, nodeId);
    try {
      await node.#start();
    } catch (err) {
      await node.stop();
      throw err instanceof RuntimeError
        ? err
        : new RuntimeError('cluster_unavailable', `cannot open the cluster registry: ${errorMessage(err)}`);
    }
    return node;
  }

  async #start(): Promise<void> {
    await this.#registry.open();
    this.#subs.push(
      this.#nc.subscribe(nodeSubject(this.#cluster.name, this.nodeId), {
        callback: (err, msg) => {
          if (!err) void this.#onRequest(msg);
        },
      }),
      this.#nc.subscribe(`${this.#cluster.name}.approvals`, {
        callback: (err, msg) => {
          if (!err) this.#onApprovalEvent(msg.data);
        },
      }),
    );
    this.#unhook.push(
      this.#supervisor.onSessionEnded((id, state) => void this.#onSessionEnded(id, state)),
      this.#supervisor.onApprovalRequested((event) =>
        this.#nc.publish(`${this.#cluster.name}.approvals`, encodeFrame([{ node: this.nodeId, ...event }])),
      ),
    );
    const toAudit = new MessageChannel();
    await this.#audit.attachProducer(Comlink.transfer(toAudit.port2, [toAudit.port2]));
    this.#auditOut = new MessagePortTransport(toAudit.port1, { unref: true });
    await this.#renew();
    // Sessions this node id owned in an earlier life (it was killed and restarted faster than
    // its lease ran out) are gone with that process: fail them now rather than never.
    await this.#failSessionsOf(this.nodeId, 'restarted');
    this.#timers.push(
      setInterval(() => void this.#renew(), this.#cluster.heartbeat_ms),
      setInterval(() => this.#checkLeases(), this.#cluster.node_loss_check_ms),
    );
    for (const t of this.#timers) t.unref();
    void this.#watchStatus();
  }

  // --- the Runtime's API ----------------------------------------------------------------------

  /**
   * Sends a session command (src/session-protocol.ts) to the node that owns its session: `start`
   * to the least-loaded living node, any other to the owner the registry names.
   */
  send<C extends SessionCommand>(command: C): Promise<ReplyTo<C['command']>> {
    type Reply = Promise<ReplyTo<C['command']>>;
    if (command.command === 'start') return this.#place(command.ctx) as Reply;
    const traits = COMMAND_TRAITS[(command as ExistingSessionCommand).command];
    const { session } = command as ExistingSessionCommand;
    const kind = traits.deadline === 'control' ? 'control' : 'long';
    return this.#forwardSession(session, { type: 'cluster.command', command }, kind) as Reply;
  }

  /** Places a session on the least-loaded living node and starts it there. */
  async #place(ctx: SessionContext): Promise<StartedSession> {
    const target = this.#leastLoaded();
    if (target !== this.nodeId) {
      try {
        return await this.#forward<StartedSession>(target, { type: 'cluster.command', command: { command: 'start', ctx } }, 'control');
      } catch (err) {
        // The chosen peer is gone or full: start it here instead of failing the caller.
        if (!(err instanceof RuntimeError) || !['node_lost', 'runtime_busy', 'runtime_stopping'].includes(err.code))
          throw err;
        this.#log.warn({ target, code: err.code }, 'placement fell back to this node');
      }
    }
    return this.#createLocal(ctx);
  }

  /**
   * Where a session lives, from the local copy of the registry (no network), or undefined.
   * Without an org, the one session of that id (invalid_request when several orgs have one).
   */
  lookup(sessionId: string, orgId?: string): SessionKey | undefined {
    if (orgId === undefined) return onlySessionOf(sessionId, this.#registry.sessionsWithId(sessionId));
    const key = sessionKey(orgId, sessionId);
    return this.#registry.session(key) ? key : undefined;
  }

  /** Asks every other living node to send its held audit events to the shared store now. */
  async flushPeers(): Promise<void> {
    await Promise.all(
      this.#livingPeers().map((peer) => this.#forward(peer, { type: 'cluster.flush_audit' }, 'control').catch(() => {})),
    );
  }

  /** Approval requests of sessions on other nodes (this node's own come from its supervisor). */
  onApprovalRequested(listener: ApprovalListener): () => void {
    this.#approvalListeners.add(listener);
    return () => this.#approvalListeners.delete(listener);
  }

  /** The node a session is registered on (for tests and operations). */
  ownerOf(sessionId: string, orgId?: string): string | undefined {
    const key = this.lookup(sessionId, orgId);
    return key && this.#registry.session(key)?.value.node;
  }

  stats(): { node_id: string; living_nodes: string[]; connected: boolean } {
    return { node_id: this.nodeId, living_nodes: [this.nodeId, ...this.#livingPeers()], connected: this.#connected };
  }

  health(): ComponentHealth {
    const living = this.#livingPeers().length + 1;
    return this.#connected
      ? { status: 'healthy', detail: `node ${this.nodeId}; ${living} living node(s)` }
      : { status: 'degraded', detail: `node ${this.nodeId}: NATS unreachable, reconnecting; only local sessions answer` };
  }

  /** Call after the supervisor stopped: its sessions' final states are written, then NATS closes. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    for (const u of this.#unhook) u();
    for (const s of this.#subs) s.unsubscribe();
    this.#registry.close();
    this.#auditOut?.close();
    await this.#nc.drain().catch(() => {});
  }

  // --- serving requests from other nodes --------------------------------------------------------

  async #onRequest(msg: { data: Uint8Array; respond(data: Uint8Array): boolean }): Promise<void> {
    let reply: ClusterReply;
    try {
      const req = parseOrThrow(ClusterRequestSchema, decodeFrame(msg.data)[0], 'invalid_request', 'cluster request');
      reply = { ok: true, value: await this.#serve(req) };
    } catch (err) {
      reply = { ok: false, error: toWireError(err) };
    }
    msg.respond(encodeFrame([reply]));
  }

  #serve(req: ClusterRequest): Promise<unknown> {
    if (req.type === 'cluster.flush_audit') {
      // In order: the hosts hand their waiting events to the audit thread first, then it stores
      // what it holds. Run side by side, the store could finish before the events arrived (a
      // verify on another node then missed a session_ended just written here).
      return this.#supervisor
        .flushAudit()
        .then(() => this.#audit.flush())
        .then(() => null);
    }
    const { command } = req;
    // A start claims the id in the registry first; every other command is the supervisor's.
    return command.command === 'start' ? this.#createLocal(command.ctx) : this.#supervisor.send(command);
  }

  async #createLocal(ctx: SessionContext): Promise<StartedSession> {
    const record: SessionRecord = {
      node: this.nodeId,
      org_id: ctx.org_id,
      user_id: ctx.user_id,
      agent_id: ctx.agent_id,
      state: 'running',
      started_at: new Date().toISOString(),
    };
    // The id is claimed cluster-wide first: two nodes cannot start the same session of an org.
    const key = keyOf(ctx);
    if (!(await this.#registry.claimSession(key, record))) {
      throw new RuntimeError('session_exists', `session ${ctx.session_id} already exists`);
    }
    try {
      return await this.#supervisor.send({ command: 'start', ctx });
    } catch (err) {
      await this.#registry.deleteSession(key).catch(() => {});
      throw err;
    }
  }

  async #onSessionEnded(key: SessionKey, state: SessionState): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const rec = this.#registry.session(key) ?? (await this.#registry.fetchSession(key).catch(() => undefined));
      if (!rec || rec.value.node !== this.nodeId || isTerminal(rec.value.state)) break;
      const ended = { ...rec.value, state, ended_at: new Date().toISOString() };
      if (await this.#registry.updateSession(key, ended, rec.revision).catch(() => false)) break;
      await this.#registry.fetchSession(key).catch(() => undefined);
    }
    this.#forgetLater(key);
  }

  #forgetLater(key: SessionKey): void {
    const ttlMs = this.#config.runtime.ended_session_ttl_seconds * 1000;
    setTimeout(() => void this.#registry.deleteSession(key).catch(() => {}), ttlMs).unref();
  }

  #onApprovalEvent(data: Uint8Array): void {
    const event = decodeFrame(data)[0] as { node: string; session_id: string; org_id: string; approval: PendingApproval };
    if (event.node === this.nodeId) return;
    for (const listener of this.#approvalListeners) {
      try {
        listener({ session_id: event.session_id, org_id: event.org_id, approval: event.approval });
      } catch (err) {
        this.#log.error({ err }, 'approval listener failed');
      }
    }
  }

  // --- forwarding -----------------------------------------------------------------------------

  async #forwardSession<T>(key: SessionKey, req: ClusterRequest, kind: 'control' | 'long'): Promise<T> {
    const rec = this.#registry.session(key) ?? (await this.#registry.fetchSession(key));
    if (!rec) throw new RuntimeError('session_not_found', `no session ${parseSessionKey(key).session_id}`);
    if (rec.value.error?.code === 'node_lost') {
      if (isStatusLike(req)) return lostStatus(key, rec) as T;
      throw fromWire(rec.value.error);
    }
    if (rec.value.node === this.nodeId) {
      // Registered here (the local table may already have forgotten it): ask the supervisor.
      return (await this.#serve(req)) as T;
    }
    try {
      return await this.#forward<T>(rec.value.node, req, kind);
    } catch (err) {
      // The owner died while we asked: a status (cancel, end) question still has an answer.
      if (!(err instanceof RuntimeError) || err.code !== 'node_lost' || !isStatusLike(req)) throw err;
      const now = (await this.#registry.fetchSession(key).catch(() => undefined)) ?? rec;
      if (now.value.error?.code === 'node_lost') return lostStatus(key, now) as T;
      if (this.#registry.nodes().has(rec.value.node)) throw err; // not declared lost: a plain timeout
      return lostStatus(key, { ...now, value: { ...now.value, error: err.toWire() } }) as T;
    }
  }

  /**
   * One request to a node. "No responders" (the node is restarting, or NATS is reconnecting)
   * is retried until the deadline; a node declared lost meanwhile fails the call with
   * node_lost at once.
   */
  async #forward<T>(node: string, req: ClusterRequest, kind: 'control' | 'long'): Promise<T> {
    const timeoutMs =
      kind === 'control'
        ? this.#cluster.request_timeout_ms
        : this.#config.policy.timeout_seconds * 1000 + this.#cluster.request_timeout_ms;
    const deadline = Date.now() + timeoutMs;
    let lost: ((err: RuntimeError) => void) | undefined;
    const lostPromise = new Promise<never>((_, reject) => {
      lost = reject;
    });
    lostPromise.catch(() => {});
    const waiting = this.#waiting.get(node) ?? new Set();
    this.#waiting.set(node, waiting);
    waiting.add(lost!);
    const frame = encodeFrame([req]);
    const idempotent =
      req.type === 'cluster.flush_audit' ||
      (req.command.command !== 'start' && COMMAND_TRAITS[req.command.command].repeatable);
    try {
      for (;;) {
        try {
          const msg = await Promise.race([
            this.#nc.request(nodeSubject(this.#cluster.name, node), frame, {
              // A request sent while NATS reconnects can be lost before the owner re-subscribes:
              // questions that are safe to repeat are asked again after a short attempt.
              timeout: Math.max(1, Math.min(deadline - Date.now(), idempotent ? IDEMPOTENT_ATTEMPT_MS : timeoutMs)),
            }),
            lostPromise,
          ]);
          const reply = decodeFrame(msg.data)[0] as ClusterReply;
          if (!reply.ok) throw fromWire(reply.error);
          return reply.value as T;
        } catch (err) {
          if (err instanceof RuntimeError) throw err;
          // While NATS is away every request fails fast; keep trying until it is back (or the deadline).
          const retryable = isRetryable(err) || !this.#connected || (idempotent && isTimeout(err));
          if (!retryable || Date.now() + NO_RESPONDERS_RETRY_MS >= deadline) {
            throw new RuntimeError(
              'node_lost',
              `node ${node} did not answer ${req.type}: ${errorMessage(err)}`,
              { node },
            );
          }
          this.#log.debug({ node, err: (err as Error)?.message }, 'forward retried');
          await Promise.race([new Promise((r) => setTimeout(r, NO_RESPONDERS_RETRY_MS)), lostPromise]);
        }
      }
    } finally {
      waiting.delete(lost!);
    }
  }

  // --- placement and leases -------------------------------------------------------------------

  #leastLoaded(): string {
    let best = this.nodeId;
    let bestLoad = this.#supervisor.stats().active_sessions / this.#config.runtime.max_sessions;
    for (const peer of this.#livingPeers()) {
      const rec = this.#registry.nodes().get(peer)!;
      const placed = this.#placed.get(peer);
      const extra = placed && placed.revision === rec.revision ? placed.extra : 0;
      const load = (rec.value.active_sessions + extra) / rec.value.max_sessions;
      // Strictly less: a tie stays on this node, which saves the NATS hop.
      if (load < bestLoad) {
        best = peer;
        bestLoad = load;
      }
    }
    if (best !== this.nodeId) {
      const rec = this.#registry.nodes().get(best)!;
      const placed = this.#placed.get(best);
      this.#placed.set(best, {
        revision: rec.revision,
        extra: (placed && placed.revision === rec.revision ? placed.extra : 0) + 1,
      });
    }
    return best;
  }

  #livingPeers(): string[] {
    const now = Date.now();
    return [...this.#registry.nodes()]
      .filter(([id, v]) => id !== this.nodeId && now - v.writtenAtMs <= this.#cluster.lease_ms && !this.#losing.has(id))
      .map(([id]) => id);
  }

  async #renew(): Promise<void> {
    try {
      await this.#registry.renewLease({
        node: this.nodeId,
        active_sessions: this.#supervisor.stats().active_sessions,
        max_sessions: this.#config.runtime.max_sessions,
        renewed_at: new Date().toISOString(),
      });
      if (this.#renewalsFailing) {
        // The registry takes writes again (after a NATS restart JetStream may need longer than
        // the connection): the peers, who could not renew either, get a whole lease from now.
        this.#renewalsFailing = false;
        this.#registry.restampLeases();
      }
    } catch (err) {
      // NATS is down or reconnecting: the next heartbeat tries again.
      this.#renewalsFailing = true;
      this.#log.debug({ err }, 'lease renewal failed');
    }
  }

  #checkLeases(): void {
    // Our view of the leases is only current while we are connected (see #watchStatus), and a
    // peer's silence means something only while the registry takes our own renewals.
    if (!this.#connected || this.#renewalsFailing || this.#stopped) return;
    const now = Date.now();
    // A peer whose lease another survivor already dropped: fail what still waits on it here.
    for (const [id, waiting] of this.#waiting) {
      if (waiting.size > 0 && !this.#registry.nodes().has(id) && !this.#losing.has(id)) {
        const err = new RuntimeError('node_lost', `node ${id} is no longer in the cluster`, { node: id });
        for (const fail of waiting) fail(err);
      }
    }
    for (const [id, v] of this.#registry.nodes()) {
      if (id === this.nodeId || this.#losing.has(id)) continue;
      if (now - v.writtenAtMs <= this.#cluster.lease_ms) continue;
      this.#losing.add(id);
      void this.#onNodeLost(id, v.revision, now - v.writtenAtMs).finally(() => this.#losing.delete(id));
    }
  }

  async #onNodeLost(node: string, leaseRevision: number, silentMs: number): Promise<void> {
    this.#log.warn({ lost: node, silent_ms: silentMs }, 'node lost: failing its sessions');
    const err = new RuntimeError('node_lost', `node ${node} stopped renewing its lease ${silentMs} ms ago`, { node });
    for (const fail of this.#waiting.get(node) ?? []) fail(err);
    try {
      await this.#failSessionsOf(node, 'lease expired');
      await this.#registry.dropLease(node, leaseRevision);
    } catch (e) {
      this.#log.error({ err: e, lost: node }, 'could not fail the lost node’s sessions; retrying next check');
    }
  }

  /** CAS every active session of `node` to failed/node_lost; audit the ones this node won. */
  async #failSessionsOf(node: string, why: string): Promise<void> {
    for (const [key, rec] of this.#registry.sessionsOn(node)) {
      if (isTerminal(rec.value.state)) continue;
      const message = `node ${node} was lost (${why}); audited by node ${this.nodeId}`;
      const failed: SessionRecord = {
        ...rec.value,
        state: 'failed',
        ended_at: new Date().toISOString(),
        error: { code: 'node_lost', message, data: { node } },
      };
      if (!(await this.#registry.updateSession(key, failed, rec.revision))) continue; // another node won
      const { user_id, agent_id } = rec.value;
      const identity = { ...parseSessionKey(key), user_id, agent_id };
      const events = nodeLostEvents(
        { identity, lostNode: node, auditedBy: this.nodeId, message },
        await storedHead(this.#audit, identity),
      );
      this.#auditOut?.send({ type: 'audit.append', events });
      this.#forgetLater(key);
    }
  }

  /** Tracks the NATS connection; after a reconnect the watches restart and leases get a fresh look. */
  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting') this.#connected = false;
      if (s.type === 'reconnect') {
        // No peer is judged on our outage: every lease counts as seen now (the watch's replay,
        // which stamps them again, arrives later and asynchronously).
        await this.#registry.watch().catch((err) => this.#log.warn({ err }, 'could not restart the registry watch'));
        this.#registry.restampLeases();
        this.#connected = true;
        void this.#renew();
      }
    }
  }
}

/** A command a session whose node was lost still answers (with its failed status). */
function isStatusLike(req: ClusterRequest): boolean {
  return req.type === 'cluster.command' && req.command.command !== 'start' && COMMAND_TRAITS[req.command.command].answersWhenNodeLost;
}

function isTimeout(err: unknown): boolean {
  return /timeout/i.test(`${(err as Error)?.name ?? ''} ${(err as Error)?.message ?? ''}`);
}

function isRetryable(err: unknown): boolean {
  const e = err as { name?: string; message?: string; isNoResponders?: () => boolean };
  if (typeof e?.isNoResponders === 'function' && e.isNoResponders()) return true;
  return /no responders|disconnect|reconnect|closed/i.test(`${e?.name ?? ''} ${e?.message ?? ''}`);
}

function lostStatus(key: SessionKey, rec: Versioned<SessionRecord>): SessionStatus {
  return {
    ...parseSessionKey(key),
    state: 'failed',
    iteration: 0,
    results: [],
    pending_approvals: [],
    ...(rec.value.error ? { error: rec.value.error } : {}),
    started_at: rec.value.started_at,
    ...(rec.value.ended_at ? { ended_at: rec.value.ended_at } : {}),
  };
}
