/**
 * `audit verify` of a whole store: every session's hash chain, then the signed checkpoints
 * (src/audit/checkpoints.ts) against the trail, then the lines the store could not read.
 * Each problem names its session, checkpoint or line; the trail is valid only with none.
 */
import {
  checkSessionAgainstHead,
  foldCheckpoints,
  type SigningKeys,
  type TrailProblem,
} from './checkpoints.ts';
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

export async function verifyTrail(
  store: AuditStore,
  keys: SigningKeys,
  sessionIds: readonly string[],
): Promise<TrailVerdict> {
  const sessions: VerifyResult[] = [];
  for (const sessionId of sessionIds)
    sessions.push(verifyChain(sessionId, await store.sessionEvents(sessionId)));
  const folded = foldCheckpoints(await store.checkpoints(), keys);
  const problems = [...folded.problems];
  const only = new Set(sessionIds);
  const checkAll = sessionIds.length === 0;
  for (const head of folded.heads.values()) {
    if (!checkAll && !only.has(head.session_id)) continue;
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
