/**
 * Wires the runtime together:
 *
 *   config (loaded once, frozen) ──► audit thread (workers/audit.worker.ts, comlink control)
 *                                └─► Supervisor (main thread) ──► piscina pool of session hosts
 *
 * start() boots the audit thread, then the pool; stop() drains sessions, flushes the audit
 * trail and ends every thread.
 */
import { randomUUID } from 'node:crypto';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { ConfigError, type LoadOptions, loadConfig } from '../config/load.ts';
import { BUILTIN_TOOLS } from './capabilities/tools/index.ts';
import type { TrailProblem } from './audit/checkpoints.ts';
import type { Config, ConfigInput } from '../config/schema.ts';
import { type ApprovalListener, Supervisor } from '../actors/supervisor/supervisor.ts';
import { McpGateway } from '../actors/mcp-gateway/gateway.ts';
import type { AgentCapabilityCache } from './capabilities/cache/agent-capabilities.ts';
import { createAgentCapabilityCache } from './capabilities/cache/index.ts';
import type { AuditEvent, AuditEventDraft, AuditQuery } from './audit/events.ts';
import type { ChainIdentity } from './audit/emit.ts';
import type { VerifyResult } from './audit/hash-chain.ts';
import type {
  Action,
  McpServerConfig,
  ParsedSessionRequest,
  ActionInput,
  ActionResult,
  ApprovalDecision,
  CapabilitySummary,
  PlannerSpec,
  SessionContext,
  SessionRequest,
  SessionState,
  SessionStatus,
} from './contracts.ts';
import { ApprovalDecisionSchema, PlannerSchema, SessionRequestSchema } from './contracts.ts';
import { RuntimeError, errorMessage } from './errors.ts';
import { CedarPolicies } from './policy/cedar-policies.ts';
import { readPolicyDir } from './policy/policy-source.ts';
import { Tracing, type TracingSettings, tracingSettings, validTraceparent } from './telemetry/tracing.ts';
import { resolvePolicy } from './execution/policy.ts';
import { createLogger, type Logger } from './log.ts';
import { resolveMcpServers } from './capabilities/mcp/catalogue.ts';
import { PinGuard, type WithheldTool, createPinStore } from './capabilities/mcp/tool-pins.ts';
import { EventHub } from './review/event-hub.ts';
import { type DeliveryOutcome, WebhookDispatcher } from './review/webhooks.ts';
import { assertJsonShape, type JsonLimits } from './json-limits.ts';
import { parseAction, parseOrThrow } from './validation.ts';
import { keyOf, onlySessionOf, parseSessionKey, type SessionKey } from './session-key.ts';
import { workerBootstrap, workerEntry } from './worker-entry.ts';
import type { AuditApi } from './audit/audit-api.ts';
import type { ClusterNode } from './cluster/node.ts';
import { type ComponentHealth, type ComponentStatus, worstStatus } from './health.ts';
import type { SessionClient } from './session-protocol.ts';
import { openTokenStore } from './capabilities/mcp/auth/token-store.ts';
import type { InteractiveLogin } from './capabilities/mcp/auth/authorization-code.ts';
import type { ElicitationHandler } from './capabilities/mcp/elicitation.ts';

export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** The org of the runtime's own events (policy loads), apart from every tenant's trail. */
export const RUNTIME_ORG = '_runtime';
const RETENTION_INTERVAL_MS = 24 * 60 * 60 * 1000;

export interface RuntimeOptions extends Omit<LoadOptions, 'overrides'> {
  logger?: Logger;
  /**
   * A person is at hand (CLI `run FILE`, `mcp login`): an http MCP server that asks for an OAuth
   * login gets one there (URL shown, $BROWSER opened) instead of failing with
   * mcp_authorization_required.
   */
  mcpLogin?: InteractiveLogin;
  /**
   * A person answers upstream MCP servers' form elicitation (CLI `run FILE` on a terminal, or a
   * library caller's own UI). Without it the runtime does not declare elicitation to servers.
   */
  mcpElicitation?: ElicitationHandler;
}

export type { ComponentStatus };

export interface RuntimeHealth {
  status: ComponentStatus;
  components: Record<string, ComponentHealth>;
}

export class Runtime {
  readonly config: Readonly<Config>;
  readonly log: Logger;
  #auditWorker: Worker | undefined;
  #audit: Comlink.Remote<AuditApi> | undefined;
  #supervisor: Supervisor | undefined;
  #feed: MessagePort | undefined;
  #webhooks: WebhookDispatcher | undefined;
  readonly #webhookCounts: Record<DeliveryOutcome, number> = { delivered: 0, failed: 0, retried: 0 };
  /** live audit events, as they are stored (src/review/event-hub.ts) */
  readonly events = new EventHub((wanted) => {
    try {
      void this.#audit?.setFeed(wanted).catch(() => {});
    } catch {
      // the audit thread is gone (stopping): nothing to feed
    }
  });
  /** MCP connections (main thread, beside the supervisor; issue 4) */
  #mcp: McpGateway | undefined;
  /** pinned MCP tool definitions (issue 20) */
  #pins: PinGuard | undefined;
  /** traces on: the main thread's span exporter (MCP client spans) */
  #tracing: Tracing | undefined;
  /** agents' MCP tool lists, in process or in Redis (issue 7) */
  #capabilityCache: AgentCapabilityCache | undefined;
  /** cluster mode only (issue 6): routing to other nodes over NATS */
  #cluster: ClusterNode | undefined;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #auditThreadError: string | undefined;
  #retentionTimer: NodeJS.Timeout | undefined;
  /** The environment as it was at boot: planner API keys are looked up here, never in process.env later. */
  readonly #env: Readonly<Record<string, string | undefined>>;

  /** where a person is at hand: OAuth logins and upstream elicitation (RuntimeOptions) */
  readonly #person: Pick<RuntimeOptions, 'mcpLogin' | 'mcpElicitation'>;

  constructor(
    config: Readonly<Config>,
    logger: Logger,
    env: Record<string, string | undefined> = {},
    person: Pick<RuntimeOptions, 'mcpLogin' | 'mcpElicitation'> = {},
  ) {
    this.config = config;
    this.log = logger;
    this.#env = Object.freeze({ ...env });
    this.#person = person;
  }

  async start(): Promise<void> {
    assertAgentTools(this.config);
    // OTEL_* settings it cannot honour stop the start before any thread exists.
    let tracing: TracingSettings | undefined;
    try {
      tracing = tracingSettings(this.#env);
    } catch (err) {
      throw new ConfigError(errorMessage(err));
    }
    if (this.#state !== 'new') throw new RuntimeError('invalid_request', `start() called on a ${this.#state} runtime`);
    this.#state = 'starting';
    const entry = workerEntry('audit');
    const worker = new Worker(workerBootstrap(entry.filename), {
      eval: true,
      workerData: { config: this.config },
      name: 'semibot-audit',
    });
    worker.on('message', (m: { log?: string; msg?: string }) => {
      if (m && m.log === 'warn') this.log.warn({ actor: 'audit' }, m.msg);
    });
    worker.on('error', (err) => {
      this.#auditThreadError = err.message;
      this.log.error({ err }, 'audit thread failed');
    });
    worker.on('exit', (code) => {
      if (this.#state !== 'stopping' && this.#state !== 'stopped') {
        this.#auditThreadError ??= `the audit thread exited with code ${code}`;
        this.log.fatal({ code }, 'audit thread exited');
      }
    });
    this.#auditWorker = worker;
    this.#audit = Comlink.wrap<AuditApi>(nodeEndpoint(worker));
    // If the thread dies while booting, fail start() instead of waiting forever.
    const died = new Promise<never>((_, reject) => {
      worker.once('exit', (code) =>
        reject(new RuntimeError('audit_unavailable', this.#auditThreadError ?? `the audit thread exited (${code})`)),
      );
    });
    died.catch(() => {});
    try {
      await Promise.race([this.#audit.init(), died]);
    } catch (err) {
      this.#state = 'stopped';
      await worker.terminate();
      throw err;
    }
    // Stored events for live subscribers (GET /v1/events), posted only while someone listens.
    const feed = new MessageChannel();
    await this.#audit.openFeed(Comlink.transfer(feed.port2, [feed.port2]));
    feed.port1.on('message', (events: AuditEvent[]) => this.events.publish(events));
    feed.port1.unref();
    this.#feed = feed.port1;
    this.#webhooks = new WebhookDispatcher(this.config.webhooks, (outcome) => this.#webhookCounts[outcome]++, this.log);
    this.#webhooks.start(this.events);
    // Pinned MCP tool definitions live beside the audit trail (file, database or memory store).
    this.#pins = new PinGuard(
      createPinStore(this.config),
      (tool) => void this.#recordWithheldTool(tool),
      (err) => this.log.warn({ err }, 'the MCP tool pins could not be read or written'),
    );
    // Traces (OTEL_*): the main thread's own exporter, for the gateway's MCP client spans.
    this.#tracing = tracing ? new Tracing(tracing) : undefined;
    this.#mcp = new McpGateway(this.config, this.log, this.#pins, this.#tracing, {
      store: openTokenStore(this.config),
      env: this.#env,
      ...(this.#person.mcpLogin ? { interactive: this.#person.mcpLogin } : {}),
      ...(this.#person.mcpElicitation ? { elicit: this.#person.mcpElicitation } : {}),
    });
    this.#capabilityCache = await createAgentCapabilityCache(this.config, this.log);
    this.#supervisor = new Supervisor(this.config, this.#audit, this.log, this.#mcp, this.#capabilityCache);
    // Every session worker exports its own spans, with the same settings.
    if (tracing) this.#supervisor.setTracing(tracing);
    if (this.config.policy_dir !== undefined) {
      // Refused at start, naming file and line; the workers get the text that compiled here.
      let policies: CedarPolicies;
      try {
        policies = await loadPolicies(this.config.policy_dir);
      } catch (err) {
        this.#state = 'running';
        await this.stop({ drainTimeoutMs: 0 });
        throw new ConfigError(`POLICY_DIR: ${errorMessage(err)}`);
      }
      this.#supervisor.setPolicies(policies.source);
      await this.#recordPolicyLoad(policies, 'at start');
    }
    await this.#supervisor.start();
    if (this.config.cluster.enabled) {
      // Imported only in cluster mode: a single node never loads NATS (issue 6).
      const { ClusterNode } = await import('./cluster/node.ts');
      try {
        this.#cluster = await ClusterNode.start({
          config: this.config,
          supervisor: this.#supervisor,
          audit: this.#audit,
          log: this.log,
        });
      } catch (err) {
        this.#state = 'running';
        await this.stop({ drainTimeoutMs: 0 });
        throw err;
      }
    }
    this.#retentionTimer = setInterval(() => void this.audit.applyRetention().catch(() => {}), RETENTION_INTERVAL_MS);
    this.#retentionTimer.unref();
    this.#state = 'running';
  }

  /**
   * Starts a session. `planner` overrides the request's planner field. `from: 'api'` marks a
   * request from an untrusted door (HTTP API, MCP endpoint): its MCP servers must be catalogue
   * ids. `approvalsUnavailable`: nobody can answer an approval request (high-risk actions are
   * refused with approval_unavailable instead of waiting).
   */
  async createSession(
    request: SessionRequest,
    planner?: PlannerSpec,
    {
      from = 'operator',
      startedBy,
      approvalsUnavailable,
      traceparent,
    }: { from?: 'operator' | 'api'; startedBy?: string; approvalsUnavailable?: boolean; traceparent?: string } = {},
  ): Promise<Session> {
    const supervisor = this.#running();
    // No new work that could not be audited: with the audit thread gone, refuse rather than
    // run sessions whose events would have nowhere to go.
    if (this.#auditThreadError) {
      throw new RuntimeError('audit_unavailable', `the audit thread is down: ${this.#auditThreadError}`);
    }
    // Shape first: data nested too deep must never reach the schema or the msgpack packer.
    assertJsonShape(request, this.config.limits, 'session request');
    if (planner) assertJsonShape(planner, this.config.limits, 'planner');
    const parsed = parseOrThrow(
      SessionRequestSchema,
      planner ? { ...request, planner } : request,
      'invalid_request',
      'session request',
    );
    if (planner) parseOrThrow(PlannerSchema, planner, 'invalid_request', 'planner');
    const ctx: SessionContext = {
      org_id: parsed.org_id,
      user_id: parsed.user_id,
      agent_id: parsed.agent_id,
      session_id: parsed.session_id ?? randomUUID(),
      agent: parsed.agent ?? {},
      tools: parsed.tools ?? [],
      skills: parsed.skills ?? [],
      mcp_servers: await this.#resolveMcpServers(parsed, from),
      policy: resolvePolicy(parsed.policy, this.config.policy),
      planner: parsed.planner,
      metadata: parsed.metadata ?? {},
      ...(parsed.task !== undefined ? { task: parsed.task } : {}),
      ...plannerSecrets(parsed.planner, this.#env),
      ...(startedBy !== undefined ? { started_by: startedBy } : {}),
      approval_separation: this.config.server.approval_separation,
      ...(approvalsUnavailable ? { approvals_unavailable: true } : {}),
      ...(validTraceparent(traceparent) !== undefined ? { traceparent: validTraceparent(traceparent) } : {}),
    };
    // In a cluster the session may start on another node; the handle then sends through the cluster.
    const started = await (this.#cluster ?? supervisor).send({ command: 'start', ctx });
    const key = keyOf(ctx);
    const client = this.#cluster && !supervisor.holds(key) ? this.#cluster : supervisor;
    return new Session(client, key, started.capabilities, started.state, this.config.limits);
  }

  /** Catalogue ids to their entries; a refusal is audited (in a record of its own) and thrown. */
  async #resolveMcpServers(parsed: ParsedSessionRequest, from: 'operator' | 'api'): Promise<McpServerConfig[]> {
    try {
      return resolveMcpServers(parsed.mcp_servers ?? [], this.config.mcp.servers, parsed.org_id, {
        allowFullEntries: from === 'operator',
      });
    } catch (err) {
      if (!(err instanceof RuntimeError) || err.code !== 'mcp_server_not_allowed') throw err;
      // Its own one-event trail: appended to a session id the caller chose, it could fork that
      // session's live chain.
      await this.#appendOwnTrail(
        {
          event_type: 'error',
          severity: 'warning',
          message: `session refused: ${err.message}`,
          success: false,
          error_message: err.message,
          metadata: { error_code: err.code, requested_session_id: parsed.session_id ?? null, door: from },
        },
        { org_id: parsed.org_id, user_id: parsed.user_id, agent_id: parsed.agent_id, session_id: `refused-${randomUUID()}` },
      );
      throw err;
    }
  }

  /**
   * A handle on an existing session (for the HTTP API and CLI). Session ids are unique within
   * their org only (issue 15): name the org (the HTTP API always does, from the token); without
   * it, the one session of that id is found, and several orgs' sessions of it are invalid_request.
   */
  session(sessionId: string, orgId?: string): Session {
    const supervisor = this.#running();
    const key = supervisor.find(sessionId, orgId);
    if (key !== undefined) return new Session(supervisor, key, [], 'running', this.config.limits);
    // Another node's (the cluster forwards to it), or one registered here the table forgot.
    const remote = this.#cluster?.lookup(sessionId, orgId);
    if (remote === undefined) throw new RuntimeError('session_not_found', `no session ${sessionId}`);
    return new Session(this.#cluster!, remote, [], 'running', this.config.limits);
  }

  /**
   * Reads POLICY_DIR again (SIGHUP): a set that compiles replaces the old one in every worker
   * (sessions decide with it from their next action); a bad one is refused and the old one kept.
   * Either way it is logged and audited (policy_loaded / policy_load_failed).
   */
  async reloadPolicies(): Promise<{ loaded: boolean; error?: string }> {
    const supervisor = this.#running();
    const dir = this.config.policy_dir;
    if (dir === undefined) return { loaded: false, error: 'POLICY_DIR is not set' };
    let policies: CedarPolicies;
    try {
      policies = await loadPolicies(dir);
    } catch (err) {
      const error = errorMessage(err);
      this.log.error({ dir, error }, 'policy reload refused; the policies loaded before stay in force');
      await this.#appendRuntimeEvent({
        event_type: 'policy_load_failed',
        severity: 'error',
        message: `policy reload refused, the previous policies stay: ${error}`,
        success: false,
        error_message: error,
        metadata: { dir },
      });
      return { loaded: false, error };
    }
    supervisor.setPolicies(policies.source);
    await this.#recordPolicyLoad(policies, 'reloaded');
    return { loaded: true };
  }

  async #recordPolicyLoad(policies: CedarPolicies, when: string): Promise<void> {
    this.log.info({ dir: policies.source.dir, policies: policies.ids.length }, `policies ${when}`);
    await this.#appendRuntimeEvent({
      event_type: 'policy_loaded',
      severity: 'info',
      message: `${policies.ids.length} Cedar policies ${when} from ${policies.source.dir}`,
      success: true,
      metadata: { dir: policies.source.dir, policies: policies.ids.length, policy_ids: policies.ids },
    });
  }

  /** A changed MCP tool definition, withheld: audited in the org whose connection saw it. */
  async #recordWithheldTool(tool: WithheldTool): Promise<void> {
    this.log.warn(tool, 'MCP tool definition changed since it was pinned; withheld until accepted');
    await this.#appendRuntimeEvent(
      {
        event_type: 'mcp_tool_changed',
        severity: 'warning',
        message: `MCP server ${tool.server_id} changed the definition of ${tool.tool}; it is withheld until \`semibot-runtime mcp pins accept ${tool.server_id}\``,
        success: false,
        mcp_server_id: tool.server_id,
        metadata: { server_id: tool.server_id, tool: tool.tool, pinned_hash: tool.pinned_hash, seen_hash: tool.seen_hash },
      },
      tool.org_id,
    );
  }

  /**
   * An event of the runtime itself (not of a session): its own one-event trail, in the
   * "_runtime" org, or in the org it concerns.
   */
  #appendRuntimeEvent(draft: AuditEventDraft, orgId = RUNTIME_ORG): Promise<void> {
    return this.#appendOwnTrail(draft, {
      org_id: orgId,
      user_id: 'operator',
      agent_id: 'semibot-runtime',
      session_id: `runtime-${randomUUID()}`,
    });
  }

  /** One event in a trail of its own (never appended to a live session's chain). */
  async #appendOwnTrail(draft: AuditEventDraft, identity: ChainIdentity): Promise<void> {
    await this.#auditApi()
      .appendChained([{ identity, draft }])
      .catch((err: unknown) => this.log.warn({ err }, 'could not audit an event'));
  }

  onApprovalRequested(listener: ApprovalListener): () => void {
    const off = this.#running().onApprovalRequested(listener);
    const offRemote = this.#cluster?.onApprovalRequested(listener);
    return () => {
      off();
      offRemote?.();
    };
  }

  readonly audit = {
    // Reads first collect what session hosts still hold (events wait ~2 ms there before they
    // leave in a batch), so a query sees every event of the actions that returned before it.
    query: async (q: AuditQuery = {}): Promise<AuditEvent[]> => {
      await this.#collectAudit();
      return this.#auditApi().query(q);
    },
    count: async (q: AuditQuery = {}): Promise<number> => {
      await this.#collectAudit();
      return this.#auditApi().count(q);
    },
    /**
     * the session's hash chain, and what the signed checkpoints certify of it (`problems`); ids
     * are unique within an org, so name the org when several orgs have a session of that id
     */
    verify: async (sessionId: string, orgId?: string): Promise<VerifyResult & { problems: TrailProblem[] }> => {
      await this.#collectAudit();
      const { orgs, ...verdict } = await this.#auditApi().verify(sessionId, orgId);
      onlySessionOf(sessionId, orgs);
      return verdict;
    },
    /** writes a signed checkpoint of every session head that moved, now */
    checkpoint: async (): Promise<void> => {
      await this.#collectAudit();
      return this.#auditApi().checkpoint();
    },
    flush: async (): Promise<void> => {
      await this.#collectAudit();
      return this.#auditApi().flush();
    },
    deleteOlderThan: (before: Date): Promise<number> => this.#auditApi().deleteOlderThan(before.toISOString()),
    /** deletes events older than audit.retention_days */
    applyRetention: (): Promise<number> =>
      this.#auditApi().deleteOlderThan(
        new Date(Date.now() - this.config.audit.retention_days * 86_400_000).toISOString(),
      ),
    stats: () => this.#auditApi().stats(),
    /** Prometheus text of the audit thread's registry (action and audit metrics) */
    metrics: (): Promise<string> => this.#auditApi().metrics(),
  };

  async health(): Promise<RuntimeHealth> {
    const components: RuntimeHealth['components'] = {};
    if (this.#auditThreadError || !this.#audit) {
      components.audit_logger = { status: 'unhealthy', detail: this.#auditThreadError ?? 'not started' };
    } else {
      const { database, ...auditLogger } = await this.#audit.health();
      components.audit_logger = auditLogger;
      // Database audit store: PostgreSQL's own state (degraded while events wait in the spool).
      if (database) components.database = database;
    }
    const sup = this.#supervisor?.stats();
    components.workers =
      !sup || this.#state !== 'running'
        ? { status: 'unhealthy', detail: this.#state }
        : sup.respawning_stopped
          ? { status: sup.workers > 0 ? 'degraded' : 'unhealthy', detail: 'workers kept crashing; respawn stopped' }
          : { status: 'healthy' };
    components.mcp_client = this.#mcp ? this.#mcp.health() : { status: 'unhealthy', detail: 'not started' };
    if (this.#capabilityCache) components.capability_cache = this.#capabilityCache.health();
    // Cluster mode: degraded while NATS reconnects (local sessions still run; issue 6).
    if (this.#cluster) components.cluster = this.#cluster.health();
    return { status: worstStatus(Object.values(components).map((c) => c.status)), components };
  }

  /** Webhook deliveries since start (for /metrics), and events waiting to be delivered. */
  webhookStats(): Record<DeliveryOutcome, number> & { pending: number } {
    return { ...this.#webhookCounts, pending: this.#webhooks?.pending ?? 0 };
  }

  stats() {
    return {
      state: this.#state,
      ...this.#running().stats(),
      ...(this.#capabilityCache ? { capability_cache: this.#capabilityCache.stats() } : {}),
    };
  }

  /** Cluster mode: this node's cluster layer (node id, session owners); undefined on a single node. */
  get cluster(): ClusterNode | undefined {
    return this.#cluster;
  }

  /** For tests and operations: the supervisor (worker placement, threads). */
  get supervisor(): Supervisor {
    return this.#running();
  }

  /** Drains sessions (up to `drainTimeoutMs`), flushes the audit trail and ends every thread. */
  async stop({ drainTimeoutMs = DEFAULT_DRAIN_TIMEOUT_MS }: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    clearInterval(this.#retentionTimer);
    this.#webhooks?.stop();
    try {
      await this.#supervisor?.stop(drainTimeoutMs);
      await this.#cluster?.stop();
      await this.#mcp?.close();
      await this.#pins?.close().catch(() => {});
      await this.#tracing?.shutdown().catch(() => {});
      await this.#capabilityCache?.close();
      await this.#audit?.close();
    } finally {
      this.#audit?.[Comlink.releaseProxy]();
      this.#feed?.close();
      await this.#auditWorker?.terminate();
      this.#state = 'stopped';
    }
  }

  #running(): Supervisor {
    if (this.#state !== 'running' || !this.#supervisor) {
      throw new RuntimeError(
        this.#state === 'stopping' || this.#state === 'stopped' ? 'runtime_stopping' : 'internal_error',
        this.#state === 'new' ? 'call start() first' : `the runtime is ${this.#state}`,
      );
    }
    return this.#supervisor;
  }

  async #collectAudit(): Promise<void> {
    if (this.#state === 'running') await Promise.all([this.#supervisor?.flushAudit(), this.#cluster?.flushPeers()]);
  }

  #auditApi(): Comlink.Remote<AuditApi> {
    if (!this.#audit) throw new RuntimeError('audit_unavailable', 'the runtime has not started');
    return this.#audit;
  }
}

/**
 * A handle on one session. Each method builds one command of the session protocol
 * (src/session-protocol.ts) and sends it through the session's client: the supervisor, or in
 * a cluster the node that forwards it to the session's owner.
 */
export class Session {
  readonly #client: SessionClient;
  readonly id: string;
  readonly orgId: string;
  /** how the runtime addresses this session: its org and id (ids are unique within an org) */
  readonly key: SessionKey;
  readonly capabilities: CapabilitySummary[];
  readonly initialState: SessionState;
  readonly #limits: Readonly<JsonLimits>;

  constructor(
    client: SessionClient,
    key: SessionKey,
    capabilities: CapabilitySummary[],
    state: SessionState,
    limits: Readonly<JsonLimits>,
  ) {
    this.#client = client;
    this.#limits = limits;
    const { org_id, session_id } = parseSessionKey(key);
    this.key = key;
    this.id = session_id;
    this.orgId = org_id;
    this.capabilities = capabilities;
    this.initialState = state;
  }

  execute(action: ActionInput): Promise<ActionResult>;
  execute(actions: ActionInput[]): Promise<ActionResult[]>;
  execute(input: ActionInput | ActionInput[]): Promise<ActionResult | ActionResult[]> {
    // Not async: the supervisor's promise is handed back as it is (a batch) or with one
    // reaction (a single action), instead of through another async frame.
    const batch = Array.isArray(input) ? input : [input];
    let actions: Action[];
    try {
      if (batch.length === 0) throw new RuntimeError('invalid_request', 'invalid actions: the batch is empty');
      actions = batch.map((a, i) => {
        const what = Array.isArray(input) ? `action ${i}` : 'action';
        const action = parseAction(a, what);
        assertJsonShape(action.params, this.#limits, `${what} params`);
        // Ids are assigned here, so a worker crash can still name every action it failed.
        return { id: action.id ?? randomUUID(), name: action.name, params: action.params };
      });
    } catch (err) {
      return Promise.reject(err);
    }
    const results = this.#client.send({ command: 'execute', session: this.key, actions });
    return Array.isArray(input) ? results : results.then(firstResult);
  }

  run(): Promise<SessionStatus> {
    return this.#client.send({ command: 'run', session: this.key });
  }

  approve(
    actionId: string,
    granted: boolean,
    details: Omit<ApprovalDecision, 'granted'> = {},
  ): Promise<void> {
    const decision = parseOrThrow(
      ApprovalDecisionSchema,
      { decided_by: 'library', ...details, granted },
      'invalid_request',
      'approval',
    );
    return this.#client.send({ command: 'approve', session: this.key, action_id: actionId, decision }).then(() => {});
  }

  cancel(reason = 'cancelled by the caller'): Promise<SessionStatus> {
    return this.#client.send({ command: 'cancel', session: this.key, reason });
  }

  /** ends the session once its in-flight actions finish; `reason` is recorded in session_ended */
  end(reason?: string): Promise<SessionStatus> {
    return this.#client.send({ command: 'end', session: this.key, ...(reason !== undefined ? { reason } : {}) });
  }

  /** the session's capabilities as they are now (an MCP server that disconnected drops out) */
  currentCapabilities(): Promise<CapabilitySummary[]> {
    return this.#client.send({ command: 'capabilities', session: this.key });
  }

  status(): Promise<SessionStatus> {
    return this.#client.send({ command: 'status', session: this.key });
  }
}

/** Loads the configuration (defaults < config/<ENVIRONMENT>.yaml < env < `config`) and builds a runtime. */
export function createRuntime(config: ConfigInput = {}, options: RuntimeOptions = {}): Runtime {
  const loaded = loadConfig({ ...options, overrides: config });
  return new Runtime(loaded, options.logger ?? createLogger(loaded), options.env ?? process.env, {
    ...(options.mcpLogin ? { mcpLogin: options.mcpLogin } : {}),
    ...(options.mcpElicitation ? { mcpElicitation: options.mcpElicitation } : {}),
  });
}

function firstResult(results: ActionResult[]): ActionResult {
  return results[0]!;
}

/**
 * The openai planner's API key, resolved in the main thread from the boot-time environment and
 * handed to the worker inside the context (never audited: session_started records only the
 * planner type). Only variables named *_API_KEY may be named, so a request cannot send, say,
 * DATABASE_URL to a base_url of its choosing.
 */
function plannerSecrets(
  planner: PlannerSpec,
  env: Readonly<Record<string, string | undefined>>,
): Pick<SessionContext, 'secrets'> {
  if (planner.type !== 'openai' || planner.api_key_env === undefined) return {};
  const name = planner.api_key_env;
  if (!/^[A-Z][A-Z0-9_]*_API_KEY$/.test(name)) {
    throw new RuntimeError('invalid_request', `planner.api_key_env ${JSON.stringify(name)}: expected a variable name ending in _API_KEY`);
  }
  const key = env[name];
  if (!key) throw new RuntimeError('invalid_request', `planner.api_key_env: ${name} is not set in the runtime's environment`);
  return { secrets: { planner_api_key: key } };
}

/** Agent profiles name built-in tools only (their MCP servers were checked against the catalogue at load). */
function assertAgentTools(config: Readonly<Config>): void {
  for (const [i, agent] of config.agents.entries()) {
    for (const [j, tool] of agent.tools.entries()) {
      if (!BUILTIN_TOOLS.has(tool)) {
        throw new ConfigError(
          `agents.${i}.tools.${j} = ${JSON.stringify(tool)}: not a built-in tool (${[...BUILTIN_TOOLS.keys()].join(', ')})`,
        );
      }
    }
  }
}

/** Reads and compiles a policy directory (on the calling thread); throws with file and line. */
export async function loadPolicies(dir: string): Promise<CedarPolicies> {
  return new CedarPolicies(await readPolicyDir(dir));
}
