/**
 * Messages a session host (one per pool worker) receives. `type` names the receiver, so
 * grep 'session.command' finds the handler in actors/session/session-host.ts (and the
 * commands themselves in ./commands.ts).
 * Schemas document the wire shape; the frames themselves are not re-validated on the hot
 * path (they come from our own supervisor, never from outside).
 */
import { z } from 'zod';
import { SessionCommandSchema } from '../../src/session-protocol.ts';
import { McpCallOutcomeSchema, McpServerSnapshotSchema } from '../../src/capabilities/mcp/shapes.ts';
import { PolicySourceSchema } from '../../src/policy/policy-source.ts';

const req = z.number().int();

export const SessionHostMessageSchema = z.discriminatedUnion('type', [
  /** supervisor → host: one command of the session protocol; handled in ./commands.ts */
  z.object({
    type: z.literal('session.command'),
    req,
    command: SessionCommandSchema,
    /** with start: the session's MCP servers as the gateway knows them (issue 4) */
    mcp: z.array(McpServerSnapshotSchema).optional(),
  }),
  /** supervisor → host: send the audit events waiting in this host's outbox now (before an audit query) */
  z.object({ type: z.literal('session.flush_audit'), req }),
  /** supervisor → host: finish in-flight work, flush audit, then let the host task end */
  z.object({ type: z.literal('session.shutdown'), req }),
  /** gateway (via supervisor) → host: the outcome of an mcp.call */
  z.object({ type: z.literal('session.mcp_result'), call: z.number().int(), outcome: McpCallOutcomeSchema }),
  /** gateway (via supervisor) → every host: an MCP connection connected, disconnected or changed its tools */
  z.object({ type: z.literal('session.mcp_status'), snapshot: McpServerSnapshotSchema }),
  /** supervisor → every host: the policy directory was reloaded (SIGHUP); compile and use it from now on */
  z.object({ type: z.literal('session.policies'), source: PolicySourceSchema }),
  /** audit actor → host: `count` events of this host are now stored */
  z.object({ type: z.literal('session.audit_ack'), count: z.number().int() }),
]);
export type SessionHostMessage = z.infer<typeof SessionHostMessageSchema>;
