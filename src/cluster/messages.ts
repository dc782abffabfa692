/**
 * Messages a cluster node receives on its request subject (<cluster>.node.<node_id>), and the
 * reply it sends back. Both ride msgpack frames (src/transport/codec.ts) over NATS
 * request/reply. The `type` names the receiver: every handler is in node.ts #onRequest.
 */
import { z } from 'zod';
import type { Action, ActionInput, ApprovalDecision, SessionContext } from '../contracts.ts';
import type { WireError } from '../errors.ts';
import type { SessionKey } from '../session-key.ts';

/** a SessionKey (src/session-key.ts): ids are unique within an org only */
const session = z.custom<SessionKey>((v) => typeof v === 'string');

export const ClusterRequestSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('cluster.create_session'), ctx: z.custom<SessionContext>() }),
  z.object({
    type: z.literal('cluster.execute'),
    session,
    actions: z.custom<Array<ActionInput | Action>>(),
  }),
  z.object({ type: z.literal('cluster.run'), session }),
  z.object({
    type: z.literal('cluster.approve'),
    session,
    action_id: z.string(),
    decision: z.custom<ApprovalDecision>(),
  }),
  z.object({ type: z.literal('cluster.cancel'), session, reason: z.string().optional() }),
  z.object({ type: z.literal('cluster.end'), session }),
  z.object({ type: z.literal('cluster.status'), session }),
  /** read-your-writes for audit queries: the node sends what its hosts and batcher hold */
  z.object({ type: z.literal('cluster.flush_audit') }),
]);
export type ClusterRequest = z.infer<typeof ClusterRequestSchema>;

export type ClusterReply = { ok: true; value: unknown } | { ok: false; error: WireError };

/** Value of a session's key in the sessions bucket. */
export const SessionRecordSchema = z.object({
  node: z.string(),
  org_id: z.string(),
  user_id: z.string(),
  agent_id: z.string(),
  state: z.enum(['running', 'waiting_approval', 'completed', 'failed', 'cancelled']),
  started_at: z.string(),
  ended_at: z.string().optional(),
  error: z.custom<WireError>().optional(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

/** Value of a node's key in the nodes bucket: its lease, renewed every heartbeat_ms. */
export const NodeRecordSchema = z.object({
  node: z.string(),
  active_sessions: z.number().int().nonnegative(),
  max_sessions: z.number().int().positive(),
  renewed_at: z.string(),
});
export type NodeRecord = z.infer<typeof NodeRecordSchema>;
