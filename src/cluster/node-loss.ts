/**
 * Audits the loss of a session whose node died, from a surviving node.
 *
 * The surviving node does not hold the session's chain head (the dead node's session host
 * did), so it reads the last event the shared audit store holds for the session and
 * continues the chain from there: seq = head.seq + 1, prev_hash = head.hash. verify() then
 * passes over everything the dead node got stored plus these events. When the store holds
 * nothing for the session (the node died before its first batch was written), the events
 * start a fresh segment at seq 0 from GENESIS_HASH. Either way metadata.chain says which
 * ('continued' or 'new_segment') and metadata.continued_from_seq names the head used.
 *
 * Events the dead node had produced but not stored are not in the store: if the node comes
 * back and replays its spool, they land with seqs at or after these, and verify() reports
 * the fork (removed_or_reordered) rather than hiding it.
 */
import type * as Comlink from 'comlink';
import { type ChainIdentity, buildEvent } from '../audit/emit.ts';
import { type AuditEvent, GENESIS_HASH } from '../audit/events.ts';
import { sessionFailureDrafts } from '../audit/session-failure.ts';
import type { AuditApi } from '../audit/audit-api.ts';
import type { SessionRef } from '../session-key.ts';

const HEAD_PAGE = 10_000;

export interface LostSession {
  identity: ChainIdentity;
  lostNode: string;
  auditedBy: string;
  message: string;
}

/** The last stored event of a session (highest seq), or undefined. */
export async function storedHead(
  audit: Comlink.Remote<AuditApi>,
  session: SessionRef,
): Promise<Pick<AuditEvent, 'seq' | 'hash'> | undefined> {
  let head: Pick<AuditEvent, 'seq' | 'hash'> | undefined;
  for (let offset = 0; ; offset += HEAD_PAGE) {
    // Ids are unique within an org only: another org's session of this id is another chain.
    const query = { org_id: session.org_id, session_id: session.session_id, limit: HEAD_PAGE, offset };
    const page = await audit.query(query);
    for (const e of page) if (!head || e.seq > head.seq) head = { seq: e.seq, hash: e.hash };
    if (page.length < HEAD_PAGE) return head;
  }
}

/** The error + session_ended events that close a lost node's session, chained as described above. */
export function nodeLostEvents(lost: LostSession, head: Pick<AuditEvent, 'seq' | 'hash'> | undefined): AuditEvent[] {
  const drafts = sessionFailureDrafts({
    message: lost.message,
    errorCode: 'node_lost',
    metadata: {
      lost_node: lost.lostNode,
      audited_by: lost.auditedBy,
      chain: head ? 'continued' : 'new_segment',
      continued_from_seq: head ? head.seq : null,
    },
  });
  const events: AuditEvent[] = [];
  let seq = head ? head.seq + 1 : 0;
  let prev = head?.hash ?? GENESIS_HASH;
  for (const draft of drafts) {
    const event = buildEvent(lost.identity, draft, seq++, prev);
    prev = event.hash;
    events.push(event);
  }
  return events;
}
