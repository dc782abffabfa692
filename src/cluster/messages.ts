/**
 * Messages a cluster node receives on its request subject (<cluster>.node.<node_id>), and the
 * reply it sends back. Both ride msgpack frames (src/transport/codec.ts) over NATS
 * request/reply. The `type` names the receiver: every handler is in node.ts #onRequest.
 */
import { z } from 'zod';
import { type WireError, WireErrorSchema } from '../errors.ts';
import { SessionCommandSchema } from '../session-protocol.ts';

/**
 * Parsed on arrival (node.ts #onRequest): a peer's frame is data from the network, so a command
 * is checked against the same schema the library's commands are built to.
 */
export const ClusterRequestSchema = z.discriminatedUnion('type', [
  /** one command of the session protocol (src/session-protocol.ts), for a session on this node */
  z.strictObject({ type: z.literal('cluster.command'), command: SessionCommandSchema }),
  /** read-your-writes for audit queries: the node sends what its hosts and batcher hold */
  z.strictObject({ type: z.literal('cluster.flush_audit') }),
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
  error: WireErrorSchema.optional(),
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
