/**
 * The unified execution path of one action, run inside the session actor:
 *
 *   capability graph (name known?) → params vs JSON Schema → policy (high-risk?)
 *     → approval (pause, audit, wait) → concurrency slot → run with action timeout → result
 *
 * Every step is audited, and every way out ends with exactly one terminal event for the
 * action: action_completed, action_failed or action_rejected.
 *
 * Hot path: events are built as one fixed-shape object literal (actionEvent) and then filled
 * in by assignment. Object spreads here cost several times more than the rest of the
 * action (bench/routing.bench.ts).
 */
import type { Action, ActionResult, PendingApproval, SessionContext } from '../contracts.ts';
import { RuntimeError, type WireError, toWireError, errorMessage } from '../errors.ts';
import type { SessionChain } from '../audit/emit.ts';
import type { AuditEventDraft, AuditEventType, Severity } from '../audit/events.ts';
import { canonicalJson, sha256Hex } from '../audit/hash-chain.ts';
import { type ApprovalGate, paramsHash } from './approval.ts';
import type { Capability, CapabilityGraph, InvokeContext } from './capability-graph.ts';
import { requiresApproval } from './policy.ts';
import type { CedarPolicies, ToolRisk } from '../policy/cedar-policies.ts';
import {
  type Context,
  type Span,
  SpanStatusCode,
  type Tracer,
  ROOT_CONTEXT,
  trace as otelTrace,
} from '@opentelemetry/api';
import { Tracing, traceIds } from '../telemetry/tracing.ts';
import { redactSecrets } from './redact.ts';
import { ActionRun } from './action-run.ts';
import type { RunDeadlines } from './run-deadlines.ts';
import type { Semaphore } from './semaphore.ts';

/** Results larger than this are recorded in the audit trail by hash and size only. */
const MAX_AUDITED_RESULT_CHARS = 16 * 1024;

/** What every action of a session passes its tool, apart from the action's own signal and id. */
export type InvokeBase = Readonly<Omit<InvokeContext, 'signal' | 'action_id'>>;

export interface ExecutionScope {
  ctx: SessionContext;
  graph: CapabilityGraph;
  chain: SessionChain;
  approvals: ApprovalGate;
  semaphore: Semaphore;
  /** aborted when the session times out or is cancelled; its reason is a RuntimeError */
  signal: AbortSignal;
  /** runs in progress, in the order they started; the session fails them all when it ends */
  runs: Set<ActionRun>;
  /** the action timeout of each run in `runs` */
  deadlines: RunDeadlines;
  /** capabilities already audited as validated in this session */
  validated: Set<string>;
  /** the same object for every action of the session once its sandbox exists */
  invokeContext(): InvokeBase | Promise<InvokeBase>;
  /**
   * AUDIT_DURABILITY=strict: resolves once every event emitted so far is on stable storage
   * (undefined when it already is, and always in relaxed mode).
   */
  durable(): Promise<void> | undefined;
  onApprovalRequested(approval: PendingApproval): void;
  onApprovalSettled(): void;
  /** the Cedar policies (POLICY_DIR) as loaded now (a SIGHUP may replace them); undefined: none */
  policies(): CedarPolicies | undefined;
  /** the session's iteration (the policies' context.iteration) */
  iteration(): number;
  /** traces on (OTEL_*), this session's trace sampled: the tracer and the session span's context */
  trace?: { tracer: Tracer; parent: Context };
  /**
   * traces on but this session's trace not sampled: its span, which no action span is made
   * under (every sampler decides a child of the session span as it decided the session span,
   * so they would not be recorded either); MCP calls still carry its context, sampled flag off
   */
  unsampled?: Span;
}

/** What an event records of the policy decision (metadata.policy; `policy replay` reads it back). */
interface PolicyRecord {
  decision: 'allow' | 'deny' | 'approval';
  policy_ids: string[];
  risk: ToolRisk;
  iteration: number;
}

/**
 * Runs one action. With traces on, inside an `execute_tool {name}` span (a child of the
 * session's span) whose trace and span ids go into the metadata of the action's events.
 */
export function executeAction(scope: ExecutionScope, action: Action): Promise<ActionResult> {
  const trace = scope.trace;
  if (trace === undefined) return runAction(scope, action, scope.chain, scope.unsampled);
  const span = trace.tracer.startSpan(
    `execute_tool ${action.name}`,
    {
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': action.name,
        'gen_ai.tool.call.id': action.id,
      },
    },
    trace.parent,
  );
  const ids = traceIds(span);
  const chain: AuditChain = ids
    ? {
        emit: (draft) => {
          draft.metadata = { ...draft.metadata, ...ids };
          scope.chain.emit(draft);
        },
      }
    : scope.chain;
  return runAction(scope, action, chain, span).then(
    (result) => {
      const capability = scope.graph.get(action.name);
      if (capability)
        span.setAttribute('gen_ai.tool.type', capability.kind === 'mcp' ? 'extension' : 'function');
      if (!result.success) {
        span.setAttribute('error.type', result.error?.code ?? 'internal_error');
        span.setStatus({ code: SpanStatusCode.ERROR, message: result.error?.message ?? '' });
      }
      span.end();
      return result;
    },
    (err: unknown) => {
      // Not expected (every way out is a result), but a span must never be left open.
      span.setAttribute('error.type', toWireError(err).code);
      span.setStatus({ code: SpanStatusCode.ERROR }).end();
      throw err;
    },
  );
}

/** What the execution path needs of a session's hash chain. */
type AuditChain = Pick<SessionChain, 'emit'>;

async function runAction(
  scope: ExecutionScope,
  action: Action,
  chain: AuditChain,
  span: Span | undefined,
): Promise<ActionResult> {
  const startedAt = performance.now();
  const capability = scope.graph.get(action.name);
  const auditedParams = redactSecrets(action.params);
  // Ways out before the run are module functions over one record, not closures made for every
  // action (one allocation instead of several; it no longer hinges on the tsx loader's naming).
  const out: EarlyExit = { chain, action, auditedParams, startedAt };

  // 1. The capability graph: is the name known to this session?
  if (!capability) {
    const known = scope.graph
      .summary()
      .map((c) => c.name)
      .join(', ');
    const error = new RuntimeError(
      'capability_not_found',
      `${action.name} is not a capability of this session (it has: ${known})`,
    );
    return failValidation(out, error.toWire(), undefined);
  }

  // 2. Params against the capability's JSON Schema.
  const problem = capability.validate(action.params);
  if (problem) {
    const error = new RuntimeError('invalid_params', `${action.name}: ${problem}`);
    return failValidation(out, error.toWire(), capability);
  }
  if (!scope.validated.has(capability.name)) {
    scope.validated.add(capability.name);
    const message = `capability ${capability.name} validated (first use in this session)`;
    chain.emit(actionEvent('capability_validated', 'debug', message, action, capability));
  }

  // 3. Policy: the Cedar policies (POLICY_DIR) when there are any, then the high-risk rule.
  const highRisk = requiresApproval(scope.ctx.policy, action.name);
  const policies = scope.policies();
  let policy: PolicyRecord | undefined;
  if (policies !== undefined) {
    policy = decidePolicy(policies, scope, action, capability, highRisk);
    if (policy.decision === 'deny') {
      const ids =
        policy.policy_ids.length > 0
          ? `forbidden by ${policy.policy_ids.join(', ')}`
          : 'no policy permits it';
      const error = new RuntimeError('policy_denied', `${action.name}: ${ids}`);
      return rejectAction(out, error.toWire(), capability, policy);
    }
  }
  const needsApproval = highRisk || policy?.decision === 'approval';
  let approvalMeta: Record<string, unknown> | undefined;
  if (needsApproval && scope.ctx.approvals_unavailable) {
    const error = new RuntimeError(
      'approval_unavailable',
      `${action.name} needs a person's approval, and this session has no way to ask one (the MCP client does not support elicitation)`,
    );
    return rejectAction(out, error.toWire(), capability);
  }
  if (needsApproval) {
    const { approval, outcome } = scope.approvals.request(
      action,
      scope.ctx.policy.approval_timeout_seconds,
      scope.signal,
    );
    const requested = actionEvent(
      'approval_requested',
      'warning',
      `high-risk action ${action.name} waits for approval`,
      action,
      capability,
    );
    requested.action_params = auditedParams;
    requested.requires_approval = true;
    requested.metadata = {
      params_hash: approval.params_hash,
      expires_at: approval.expires_at,
      rule: highRisk
        ? `policy.high_risk_tools includes ${action.name}`
        : `@approval("required") on ${policy!.policy_ids.join(', ')}`,
      ...(policy ? { policy } : {}),
    };
    chain.emit(requested);
    scope.onApprovalRequested({ ...approval, params: auditedParams as Record<string, unknown> });
    // The wait for a person, visible in the trace as a span of its own.
    const waiting = span && scope.trace
      ? scope.trace.tracer.startSpan(
          `await_approval ${action.name}`,
          { attributes: { 'semibot.approval.params_hash': approval.params_hash } },
          contextWithSpan(span),
        )
      : undefined;
    let decided: Awaited<typeof outcome>;
    try {
      decided = await outcome;
    } catch (err) {
      scope.onApprovalSettled();
      waiting?.setStatus({ code: SpanStatusCode.ERROR }).end();
      return rejectAction(out, toWireError(err), capability);
    }
    scope.onApprovalSettled();
    waiting
      ?.setAttributes({
        'semibot.approval.granted': decided.granted,
        'semibot.approval.timed_out': decided.timed_out,
        'semibot.approval.decided_by': decided.decided_by,
      })
      .end();
    approvalMeta = {
      decided_by: decided.decided_by,
      decided_at: decided.decided_at,
      reason: decided.reason,
      params_hash: decided.params_hash,
      timed_out: decided.timed_out,
    };
    const message = decided.granted
      ? `${decided.decided_by} approved ${action.name}`
      : decided.timed_out
        ? `approval of ${action.name} timed out; denied`
        : `${decided.decided_by} denied ${action.name}`;
    const verdict = actionEvent(
      decided.granted ? 'approval_granted' : 'approval_denied',
      decided.granted ? 'info' : 'warning',
      message,
      action,
      capability,
    );
    verdict.requires_approval = true;
    verdict.approval_granted = decided.granted;
    verdict.metadata = approvalMeta;
    chain.emit(verdict);
    if (!decided.granted) {
      const error = decided.timed_out
        ? new RuntimeError('approval_timeout', decided.reason ?? undefined).toWire()
        : new RuntimeError(
            'approval_denied',
            decided.reason ? `denied: ${decided.reason}` : undefined,
          ).toWire();
      return rejectAction(out, error, capability);
    }
    // The grant covers exactly these params; nothing can have changed them, but check anyway.
    if (paramsHash(action.params) !== decided.params_hash) {
      return rejectAction(out, new RuntimeError('approval_params_mismatch').toWire(), capability);
    }
  }

  // 4. A concurrency slot (not held while waiting for a person).
  try {
    const wait = scope.semaphore.acquire(scope.signal);
    if (wait) await wait;
  } catch (err) {
    return rejectAction(out, toWireError(err), capability);
  }

  // 5. Run, bounded by the action timeout and the session's end.
  const run = new ActionRun(action.name);
  if (scope.signal.aborted) run.fail(scope.signal.reason);
  scope.runs.add(run);
  scope.deadlines.watch();

  const started = actionEvent('action_started', 'info', `action ${action.name} started`, action, capability);
  started.action_params = auditedParams;
  started.requires_approval = needsApproval;
  started.approval_granted = needsApproval ? true : null;
  if (policy) started.metadata = { policy };
  chain.emit(started);
  // Strict durability: what is about to change the world is on record before it does.
  if (!capability.readOnly) {
    const stored = scope.durable();
    if (stored) await stored;
  }
  const runStartedAt = performance.now();
  let value: unknown;
  let failure: WireError | undefined;
  try {
    const pending = scope.invokeContext();
    const base = pending instanceof Promise ? await pending : pending;
    const invokeContext = new ActionContext(base, run, action.id, span);
    value = await run.race(capability.invoke(action.params, invokeContext));
  } catch (err) {
    failure = toWireError(err, capability.kind === 'skill' ? 'skill_error' : 'tool_error');
  } finally {
    run.finish();
    scope.runs.delete(run);
    scope.semaphore.release();
  }
  const duration = roundMs(performance.now() - runStartedAt);
  const metadata = resultMetadata(capability, approvalMeta);

  if (!failure) {
    const e = actionEvent('action_completed', 'info', `action ${action.name} completed`, action, capability);
    e.success = true;
    e.duration_ms = duration;
    e.requires_approval = needsApproval;
    e.approval_granted = needsApproval ? true : null;
    try {
      e.metadata = { result: auditedResult(value) };
      chain.emit(e);
      return {
        action_id: action.id,
        name: action.name,
        success: true,
        result: value,
        duration_ms: duration,
        metadata,
      };
    } catch (err) {
      // A result that cannot be recorded (a BigInt, a cycle) cannot be returned either: the
      // action fails, and its trail says why.
      failure = toWireError(
        new RuntimeError(
          capability.kind === 'skill' ? 'skill_error' : 'tool_error',
          `the ${capability.kind} returned a value that is not JSON: ${errorMessage(err)}`,
        ),
      );
    }
  }
  const e = actionEvent(
    'action_failed',
    'error',
    `action ${action.name} failed: ${failure.message}`,
    action,
    capability,
  );
  e.success = false;
  e.error_message = failure.message;
  e.duration_ms = duration;
  e.requires_approval = needsApproval;
  e.approval_granted = needsApproval ? true : null;
  e.metadata = { error_code: failure.code };
  chain.emit(e);
  return {
    action_id: action.id,
    name: action.name,
    success: false,
    error: failure,
    duration_ms: duration,
    metadata,
  };
}

interface EarlyExit {
  chain: AuditChain;
  action: Action;
  auditedParams: unknown;
  startedAt: number;
}

function rejectAction(
  x: EarlyExit,
  error: WireError,
  cap: Capability | undefined,
  policy?: PolicyRecord,
): ActionResult {
  const { action } = x;
  const elapsed = roundMs(performance.now() - x.startedAt);
  const e = actionEvent(
    'action_rejected',
    'warning',
    `action ${action.name} rejected: ${error.message}`,
    action,
    cap,
  );
  e.action_params = x.auditedParams;
  e.success = false;
  e.error_message = error.message;
  e.duration_ms = elapsed;
  e.metadata = policy ? { error_code: error.code, policy } : { error_code: error.code };
  x.chain.emit(e);
  return { action_id: action.id, name: action.name, success: false, error, duration_ms: elapsed };
}

function failValidation(x: EarlyExit, error: WireError, cap: Capability | undefined): ActionResult {
  const e = actionEvent('capability_validation_failed', 'warning', error.message, x.action, cap);
  e.action_params = x.auditedParams;
  e.success = false;
  e.error_message = error.message;
  e.metadata = { error_code: error.code };
  x.chain.emit(e);
  return rejectAction(x, error, cap);
}

/** A draft with every field present, so every event of the hot path shares one shape. */
function actionEvent(
  type: AuditEventType,
  severity: Severity,
  message: string,
  action: Action,
  cap: Capability | undefined,
): AuditEventDraft {
  return {
    event_type: type,
    severity,
    message,
    action_id: action.id,
    action_name: action.name,
    action_params: null,
    capability_type: cap ? cap.kind : null,
    capability_source: cap ? cap.source : null,
    capability_version: cap ? cap.version : null,
    mcp_server_id: cap?.mcpServer ? cap.mcpServer.id : null,
    mcp_server_name: cap?.mcpServer ? cap.mcpServer.name : null,
    success: null,
    error_message: null,
    duration_ms: null,
    requires_approval: null,
    approval_granted: null,
    metadata: {},
  };
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function resultMetadata(
  cap: Capability,
  approval: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    capability_kind: cap.kind,
    capability_source: cap.source,
    capability_version: cap.version,
  };
  if (cap.mcpServer) meta.mcp_server = cap.mcpServer;
  if (approval) meta.approval = approval;
  return meta;
}

function auditedResult(value: unknown): unknown {
  const redacted = redactSecrets(value);
  if (redacted === undefined || redacted === null) return null;
  // A long string is as large as a large object: both are bounded (short scalars as they are).
  const long = typeof redacted === 'string' && redacted.length > MAX_AUDITED_RESULT_CHARS;
  if (typeof redacted !== 'object' && !long) return redacted;
  // Measured by its plain JSON (native, and the same text as the canonical form up to key
  // order); the canonical text is made only for a result that is recorded by its hash.
  const json = JSON.stringify(redacted);
  if (json === undefined || json.length <= MAX_AUDITED_RESULT_CHARS) return redacted;
  const text = canonicalJson(redacted);
  return { truncated: true, chars: text.length, sha256: sha256Hex(text) };
}

/**
 * What a tool sees of its action: the session's base plus this run's signal, cancel hook and
 * id. A class, so each action allocates one small object; an object literal with a getter and
 * a method allocated two closures more per action (now made only for a tool that asks).
 */
class ActionContext implements InvokeContext {
  readonly sandboxDir: string;
  readonly session_id: string;
  readonly org_id: string;
  readonly httpAllowedHosts: readonly string[];
  readonly executeCodeTimeoutMs: number;
  readonly executeCodeMaxMemoryMb: number;
  readonly executeCodeJail: InvokeBase['executeCodeJail'];
  readonly executeCodeNetwork: boolean;
  readonly sandboxMaxBytes: number;
  readonly audit: InvokeBase['audit'];
  readonly action_id: string;
  readonly #span: Span | undefined;
  readonly #run: ActionRun;

  /** the action's span as a traceparent, made only when a tool asks (MCP calls) */
  get traceparent(): string | undefined {
    return this.#span ? Tracing.traceparent(this.#span) : undefined;
  }

  constructor(base: InvokeBase, run: ActionRun, actionId: string, span: Span | undefined) {
    this.#span = span;
    this.sandboxDir = base.sandboxDir;
    this.session_id = base.session_id;
    this.org_id = base.org_id;
    this.httpAllowedHosts = base.httpAllowedHosts;
    this.executeCodeTimeoutMs = base.executeCodeTimeoutMs;
    this.executeCodeMaxMemoryMb = base.executeCodeMaxMemoryMb;
    this.executeCodeJail = base.executeCodeJail;
    this.executeCodeNetwork = base.executeCodeNetwork;
    this.sandboxMaxBytes = base.sandboxMaxBytes;
    this.audit = base.audit;
    this.#run = run;
    this.action_id = actionId;
  }

  get signal(): AbortSignal {
    return this.#run.signal;
  }

  /** A function of its own (callers may keep it apart from this object), made when asked for. */
  get onCancel(): (listener: (reason: unknown) => void) => () => void {
    const run = this.#run;
    return (listener) => run.onCancel(listener);
  }
}

/**
 * The Cedar decision for one action. A policy engine that fails (not expected: it only sees
 * requests built here) denies: no action runs unchecked.
 */
function decidePolicy(
  policies: CedarPolicies,
  scope: ExecutionScope,
  action: Action,
  capability: Capability,
  highRisk: boolean,
): PolicyRecord {
  const risk: ToolRisk = highRisk ? 'high' : capability.readOnly ? 'read_only' : 'normal';
  const iteration = scope.iteration();
  try {
    const decided = policies.decide({
      agent_id: scope.ctx.agent_id,
      org_id: scope.ctx.org_id,
      user_id: scope.ctx.user_id,
      session_id: scope.ctx.session_id,
      iteration,
      tool: action.name,
      kind: capability.kind,
      server: capability.mcpServer?.id ?? '',
      risk,
      params: action.params,
    });
    const decision = decided.decision === 'deny' ? 'deny' : decided.approval ? 'approval' : 'allow';
    return { decision, policy_ids: decided.policy_ids, risk, iteration };
  } catch (err) {
    return { decision: 'deny', policy_ids: [`(policy engine error: ${errorMessage(err)})`], risk, iteration };
  }
}

function contextWithSpan(span: Span): Context {
  return otelTrace.setSpan(ROOT_CONTEXT, span);
}
