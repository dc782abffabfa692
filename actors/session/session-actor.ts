/**
 * One agent session, pinned to one worker thread for its whole life. Runs the loop
 *   plan → validate → approve → act → observe
 * up to max_iterations, with max_concurrent_actions in flight, per-action and per-session
 * timeouts. Each action goes through src/execution/executor.ts; every event lands in this
 * session's hash chain.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  type Action,
  type ActionInput,
  type ActionResult,
  type ApprovalDecision,
  isTerminal,
  type PendingApproval,
  type SessionContext,
  type SessionState,
  type SessionStatus,
} from '../../src/contracts.ts';
import { RuntimeError, type WireError, toWireError } from '../../src/errors.ts';
import { type AuditOutbox, SessionChain } from '../../src/audit/emit.ts';
import type { AuditEventDraft } from '../../src/audit/events.ts';
import type { ActionRun } from '../../src/execution/action-run.ts';
import { ApprovalGate } from '../../src/execution/approval.ts';
import type { CapabilityGraph } from '../../src/execution/capability-graph.ts';
import { type ExecutionScope, type InvokeBase, executeAction } from '../../src/execution/executor.ts';
import type { CedarPolicies } from '../../src/policy/cedar-policies.ts';
import { ROOT_CONTEXT, type Span, SpanStatusCode, type Tracer, trace as otelTrace } from '@opentelemetry/api';
import { Tracing, traceIds } from '../../src/telemetry/tracing.ts';
import { RunDeadlines } from '../../src/execution/run-deadlines.ts';
import { Semaphore } from '../../src/execution/semaphore.ts';
import { keyOf, type SessionKey } from '../../src/session-key.ts';
import type { SupervisorMessage } from '../supervisor/messages.ts';
import type { JailLimits } from '../../src/capabilities/tools/jail.ts';
import type { Planner } from './planners/planner.ts';

/** status() reports at most this many results (the newest). */
const MAX_KEPT_RESULTS = 1000;
/** steps an autonomous planner sees in its history */
const MAX_KEPT_STEPS = 1000;

export interface SessionServices {
  outbox: AuditOutbox;
  notify(message: SupervisorMessage): void;
  sandboxRoot: string;
  httpAllowedHosts: readonly string[];
  executeCodeTimeoutMs: number;
  executeCodeMaxMemoryMb: number;
  executeCodeJail: JailLimits;
  /** AUDIT_DURABILITY=strict: results wait for their closing events to be stored */
  strictDurability: boolean;
  /** SESSION_MAX_MEMORY_BYTES: what this session may keep before it fails alone */
  maxMemoryBytes: number;
  /** SANDBOX_MAX_BYTES (0: no limit) */
  sandboxMaxBytes: number;
  /** the Cedar policies (POLICY_DIR) as loaded now; undefined without a policy directory */
  policies?: () => CedarPolicies | undefined;
  /** traces on (OTEL_*): this thread's tracer */
  tracer?: Tracer;
}

const noPolicies = (): undefined => undefined;

export class SessionActor {
  readonly ctx: SessionContext;
  /** org and id: how the supervisor and host address this session (src/session-key.ts) */
  readonly key: SessionKey;
  readonly #graph: CapabilityGraph;
  readonly #planner: Planner;
  readonly #services: SessionServices;
  readonly #chain: SessionChain;
  readonly #approvals = new ApprovalGate();
  readonly #semaphore: Semaphore;
  readonly #abort = new AbortController();
  readonly #runs = new Set<ActionRun>();
  readonly #deadlines: RunDeadlines;
  readonly #validated = new Set<string>();
  /** ids of actions still running or waiting: an id may not be reused while it is live */
  readonly #liveIds = new Set<string>();
  #actionCount = 0;
  /** steps running now; #idle is called when the count falls back to zero */
  #running = 0;
  #idle: (() => void) | undefined;
  readonly #history: ActionResult[][] = [];
  #results: ActionResult[] = [];
  /** the size of each kept result (its JSON), and their sum: the memory this session holds */
  #resultBytes: number[] = [];
  #keptBytes = 0;
  #state: SessionState = 'running';
  #iteration = 0;
  #error: WireError | undefined;
  #endedAt: string | undefined;
  #ending: Promise<void> | undefined;
  #sandbox: Promise<string> | undefined;
  #invokeBase: InvokeBase | undefined;
  readonly #startedAt = new Date().toISOString();
  readonly #timer: NodeJS.Timeout;
  readonly #scope: ExecutionScope;
  /** the session's `invoke_agent` span (traces on): every action's span is its child */
  readonly #span: Span | undefined;

  constructor(ctx: SessionContext, graph: CapabilityGraph, planner: Planner, services: SessionServices) {
    this.ctx = ctx;
    this.key = keyOf(ctx);
    this.#graph = graph;
    this.#planner = planner;
    this.#services = services;
    this.#chain = new SessionChain(ctx, services.outbox);
    this.#semaphore = new Semaphore(ctx.policy.max_concurrent_actions);
    this.#deadlines = new RunDeadlines(ctx.policy.action_timeout_seconds * 1000, this.#runs);
    const agentName = ctx.agent.name ?? ctx.agent_id;
    this.#span = services.tracer?.startSpan(
      `invoke_agent ${agentName}`,
      {
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.agent.id': ctx.agent_id,
          'gen_ai.agent.name': agentName,
          'gen_ai.conversation.id': ctx.session_id,
          'semibot.org_id': ctx.org_id,
          'semibot.user_id': ctx.user_id,
        },
      },
      Tracing.extract(ctx.traceparent),
    );
    const ids = traceIds(this.#span);
    this.#chain.emit({
      event_type: 'session_started',
      message: `session started for agent ${ctx.agent_id}`,
      metadata: {
        capabilities: graph.summary().map(({ name, kind, version, source }) => ({ name, kind, version, source })),
        policy: ctx.policy,
        agent: ctx.agent,
        planner: ctx.planner.type,
        task: ctx.task ?? null,
        session_metadata: ctx.metadata,
        started_by: ctx.started_by ?? null,
        ...ids,
      },
    });
    this.#timer = setTimeout(
      () =>
        void this.#finish(
          'failed',
          new RuntimeError('session_timeout', `the session exceeded ${ctx.policy.timeout_seconds} s`),
        ),
      ctx.policy.timeout_seconds * 1000,
    );
    this.#scope = {
      ctx,
      graph,
      chain: this.#chain,
      approvals: this.#approvals,
      semaphore: this.#semaphore,
      signal: this.#abort.signal,
      runs: this.#runs,
      deadlines: this.#deadlines,
      validated: this.#validated,
      invokeContext: () => this.#invokeContext(),
      durable: services.strictDurability ? () => services.outbox.durable() : () => undefined,
      onApprovalRequested: (approval) => this.#onApprovalRequested(approval),
      onApprovalSettled: () => this.#refreshWaitingState(),
      policies: services.policies ?? noPolicies,
      iteration: () => this.#iteration,
      ...(services.tracer && this.#span
        ? this.#span.isRecording()
          ? { trace: { tracer: services.tracer, parent: otelTrace.setSpan(ROOT_CONTEXT, this.#span) } }
          : { unsampled: this.#span }
        : {}),
    };
  }

  get state(): SessionState {
    return this.#state;
  }

  /**
   * Appends an event to this session's hash chain while it is active (the host records MCP
   * connection changes of the servers this session uses).
   */
  recordEvent(draft: AuditEventDraft): void {
    if (!isTerminal(this.#state)) this.#chain.emit(draft);
  }

  get capabilities() {
    return this.#graph.summary();
  }

  /**
   * Runs one batch of actions (one iteration) — the external planner's way in. Not an async
   * function: it hands back #step's own promise instead of wrapping it in another.
   */
  execute(inputs: ActionInput[]): Promise<ActionResult[]> {
    const refusal =
      this.#inactive() ??
      (this.#planner.autonomous
        ? new RuntimeError('wrong_planner', `a ${this.#planner.type}-planner session runs through run()`)
        : undefined);
    return refusal ? Promise.reject(refusal) : this.#step(inputs);
  }

  /** Drives an autonomous planner to the end; resolves with the final status. */
  async run(): Promise<SessionStatus> {
    this.#assertActive();
    if (!this.#planner.autonomous) {
      throw new RuntimeError('wrong_planner', 'an external-planner session is driven through execute(), not run()');
    }
    try {
      while (!isTerminal(this.#state)) {
        const step = await this.#planner.nextStep({
          ctx: this.ctx,
          capabilities: this.#graph.summary(),
          history: this.#history,
          signal: this.#abort.signal,
          ...(this.#scope.trace ? { trace: this.#scope.trace } : {}),
        });
        if (isTerminal(this.#state)) break;
        if (step === null) {
          await this.#finish('completed');
          break;
        }
        await this.#step(step);
      }
    } catch (err) {
      if (!isTerminal(this.#state)) {
        const wire = toWireError(err, 'planner_error');
        // max_iterations already ended the session in #step; anything else is a planner failure.
        await this.#finish('failed', new RuntimeError(wire.code, wire.message));
      }
    }
    await this.#ending;
    return this.status();
  }

  approve(actionId: string, decision: ApprovalDecision, decidedBy: string): void {
    this.#assertActive();
    // Four eyes (APPROVAL_SEPARATION): whoever started the session does not approve its actions.
    if (this.ctx.approval_separation && this.ctx.started_by !== undefined && decidedBy === this.ctx.started_by) {
      throw new RuntimeError(
        'forbidden',
        `approval separation: ${decidedBy} started this session and may not decide its approvals; another approver must`,
      );
    }
    this.#approvals.decide(actionId, decision, decidedBy);
  }

  async cancel(reason: string): Promise<SessionStatus> {
    if (!isTerminal(this.#state)) {
      await this.#finish('cancelled', new RuntimeError('action_cancelled', `the session was cancelled: ${reason}`));
    }
    await this.#ending;
    return this.status();
  }

  /** Ends the session normally after its in-flight actions finish. */
  async end(reason?: string): Promise<SessionStatus> {
    if (!isTerminal(this.#state)) await this.#finish('completed', undefined, { abort: false, reason });
    await this.#ending;
    return this.status();
  }

  status(): SessionStatus {
    const status: SessionStatus = {
      session_id: this.ctx.session_id,
      org_id: this.ctx.org_id,
      state: this.#state,
      iteration: this.#iteration,
      results: this.#results.slice(-MAX_KEPT_RESULTS),
      pending_approvals: this.#approvals.pending().map((a) => ({ ...a, params: a.params })),
      started_at: this.#startedAt,
    };
    if (this.#error) status.error = this.#error;
    if (this.#endedAt) status.ended_at = this.#endedAt;
    return status;
  }

  async #step(inputs: ReadonlyArray<ActionInput | Action>): Promise<ActionResult[]> {
    if (this.#iteration >= this.ctx.policy.max_iterations) {
      const error = new RuntimeError(
        'max_iterations_reached',
        `the session used all ${this.ctx.policy.max_iterations} of its iterations`,
      );
      await this.#finish('failed', error);
      throw error;
    }
    const actions = this.#assignIds(inputs);
    this.#iteration++;
    // Backpressure: wait while the audit actor is behind.
    const ready = this.#services.outbox.ready();
    if (ready) await ready;
    // One action (the usual step) is awaited as it is, without a Promise.all around it.
    this.#running++;
    let results: ActionResult[];
    try {
      results =
        actions.length === 1
          ? [await executeAction(this.#scope, actions[0]!)]
          : await Promise.all(actions.map((action) => executeAction(this.#scope, action)));
    } finally {
      for (const action of actions) this.#liveIds.delete(action.id);
      if (--this.#running === 0 && this.#idle) this.#idle();
    }
    if (this.#planner.autonomous) {
      this.#history.push(results);
      if (this.#history.length > 2 * MAX_KEPT_STEPS) this.#history.splice(0, this.#history.length - MAX_KEPT_STEPS);
    }
    for (const r of results) {
      const bytes = resultBytes(r);
      this.#results.push(r);
      this.#resultBytes.push(bytes);
      this.#keptBytes += bytes;
    }
    // Trim in chunks, not on every step: slicing a long array per action would dominate the cost.
    if (this.#results.length > 2 * MAX_KEPT_RESULTS) {
      const drop = this.#results.length - MAX_KEPT_RESULTS;
      for (let i = 0; i < drop; i++) this.#keptBytes -= this.#resultBytes[i]!;
      this.#results = this.#results.slice(drop);
      this.#resultBytes = this.#resultBytes.slice(drop);
    }
    // One session must not run its worker out of memory and take other orgs' sessions with it
    // (issue 15): past its bound it fails alone, and what it kept is let go.
    if (this.#keptBytes > this.#services.maxMemoryBytes) {
      const error = new RuntimeError(
        'session_memory_exceeded',
        `the session keeps ${this.#keptBytes} bytes of results, more than SESSION_MAX_MEMORY_BYTES (${this.#services.maxMemoryBytes})`,
      );
      this.#results = [];
      this.#resultBytes = [];
      this.#keptBytes = 0;
      this.#history.length = 0;
      await this.#finish('failed', error);
      throw error;
    }
    // Strict durability: the caller hears of a result only once its closing event is stored.
    const stored = this.#scope.durable();
    if (stored) await stored;
    return results;
  }

  #assignIds(inputs: ReadonlyArray<ActionInput | Action>): Action[] {
    const actions = inputs.map((a) => ({
      id: a.id ?? randomUUID(),
      name: a.name,
      // No copy needed: these params were just decoded from a frame on this thread, so no
      // caller holds a reference through which approved params could change later.
      params: (a.params ?? {}) as Record<string, unknown>,
    }));
    const seen = new Set<string>();
    for (const action of actions) {
      if (this.#liveIds.has(action.id) || seen.has(action.id)) {
        throw new RuntimeError('invalid_request', `action id ${action.id} is already in use in this session`);
      }
      seen.add(action.id);
    }
    for (const id of seen) this.#liveIds.add(id);
    this.#actionCount += actions.length;
    return actions;
  }

  /** Resolves once no step is running: a session ends only after the steps in flight. */
  #stepsSettled(): Promise<void> | undefined {
    if (this.#running === 0) return undefined;
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  #assertActive(): void {
    const inactive = this.#inactive();
    if (inactive) throw inactive;
  }

  #inactive(): RuntimeError | undefined {
    return isTerminal(this.#state)
      ? new RuntimeError('session_not_active', `session ${this.ctx.session_id} has ended (${this.#state})`)
      : undefined;
  }

  #onApprovalRequested(approval: PendingApproval): void {
    this.#refreshWaitingState();
    this.#services.notify({ type: 'supervisor.approval_requested', session: this.key, approval });
  }

  #refreshWaitingState(): void {
    if (isTerminal(this.#state)) return;
    this.#state = this.#approvals.size > 0 ? 'waiting_approval' : 'running';
  }

  /** Ends the session once: no new work, in-flight actions stopped (or awaited), then session_ended. */
  #finish(
    state: SessionState,
    error?: RuntimeError,
    { abort = true, reason }: { abort?: boolean; reason?: string } = {},
  ): Promise<void> {
    if (this.#ending) return this.#ending;
    this.#state = state;
    if (error) this.#error = error.toWire();
    clearTimeout(this.#timer);
    if (abort) {
      const reason = error ?? new RuntimeError('session_not_active');
      this.#abort.abort(reason);
      for (const run of this.#runs) run.fail(reason);
    }
    this.#ending = (async () => {
      const settled = this.#stepsSettled();
      if (settled) await settled;
      this.#deadlines.stop();
      this.#endedAt = new Date().toISOString();
      this.#chain.emit({
        event_type: 'session_ended',
        severity: state === 'completed' ? 'info' : state === 'cancelled' ? 'warning' : 'error',
        message: error ? `session ${state}: ${error.message}` : reason ? `session ${state}: ${reason}` : `session ${state}`,
        success: state === 'completed',
        error_message: error?.message ?? null,
        metadata: {
          state,
          iterations: this.#iteration,
          actions: this.#actionCount,
          error_code: error?.code ?? null,
          ...(reason !== undefined ? { reason } : {}),
          ...traceIds(this.#span),
        },
      });
      if (this.#span) {
        if (error) {
          this.#span.setAttribute('error.type', error.code);
          this.#span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        }
        this.#span.setAttribute('semibot.session.state', state).end();
      }
      this.#services.notify({
        type: 'supervisor.session_ended',
        session: this.key,
        state,
        ...(this.#error ? { error: this.#error } : {}),
      });
    })();
    return this.#ending;
  }

  /**
   * What every tool of this session sees (its sandbox directory, limits, audit hook). The
   * sandbox directory is created on first use; after that the same object is returned at once,
   * so an action does not wait a promise turn for it.
   */
  #invokeContext(): InvokeBase | Promise<InvokeBase> {
    if (this.#invokeBase) return this.#invokeBase;
    this.#sandbox ??= (async () => {
      const dir = path.join(
        this.#services.sandboxRoot,
        safeSegment(this.ctx.org_id),
        safeSegment(this.ctx.session_id),
      );
      await mkdir(dir, { recursive: true });
      return dir;
    })();
    return this.#sandbox.then((sandboxDir) => {
      this.#invokeBase ??= Object.freeze({
        sandboxDir,
        session_id: this.ctx.session_id,
        org_id: this.ctx.org_id,
        httpAllowedHosts: this.#services.httpAllowedHosts,
        executeCodeTimeoutMs: this.#services.executeCodeTimeoutMs,
        executeCodeMaxMemoryMb: this.#services.executeCodeMaxMemoryMb,
        executeCodeJail: this.#services.executeCodeJail,
        executeCodeNetwork: this.ctx.policy.execute_code_network,
        sandboxMaxBytes: this.#services.sandboxMaxBytes,
        // A copy: the chain keeps the draft until its event leaves, and the tool keeps its object.
        audit: (draft: AuditEventDraft) => this.#chain.emit({ ...draft }),
      });
      return this.#invokeBase;
    });
  }
}

/** A directory name for an id: readable part plus a hash, so distinct ids never collide. */
function safeSegment(id: string): string {
  const readable = id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48);
  return `${readable}-${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;
}

/** What a kept result costs, roughly: its JSON (UTF-16 units, 2 bytes each) and the record around it. */
function resultBytes(result: ActionResult): number {
  const value = result.success ? result.result : result.error;
  let chars = 0;
  try {
    chars = value === undefined ? 0 : (JSON.stringify(value)?.length ?? 0);
  } catch {
    // not JSON (the executor already failed such an action): count the record only
  }
  return 2 * chars + 200;
}
