/**
 * `policy replay`: what a policy directory would have done to the recorded trail. Every action
 * that reached the policy step is re-decided with the new policies and compared with what was
 * recorded; only the actions whose outcome would change are reported.
 *
 *   recorded: allowed  (action_started without an approval)
 *             approval (approval_requested: a person was asked)
 *             denied   (action_rejected with policy_denied)
 *   now:      the new policies' decision, plus the runtime policy's high-risk rule as recorded
 *             (a tool that was high-risk still asks for a person unless the policies deny it)
 *
 * Params are the recorded ones: secret-looking values were redacted before they were stored,
 * so a policy that reads them sees "[REDACTED]" here. Actions recorded before policies were in
 * use carry no iteration or risk: iteration counts as 0, risk as "high" when the high-risk rule
 * asked for approval, else "normal".
 */
import { type AuditEvent, AuditQuerySchema } from '../audit/events.ts';
import type { AuditStore } from '../audit/stores/store.ts';
import type { CedarPolicies, ToolRisk } from './cedar-policies.ts';

export type Outcome = 'allowed' | 'approval' | 'denied';

export interface ReplayChange {
  org_id: string;
  session_id: string;
  action_id: string;
  action_name: string;
  recorded: Outcome;
  now: Outcome;
  policy_ids: string[];
}

export interface ReplaySummary {
  /** actions that reached the policy step */
  replayed: number;
  changed: number;
  /** "recorded→now": count */
  by_change: Record<string, number>;
}

interface RecordedAction {
  first: AuditEvent;
  params: Record<string, unknown>;
  outcome: Outcome | undefined;
  highRisk: boolean;
  risk: ToolRisk | undefined;
  iteration: number | undefined;
}

const PAGE = 10_000;
const TYPES = ['action_started', 'action_rejected', 'approval_requested'] as const;

export async function replayPolicies(
  store: AuditStore,
  policies: CedarPolicies,
  filters: { org_id?: string; since?: string },
  report: (change: ReplayChange) => void,
): Promise<ReplaySummary> {
  const actions = new Map<string, RecordedAction>();
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.query(
      AuditQuerySchema.parse({ event_types: [...TYPES], ...filters, limit: PAGE, offset }),
    );
    for (const event of page) collect(actions, event);
    if (page.length < PAGE) break;
  }
  const summary: ReplaySummary = { replayed: 0, changed: 0, by_change: {} };
  for (const action of actions.values()) {
    if (action.outcome === undefined) continue;
    summary.replayed++;
    const e = action.first;
    const risk: ToolRisk = action.risk ?? (action.highRisk ? 'high' : 'normal');
    const decided = policies.decide({
      agent_id: e.agent_id,
      org_id: e.org_id,
      user_id: e.user_id,
      session_id: e.session_id,
      iteration: action.iteration ?? 0,
      tool: e.action_name ?? '',
      kind: (e.capability_type as 'tool' | 'skill' | 'mcp' | null) ?? 'tool',
      server: e.mcp_server_id ?? '',
      risk,
      params: action.params,
    });
    const now: Outcome =
      decided.decision === 'deny' ? 'denied' : decided.approval || action.highRisk ? 'approval' : 'allowed';
    if (now === action.outcome) continue;
    summary.changed++;
    const change = `${action.outcome}→${now}`;
    summary.by_change[change] = (summary.by_change[change] ?? 0) + 1;
    report({
      org_id: e.org_id,
      session_id: e.session_id,
      action_id: e.action_id ?? '',
      action_name: e.action_name ?? '',
      recorded: action.outcome,
      now,
      policy_ids: decided.policy_ids,
    });
  }
  return summary;
}

function collect(actions: Map<string, RecordedAction>, event: AuditEvent): void {
  if (event.action_id === null || event.action_name === null) return;
  const key = `${event.org_id.length}:${event.org_id}:${event.session_id.length}:${event.session_id}:${event.action_id}`;
  let action = actions.get(key);
  if (action === undefined) {
    action = {
      first: event,
      params: {},
      outcome: undefined,
      highRisk: false,
      risk: undefined,
      iteration: undefined,
    };
    actions.set(key, action);
  }
  const params = event.action_params;
  if (params !== null && typeof params === 'object' && !Array.isArray(params))
    action.params = params as Record<string, unknown>;
  const meta = event.metadata ?? {};
  const policy = meta.policy as { risk?: ToolRisk; iteration?: number } | undefined;
  if (policy?.risk !== undefined) action.risk = policy.risk;
  if (typeof policy?.iteration === 'number') action.iteration = policy.iteration;
  switch (event.event_type) {
    case 'approval_requested':
      action.outcome = 'approval';
      if (typeof meta.rule === 'string' && meta.rule.startsWith('policy.high_risk_tools'))
        action.highRisk = true;
      return;
    case 'action_started':
      action.outcome ??= event.requires_approval ? 'approval' : 'allowed';
      return;
    case 'action_rejected':
      // Rejected by the policies; other refusals before the policy step (unknown name, bad
      // params) never reached it, and ones after it (a denied approval) keep their outcome.
      if (meta.error_code === 'policy_denied') action.outcome = 'denied';
      else if (meta.error_code === 'approval_unavailable') action.outcome ??= 'approval';
      return;
  }
}
