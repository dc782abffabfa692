/**
 * `audit verify` of a whole store: every session's hash chain, then the signed checkpoints
 * (src/audit/checkpoints.ts) against the trail, then the lines the store could not read.
 * Each problem names its session, checkpoint or line; the trail is valid only with none.
 *
 * Session ids are unique within an org only (issue 15): the events of one id are split by org,
 * and each org's session is a chain of its own.
 */
import {
  checkSessionAgainstHead,
  foldCheckpoints,
  type SigningKeys,
  type TrailProblem,
} from './checkpoints.ts';
import type { AuditEvent } from './events.ts';
import { type VerifyResult, verifyChain } from './hash-chain.ts';
import type { AuditStore } from './stores/store.ts';

export interface TrailVerdict {
  valid: boolean;
  sessions: VerifyResult[];
  checkpoints: number;
  /** false when checkpoints are unsigned: a recomputed chain cannot be told from the real one */
  signed: boolean;
  problems: TrailProblem[];
}

/** A session to verify: its id, and its org when known (else every org's session of that id). */
export interface SessionSelector {
  session_id: string;
  org_id?: string;
}

export async function verifyTrail(
  store: AuditStore,
  keys: SigningKeys,
  selected: readonly SessionSelector[],
): Promise<TrailVerdict> {
  const sessions: VerifyResult[] = [];
  for (const { session_id, org_id } of selected) {
    const byOrg = splitByOrg(await store.sessionEvents(session_id));
    if (org_id !== undefined) sessions.push(verifyChain(session_id, byOrg.get(org_id) ?? []));
    else if (byOrg.size === 0) sessions.push(verifyChain(session_id, []));
    else for (const events of byOrg.values()) sessions.push(verifyChain(session_id, events));
  }
  const folded = foldCheckpoints(await store.checkpoints(), keys);
  const problems = [...folded.problems];
  const checkAll = selected.length === 0;
  const wanted = (head: { org_id: string; session_id: string }) =>
    selected.some((s) => s.session_id === head.session_id && (s.org_id === undefined || s.org_id === head.org_id));
  for (const head of folded.heads.values()) {
    if (!checkAll && !wanted(head)) continue;
    const problem = checkSessionAgainstHead(head, await store.sessionEvents(head.session_id), folded.retainedBefore);
    if (problem) problems.push(problem);
  }
  for (const { where, detail } of await store.unreadable()) {
    problems.push({ kind: 'unreadable_line', detail: `${where}: ${detail}` });
  }
  return {
    valid: problems.length === 0 && sessions.every((s) => s.ok),
    sessions,
    checkpoints: folded.checkpoints,
    signed: folded.signed,
    problems,
  };
}

function splitByOrg(events: readonly AuditEvent[]): Map<string, AuditEvent[]> {
  const byOrg = new Map<string, AuditEvent[]>();
  for (const event of events) {
    const own = byOrg.get(event.org_id);
    if (own) own.push(event);
    else byOrg.set(event.org_id, [event]);
  }
  return new Map([...byOrg].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
