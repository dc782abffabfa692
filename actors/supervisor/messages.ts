/**
 * Messages the supervisor (main thread) receives from session hosts.
 */
import { z } from 'zod';
import { PendingApprovalSchema, SessionStateSchema } from '../../src/contracts.ts';
import { WireErrorSchema } from '../../src/errors.ts';
import { SessionKeySchema } from '../../src/session-key.ts';
import { McpGatewayMessageSchema } from '../mcp-gateway/messages.ts';

const session = SessionKeySchema;

export const SupervisorMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('supervisor.ready'), slot: z.number().int(), thread_id: z.number().int() }),
  z.object({ type: z.literal('supervisor.reply'), req: z.number().int(), ok: z.literal(true), value: z.unknown() }),
  z.object({
    type: z.literal('supervisor.reply'),
    req: z.number().int(),
    ok: z.literal(false),
    error: WireErrorSchema,
  }),
  z.object({
    type: z.literal('supervisor.approval_requested'),
    session,
    approval: PendingApprovalSchema,
  }),
  z.object({
    type: z.literal('supervisor.session_ended'),
    session,
    state: SessionStateSchema,
    error: WireErrorSchema.optional(),
  }),
  /** host → MCP gateway, relayed by the supervisor: mcp.call and mcp.cancel (issue 4) */
  ...McpGatewayMessageSchema.options,
]);
export type SupervisorMessage = z.infer<typeof SupervisorMessageSchema>;
