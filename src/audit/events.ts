/**
 * The audit event: every type and field of the SPEC. `seq`, `prev_hash` and `hash` make
 * each session's trail a hash chain (see hash-chain.ts).
 */
import { z } from 'zod';

export const AUDIT_EVENT_TYPES = [
  'session_started',
  'session_ended',
  'action_started',
  'action_completed',
  'action_failed',
  'action_rejected',
  'capability_validated',
  'capability_validation_failed',
  'approval_requested',
  'approval_granted',
  'approval_denied',
  'mcp_connected',
  'mcp_disconnected',
  'mcp_call_started',
  'mcp_call_completed',
  'mcp_call_failed',
  'error',
  /** the policy directory was (re)loaded: metadata {dir, policies, policy_ids} */
  'policy_loaded',
  /** a reload was refused (the old policies stay): metadata {dir, error} */
  'policy_load_failed',
  /**
   * a catalogue MCP server presents a tool whose definition differs from the pinned one: the
   * tool is withheld until `mcp pins accept`; metadata {server_id, tool, pinned_hash, seen_hash}
   */
  'mcp_tool_changed',
] as const;

export const AuditEventTypeSchema = z.enum(AUDIT_EVENT_TYPES);
export type AuditEventType = z.infer<typeof AuditEventTypeSchema>;

/** The events that end an action, and the outcome each records (what action metrics count). */
export const ACTION_OUTCOMES: Partial<Record<AuditEventType, ActionStatus>> = {
  action_completed: 'success',
  action_failed: 'failure',
  action_rejected: 'rejected',
};

export type ActionStatus = 'success' | 'failure' | 'rejected';

/** How an action ended, as action metrics count it. */
export interface ActionOutcome {
  status: ActionStatus;
  /** the action's name; UNKNOWN_ACTION when it named no known capability */
  name: string;
  duration_ms: number | null;
}

/** The name counted for actions that named no known capability (made-up names would be unbounded label values). */
export const UNKNOWN_ACTION = '(unknown)';

/** The outcome an event records, or undefined when it does not end an action. */
export function actionOutcome(
  event: Pick<AuditEvent, 'event_type' | 'action_name' | 'capability_type' | 'duration_ms'>,
): ActionOutcome | undefined {
  const status = ACTION_OUTCOMES[event.event_type];
  if (!status) return undefined;
  // A rejected action with no capability fields named no known capability.
  const name =
    status === 'rejected' && event.capability_type === null ? UNKNOWN_ACTION : (event.action_name ?? UNKNOWN_ACTION);
  return { status, name, duration_ms: event.duration_ms };
}

export const SeveritySchema = z.enum(['debug', 'info', 'warning', 'error', 'critical']);
export type Severity = z.infer<typeof SeveritySchema>;

const nullableString = z.string().nullable();

export const AuditEventSchema = z.object({
  event_id: z.uuid(),
  event_type: AuditEventTypeSchema,
  timestamp: z.iso.datetime(),
  org_id: z.string(),
  user_id: z.string(),
  agent_id: z.string(),
  session_id: z.string(),
  severity: SeveritySchema,
  message: z.string(),
  action_id: nullableString,
  action_name: nullableString,
  action_params: z.unknown().nullable(),
  capability_type: nullableString,
  capability_source: nullableString,
  capability_version: nullableString,
  mcp_server_id: nullableString,
  mcp_server_name: nullableString,
  success: z.boolean().nullable(),
  error_message: nullableString,
  duration_ms: z.number().nullable(),
  requires_approval: z.boolean().nullable(),
  approval_granted: z.boolean().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  seq: z.number().int().nonnegative(),
  prev_hash: z.string(),
  hash: z.string(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

/** The fields in the order the canonical encoding uses (everything but `hash`). */
export const HASHED_FIELDS = [
  'event_id',
  'event_type',
  'timestamp',
  'org_id',
  'user_id',
  'agent_id',
  'session_id',
  'severity',
  'message',
  'action_id',
  'action_name',
  'action_params',
  'capability_type',
  'capability_source',
  'capability_version',
  'mcp_server_id',
  'mcp_server_name',
  'success',
  'error_message',
  'duration_ms',
  'requires_approval',
  'approval_granted',
  'metadata',
  'seq',
  'prev_hash',
] as const satisfies readonly (keyof AuditEvent)[];

/** What a producer supplies; the rest (ids, time, chain) is filled in by emit.ts. */
export type AuditEventDraft = Pick<AuditEvent, 'event_type' | 'message'> &
  Partial<Omit<AuditEvent, 'event_type' | 'message' | 'event_id' | 'timestamp' | 'seq' | 'prev_hash' | 'hash'>>;

export const AuditQuerySchema = z.strictObject({
  /** one event (an approval's id is its approval_requested event's id) */
  event_id: z.string().optional(),
  org_id: z.string().optional(),
  user_id: z.string().optional(),
  agent_id: z.string().optional(),
  session_id: z.string().optional(),
  event_types: z.array(AuditEventTypeSchema).optional(),
  success: z.boolean().optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.number().int().positive().max(10_000).default(100),
  offset: z.number().int().nonnegative().default(0),
});
export type AuditQuery = z.input<typeof AuditQuerySchema>;
export type AuditQueryParsed = z.infer<typeof AuditQuerySchema>;

export const GENESIS_HASH = '0'.repeat(64);
