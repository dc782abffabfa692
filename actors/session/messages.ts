/**
 * Messages a session host (one per pool worker) receives. `type` names the receiver, so
 * grep 'session.execute' finds the handler in actors/session/session-host.ts.
 * Schemas document the wire shape; the frames themselves are not re-validated on the hot
 * path (they come from our own supervisor, never from outside).
 */
import { z } from 'zod';
import type { Action, ApprovalDecision, SessionContext } from '../../src/contracts.ts';
import type { SessionKey } from '../../src/session-key.ts';
import type { McpCallOutcome, McpServerSnapshot } from '../mcp-gateway/messages.ts';

const req = z.number().int();
/** a SessionKey (src/session-key.ts): org and id, since ids are unique within an org only */
const session = z.custom<SessionKey>((v) => typeof v === 'string');

export const SessionHostMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('session.start'),
    req,
    ctx: z.custom<SessionContext>(),
    /** the session's MCP servers as the gateway knows them at start (issue 4) */
    mcp: z.custom<McpServerSnapshot[]>().optional(),
  }),
  z.object({ type: z.literal('session.execute'), req, session, actions: z.custom<Action[]>() }),
  z.object({ type: z.literal('session.run'), req, session }),
  z.object({
    type: z.literal('session.approve'),
    req,
    session,
    action_id: z.string(),
    decision: z.custom<ApprovalDecision>(),
  }),
  z.object({ type: z.literal('session.cancel'), req, session, reason: z.string() }),
  z.object({ type: z.literal('session.end'), req, session }),
  z.object({ type: z.literal('session.status'), req, session }),
  /** supervisor → host: send the audit events waiting in this host's outbox now (before an audit query) */
  z.object({ type: z.literal('session.flush_audit'), req }),
  /** supervisor → host: forget an ended session's state (its status TTL expired) */
  z.object({ type: z.literal('session.forget'), session }),
  /** supervisor → host: finish in-flight work, flush audit, then let the host task end */
  z.object({ type: z.literal('session.shutdown'), req }),
  /** gateway (via supervisor) → host: the outcome of an mcp.call */
  z.object({ type: z.literal('session.mcp_result'), call: z.number().int(), outcome: z.custom<McpCallOutcome>() }),
  /** gateway (via supervisor) → every host: an MCP connection connected, disconnected or changed its tools */
  z.object({ type: z.literal('session.mcp_status'), snapshot: z.custom<McpServerSnapshot>() }),
  /** audit actor → host: `count` events of this host are now stored */
  z.object({ type: z.literal('session.audit_ack'), count: z.number().int() }),
]);
export type SessionHostMessage = z.infer<typeof SessionHostMessageSchema>;
