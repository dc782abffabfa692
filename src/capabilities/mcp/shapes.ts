/**
 * The shapes of MCP work that both sides of a thread use: the tools a server lists, the state of
 * a connection as hosts see it (snapshots), a call's outcome, and the two requests a session
 * host sends the gateway (mcp.call, mcp.cancel). Here, below both the worker-side capability
 * (./provider.ts, ./call-client.ts) and the gateway actor (actors/mcp-gateway/), which lists
 * them in its own message union.
 */
import { z } from 'zod';
import { WireErrorSchema } from '../../errors.ts';
import { SessionKeySchema } from '../../session-key.ts';

/** One tool as the server lists it (tools/list), trimmed to what the runtime uses. */
export const McpToolInfoSchema = z.object({
  name: z.string(),
  description: z.string(),
  input_schema: z.record(z.string(), z.unknown()),
  read_only: z.boolean(),
  idempotent: z.boolean(),
});
export type McpToolInfo = z.infer<typeof McpToolInfoSchema>;

/**
 * What the gateway knows about one connection: sent in session.start and whenever it changes.
 * `version` grows with every change, so a host keeps only the newest snapshot it has seen.
 */
export const McpServerSnapshotSchema = z.object({
  key: z.string(),
  org_id: z.string(),
  server_id: z.string(),
  server_name: z.string(),
  connected: z.boolean(),
  version: z.number().int(),
  tools: z.array(McpToolInfoSchema),
  /** why the server is not connected (the last connection or transport error) */
  error: z.string().optional(),
  /** tools that may be retried although they carry no readOnly/idempotent hint (config) */
  retry_tools: z.array(z.string()),
});
export type McpServerSnapshot = z.infer<typeof McpServerSnapshotSchema>;

/** Sent with every call result: what the audit trail records beyond the value. */
export const McpCallMetaSchema = z.object({
  duration_ms: z.number(),
  attempts: z.number().int(),
  server_name: z.string(),
});
export type McpCallMeta = z.infer<typeof McpCallMetaSchema>;

export const McpCallOutcomeSchema = z.union([
  z.object({ ok: z.literal(true), value: z.unknown(), meta: McpCallMetaSchema }),
  z.object({ ok: z.literal(false), error: WireErrorSchema, meta: McpCallMetaSchema }),
]);
export type McpCallOutcome = z.infer<typeof McpCallOutcomeSchema>;

/** host → gateway (relayed by the supervisor): call a tool of one of the session's MCP servers */
export const McpCallSchema = z.object({
  type: z.literal('mcp.call'),
  /** id chosen by the host, unique per host; the reply carries it back */
  call: z.number().int(),
  key: z.string(),
  /** the calling session's SessionKey (src/session-key.ts) */
  session: SessionKeySchema,
  tool: z.string(),
  args: z.record(z.string(), z.unknown()),
  /** traces on: the action's span, parent of the gateway's `tools/call` client span */
  traceparent: z.string().optional(),
});
export type McpCall = z.infer<typeof McpCallSchema>;

/** the action was aborted (timeout or cancel): stop waiting and tell the server */
export const McpCancelSchema = z.object({
  type: z.literal('mcp.cancel'),
  call: z.number().int(),
  reason: z.string(),
});
export type McpCancel = z.infer<typeof McpCancelSchema>;
