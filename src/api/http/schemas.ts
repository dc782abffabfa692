/**
 * Request shapes of the HTTP API that are not already in src/contracts.ts (the session
 * body, actions and approvals are). Query strings arrive as text and are coerced here.
 */
import { z } from 'zod';
import { ActionSchema, SessionStateSchema } from '../../contracts.ts';
import { AuditEventTypeSchema } from '../../audit/events.ts';
import { APPROVAL_STATES } from '../../review/approvals.ts';

/** The most actions one POST /v1/sessions/:id/actions may carry. */
export const MAX_BATCH = 1000;

/** POST /v1/sessions/:id/actions takes a bare array or {actions: [...]} */
export const ActionBatchSchema = z.union([
  z.array(ActionSchema).min(1).max(MAX_BATCH),
  z.strictObject({ actions: z.array(ActionSchema).min(1).max(MAX_BATCH) }).transform((b) => b.actions),
]);

export const ApprovalBodySchema = z.strictObject({
  granted: z.boolean(),
  reason: z.string().max(10_000).optional(),
  params_hash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});

const one = (v: unknown) => (Array.isArray(v) ? v.at(-1) : v);
const intText = (max: number) =>
  z.preprocess(
    one,
    z
      .string()
      .regex(/^\d+$/, 'expected a whole number')
      .transform(Number)
      .pipe(z.number().int().min(0).max(max)),
  );

/** GET /v1/audit/events and /v1/audit/count */
export const AuditQueryParamsSchema = z.strictObject({
  event_id: z.preprocess(one, z.string().min(1).max(200)).optional(),
  org_id: z.preprocess(one, z.string().min(1)).optional(),
  user_id: z.preprocess(one, z.string().min(1)).optional(),
  agent_id: z.preprocess(one, z.string().min(1)).optional(),
  session_id: z.preprocess(one, z.string().min(1)).optional(),
  event_type: z
    .preprocess(
      (v) => (Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(',')),
      z.array(AuditEventTypeSchema),
    )
    .optional(),
  success: z
    .preprocess(
      one,
      z.enum(['true', 'false']).transform((s) => s === 'true'),
    )
    .optional(),
  since: z.preprocess(one, z.iso.datetime({ offset: true })).optional(),
  until: z.preprocess(one, z.iso.datetime({ offset: true })).optional(),
  limit: intText(10_000).pipe(z.number().min(1, 'limit must be at least 1')).optional(),
  offset: intText(Number.MAX_SAFE_INTEGER).optional(),
});

/** GET /v1/approvals */
export const ApprovalListParamsSchema = z.strictObject({
  state: z.preprocess(one, z.enum(APPROVAL_STATES)).optional(),
  session_id: z.preprocess(one, z.string().min(1).max(200)).optional(),
  agent_id: z.preprocess(one, z.string().min(1).max(200)).optional(),
  limit: intText(1_000).pipe(z.number().min(1, 'limit must be at least 1')).optional(),
});

/** POST /v1/approvals/:approval_id (bound to the params the approval was asked for: no params_hash here) */
export const ApprovalDecisionBodySchema = z.strictObject({
  granted: z.boolean(),
  reason: z.string().max(10_000).optional(),
});

/** GET /v1/sessions */
export const SessionListParamsSchema = z.strictObject({
  state: z.preprocess(one, SessionStateSchema).optional(),
  agent_id: z.preprocess(one, z.string().min(1).max(200)).optional(),
  limit: intText(500).pipe(z.number().min(1, 'limit must be at least 1')).optional(),
  cursor: z.preprocess(one, z.string().min(1).max(500)).optional(),
});

/** GET /v1/events (Server-Sent Events) */
export const EventStreamParamsSchema = z.strictObject({
  session_id: z.preprocess(one, z.string().min(1).max(200)).optional(),
  agent_id: z.preprocess(one, z.string().min(1).max(200)).optional(),
  event_type: z
    .preprocess((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(',')), z.array(AuditEventTypeSchema))
    .optional(),
});
