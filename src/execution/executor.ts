/**
 * The unified execution path of one action, run inside the session actor:
 *
 *   capability graph (name known?) → params vs JSON Schema → policy (high-risk?)
 *     → approval (pause, audit, wait) → concurrency slot → run with action timeout → result
 *
 * Every step is audited, and every way out ends with exactly one terminal event for the
 * action: action_completed, action_failed or action_rejected.
 */
import type { Action, ActionResult, PendingApproval, SessionContext } from '../contracts.ts';
import { RuntimeError, type WireError, toWireError } from '../errors.ts';
import type { SessionChain } from '../audit/emit.ts';
import type { AuditEventDraft } from '../audit/events.ts';
import { canonicalJson, sha256Hex } from '../audit/hash-chain.ts';
import { type ApprovalGate, paramsHash } from './approval.ts';
import type { Capability, CapabilityGraph, InvokeContext } from './capability-graph.ts';
import { requiresApproval } from './policy.ts';
import { redactSecrets } from './redact.ts';
import type { Semaphore } from './semaphore.ts';

/** Results larger than this are recorded in the audit trail by hash and size only. */
const MAX_AUDITED_RESULT_CHARS = 16 * 1024;

export interface ExecutionScope {
  ctx: SessionContext;
  graph: CapabilityGraph;
  chain: SessionChain;
  approvals: ApprovalGate;
  semaphore: Semaphore;
  /** aborted when the session times out or is cancelled; its reason is a RuntimeError */
  signal: AbortSignal;
  /** capabilities already audited as validated in this session */
  validated: Set<string>;
  invokeContext(): Promise<Omit<InvokeContext, 'signal'>>;
  onApprovalRequested(approval: PendingApproval): void;
  onApprovalSettled(): void;
}

export async function executeAction(scope: ExecutionScope, action: Action): Promise<ActionResult> {
  const startedAt = performance.now();
  const { chain } = scope;
  const capability = scope.graph.get(action.name);
  const auditedParams = redactSecrets(action.params);
  const base = { action_id: action.id, action_name: action.name } as const;
  const elapsed = () => Math.round((performance.now() - startedAt) * 1000) / 1000;

  const reject = (error: WireError, cap?: Capability): ActionResult => {
    chain.emit({
      ...base,
      ...capabilityFields(cap),
      event_type: 'action_rejected',
      severity: 'warning',
      message: `action ${action.name} rejected: ${error.message}`,
      action_params: auditedParams,
      success: false,
      error_message: error.message,
      duration_ms: elapsed(),
      metadata: { error_code: error.code },
    });
    return { action_id: action.id, name: action.name, success: false, error, duration_ms: elapsed() };
  };

  // 1. The capability graph: is the name known to this session?
  if (!capability) {
    const error = new RuntimeError(
      'capability_not_found',
      `${action.name} is not a capability of this session (it has: ${scope.graph
        .summary()
        .map((c) => c.name)
        .join(', ')})`,
    ).toWire();
    chain.emit(validationFailed(base, auditedParams, error));
    return reject(error);
  }

  // 2. Params against the capability's JSON Schema.
  const problem = capability.validate(action.params);
  if (problem) {
    const error = new RuntimeError('invalid_params', `${action.name}: ${problem}`).toWire();
    chain.emit({ ...validationFailed(base, auditedParams, error), ...capabilityFields(capability) });
    return reject(error, capability);
  }
  if (!scope.validated.has(capability.name)) {
    scope.validated.add(capability.name);
    chain.emit({
      ...base,
      ...capabilityFields(capability),
      event_type: 'capability_validated',
      severity: 'debug',
      message: `capability ${capability.name} validated (first use in this session)`,
      metadata: {},
    });
  }

  // 3. Policy and approval.
  const needsApproval = requiresApproval(scope.ctx.policy, action.name);
  let approvalMeta: Record<string, unknown> | undefined;
  if (needsApproval) {
    const { approval, outcome } = scope.approvals.request(
      action,
      scope.ctx.policy.approval_timeout_seconds,
      scope.signal,
    );
    chain.emit({
      ...base,
      ...capabilityFields(capability),
      event_type: 'approval_requested',
      severity: 'warning',
      message: `high-risk action ${action.name} waits for approval`,
      action_params: auditedParams,
      requires_approval: true,
      metadata: { params_hash: approval.params_hash, expires_at: approval.expires_at },
    });
    scope.onApprovalRequested({ ...approval, params: auditedParams as Record<string, unknown> });
    let decided: Awaited<typeof outcome>;
    try {
      decided = await outcome;
    } catch (err) {
      scope.onApprovalSettled();
      return reject(toWireError(err), capability);
    }
    scope.onApprovalSettled();
    approvalMeta = {
      decided_by: decided.decided_by,
      decided_at: decided.decided_at,
      reason: decided.reason,
      params_hash: decided.params_hash,
      timed_out: decided.timed_out,
    };
    chain.emit({
      ...base,
      ...capabilityFields(capability),
      event_type: decided.granted ? 'approval_granted' : 'approval_denied',
      severity: decided.granted ? 'info' : 'warning',
      message: decided.granted
        ? `${decided.decided_by} approved ${action.name}`
        : decided.timed_out
          ? `approval of ${action.name} timed out; denied`
          : `${decided.decided_by} denied ${action.name}`,
      requires_approval: true,
      approval_granted: decided.granted,
      metadata: approvalMeta,
    });
    if (!decided.granted) {
      const error = decided.timed_out
        ? new RuntimeError('approval_timeout', decided.reason ?? undefined).toWire()
        : new RuntimeError('approval_denied', decided.reason ? `denied: ${decided.reason}` : undefined).toWire();
      return reject(error, capability);
    }
    // The grant covers exactly these params; they are a private copy, but check anyway.
    if (paramsHash(action.params) !== decided.params_hash) {
      return reject(new RuntimeError('approval_params_mismatch').toWire(), capability);
    }
  }

  // 4. A concurrency slot (not held while waiting for a person).
  try {
    await scope.semaphore.acquire(scope.signal);
  } catch (err) {
    return reject(toWireError(err), capability);
  }

  // 5. Run, bounded by the action timeout and the session's signal.
  const timeoutMs = scope.ctx.policy.action_timeout_seconds * 1000;
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new RuntimeError('action_timeout', `${action.name} exceeded ${timeoutMs / 1000} s`)),
    timeoutMs,
  );
  const onSessionAbort = () => controller.abort(scope.signal.reason);
  if (scope.signal.aborted) onSessionAbort();
  else scope.signal.addEventListener('abort', onSessionAbort, { once: true });

  chain.emit({
    ...base,
    ...capabilityFields(capability),
    event_type: 'action_started',
    message: `action ${action.name} started`,
    action_params: auditedParams,
    requires_approval: needsApproval,
    approval_granted: needsApproval ? true : null,
    metadata: {},
  });
  const runStartedAt = performance.now();
  try {
    const invokeContext = await scope.invokeContext();
    const value = await raceAbort(
      capability.invoke(action.params, { ...invokeContext, signal: controller.signal }),
      controller.signal,
    );
    const duration = Math.round((performance.now() - runStartedAt) * 1000) / 1000;
    chain.emit({
      ...base,
      ...capabilityFields(capability),
      event_type: 'action_completed',
      message: `action ${action.name} completed`,
      success: true,
      duration_ms: duration,
      requires_approval: needsApproval,
      approval_granted: needsApproval ? true : null,
      metadata: { result: auditedResult(value) },
    });
    return {
      action_id: action.id,
      name: action.name,
      success: true,
      result: value,
      duration_ms: duration,
      metadata: resultMetadata(capability, approvalMeta),
    };
  } catch (err) {
    const error = toWireError(err, capability.kind === 'skill' ? 'skill_error' : 'tool_error');
    const duration = Math.round((performance.now() - runStartedAt) * 1000) / 1000;
    chain.emit({
      ...base,
      ...capabilityFields(capability),
      event_type: 'action_failed',
      severity: 'error',
      message: `action ${action.name} failed: ${error.message}`,
      success: false,
      error_message: error.message,
      duration_ms: duration,
      requires_approval: needsApproval,
      approval_granted: needsApproval ? true : null,
      metadata: { error_code: error.code },
    });
    return {
      action_id: action.id,
      name: action.name,
      success: false,
      error,
      duration_ms: duration,
      metadata: resultMetadata(capability, approvalMeta),
    };
  } finally {
    clearTimeout(timer);
    scope.signal.removeEventListener('abort', onSessionAbort);
    scope.semaphore.release();
  }
}

function capabilityFields(cap: Capability | undefined): Partial<AuditEventDraft> {
  if (!cap) return {};
  return {
    capability_type: cap.kind,
    capability_source: cap.source,
    capability_version: cap.version,
    mcp_server_id: cap.mcpServer?.id ?? null,
    mcp_server_name: cap.mcpServer?.name ?? null,
  };
}

function validationFailed(
  base: { action_id: string; action_name: string },
  params: unknown,
  error: WireError,
): AuditEventDraft {
  return {
    ...base,
    event_type: 'capability_validation_failed',
    severity: 'warning',
    message: error.message,
    action_params: params,
    success: false,
    error_message: error.message,
    metadata: { error_code: error.code },
  };
}

function resultMetadata(cap: Capability, approval: Record<string, unknown> | undefined): Record<string, unknown> {
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
  const text = canonicalJson(redacted ?? null);
  if (text.length <= MAX_AUDITED_RESULT_CHARS) return redacted ?? null;
  return { truncated: true, chars: text.length, sha256: sha256Hex(text) };
}

/** Settles with the promise, or rejects with the signal's reason as soon as it aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
