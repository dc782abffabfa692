/**
 * The approvals inbox (issue 18; src/review/ is what approvers and reviewers read): every approval an org's sessions asked for, read from the
 * audit trail, which is where approvals are recorded for good (in every store, on every node,
 * across restarts). An approval's id is the event_id of its `approval_requested` event.
 *
 *   approval_requested ──► pending ──approval_granted──► granted
 *                                  ├─approval_denied────► denied (expired when it timed out)
 *                                  └─the session or action ended without a decision ──► expired
 *
 * Deciding goes through the session protocol like any approval (Session.approve): a decision
 * by the console, the API or a script leaves the same events.
 */
import { z } from 'zod';
import type { AuditEvent } from '../audit/events.ts';
import { RuntimeError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';

export const APPROVAL_STATES = ['pending', 'granted', 'denied', 'expired'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** The audit trail is read in pages of this many events. */
const PAGE = 5_000;

export const ApprovalFiltersSchema = z.strictObject({
  state: z.enum(APPROVAL_STATES).optional(),
  session_id: z.string().min(1).optional(),
  agent_id: z.string().min(1).optional(),
  limit: z.number().int().min(1).max(1_000).default(100),
});
export type ApprovalFilters = z.infer<typeof ApprovalFiltersSchema>;

export interface ApprovalView {
  approval_id: string;
  org_id: string;
  session_id: string;
  agent_id: string;
  user_id: string;
  action_id: string;
  action_name: string;
  /** as audited: secrets redacted */
  params: unknown;
  params_hash: string | null;
  /** why a person must decide (the policy rule) */
  reason: string;
  requested_at: string;
  expires_at: string | null;
  state: ApprovalState;
  decided_by?: string;
  decided_at?: string;
  decision_reason?: string;
}

/** The org's approvals, newest first, filtered. */
export async function listApprovals(
  runtime: Runtime,
  orgId: string | undefined,
  filters: ApprovalFilters,
): Promise<ApprovalView[]> {
  const scope = {
    ...(orgId !== undefined ? { org_id: orgId } : {}),
    ...(filters.session_id !== undefined ? { session_id: filters.session_id } : {}),
    ...(filters.agent_id !== undefined ? { agent_id: filters.agent_id } : {}),
  };
  const requested = await readAll(runtime, { ...scope, event_types: ['approval_requested'] });
  const decisions = await readAll(runtime, {
    ...scope,
    event_types: ['approval_granted', 'approval_denied'],
  });
  const decisionOf = new Map(decisions.map((e) => [approvalKey(e), e]));
  const views: ApprovalView[] = [];
  for (const event of requested.reverse()) {
    const view = await viewOf(runtime, event, decisionOf.get(approvalKey(event)));
    if (filters.state !== undefined && view.state !== filters.state) continue;
    views.push(view);
    if (views.length >= filters.limit) break;
  }
  return views;
}

/** One approval of the org, or approval_not_found (another org's is never found). */
export async function findApproval(
  runtime: Runtime,
  orgId: string | undefined,
  approvalId: string,
): Promise<ApprovalView> {
  const [event] = await runtime.audit.query({
    ...(orgId !== undefined ? { org_id: orgId } : {}),
    event_id: approvalId,
    event_types: ['approval_requested'],
    limit: 1,
  });
  if (!event) throw new RuntimeError('approval_not_found', `no approval ${approvalId}`);
  const [decision] = await runtime.audit
    .query({
      org_id: event.org_id,
      session_id: event.session_id,
      event_types: ['approval_granted', 'approval_denied'],
      limit: 10_000,
    })
    .then((found) => found.filter((e) => e.action_id === event.action_id));
  return viewOf(runtime, event, decision);
}

/**
 * Decides an approval. Anything but a pending one (decided, expired, its session gone) is 409
 * approval_closed, so deciding twice never changes what happened.
 */
export async function decideApproval(
  runtime: Runtime,
  orgId: string | undefined,
  approvalId: string,
  decision: { granted: boolean; reason?: string; decided_by: string },
): Promise<ApprovalView> {
  const approval = await findApproval(runtime, orgId, approvalId);
  if (approval.state !== 'pending') {
    throw new RuntimeError('approval_closed', `approval ${approvalId} is ${approval.state}`, {
      state: approval.state,
    });
  }
  try {
    const session = runtime.session(approval.session_id, approval.org_id);
    await session.approve(approval.action_id, decision.granted, {
      decided_by: decision.decided_by,
      ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
      ...(approval.params_hash ? { params_hash: approval.params_hash } : {}),
    });
  } catch (err) {
    // Decided or expired between the read and the decision: closed, not missing.
    if (
      err instanceof RuntimeError &&
      ['approval_not_found', 'session_not_found', 'session_not_active'].includes(err.code)
    ) {
      throw new RuntimeError(
        'approval_closed',
        `approval ${approvalId} closed before this decision (${err.code})`,
      );
    }
    throw err;
  }
  return findApproval(runtime, orgId, approvalId);
}

async function viewOf(
  runtime: Runtime,
  requested: AuditEvent,
  decision: AuditEvent | undefined,
): Promise<ApprovalView> {
  const meta = (requested.metadata ?? {}) as Record<string, unknown>;
  const view: ApprovalView = {
    approval_id: requested.event_id,
    org_id: requested.org_id,
    session_id: requested.session_id,
    agent_id: requested.agent_id,
    user_id: requested.user_id,
    action_id: requested.action_id ?? '',
    action_name: requested.action_name ?? '',
    params: requested.action_params,
    params_hash: typeof meta.params_hash === 'string' ? meta.params_hash : null,
    reason:
      typeof meta.rule === 'string'
        ? meta.rule
        : `${requested.action_name} is a high-risk tool (policy.high_risk_tools)`,
    requested_at: requested.timestamp,
    expires_at: typeof meta.expires_at === 'string' ? meta.expires_at : null,
    state: 'pending',
  };
  if (decision) {
    const d = (decision.metadata ?? {}) as Record<string, unknown>;
    view.state = decision.approval_granted ? 'granted' : d.timed_out ? 'expired' : 'denied';
    if (typeof d.decided_by === 'string') view.decided_by = d.decided_by;
    if (typeof d.decided_at === 'string') view.decided_at = d.decided_at;
    if (typeof d.reason === 'string') view.decision_reason = d.reason;
    return view;
  }
  // No decision recorded: pending while its session still waits for it, else it lapsed.
  if (!(await stillWaiting(runtime, view))) view.state = 'expired';
  return view;
}

async function stillWaiting(
  runtime: Runtime,
  view: { org_id: string; session_id: string; action_id: string },
): Promise<boolean> {
  try {
    const status = await runtime.session(view.session_id, view.org_id).status();
    return status.pending_approvals.some((a) => a.action_id === view.action_id);
  } catch {
    return false;
  }
}

const approvalKey = (e: AuditEvent) =>
  `${e.org_id.length}:${e.org_id}:${e.session_id.length}:${e.session_id}:${e.action_id ?? ''}`;

async function readAll(
  runtime: Runtime,
  query: Parameters<Runtime['audit']['query']>[0],
): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await runtime.audit.query({ ...query, limit: PAGE, offset });
    all.push(...page);
    if (page.length < PAGE) return all;
  }
}
