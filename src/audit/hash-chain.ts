/**
 * Each session's audit trail is a hash chain: event n carries prev_hash = hash of event
 * n-1 (GENESIS_HASH for the first) and hash = SHA-256(canonical(event without hash)).
 * canonical() is JSON of the fields in HASHED_FIELDS order, with object keys sorted at every
 * depth, so the same event hashes the same on every thread, store and machine.
 */
import crypto, { createHash } from 'node:crypto';
import { type AuditEvent, GENESIS_HASH } from './events.ts';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  let out = '{';
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

export function hashEvent(event: Omit<AuditEvent, 'hash'>): string {
  return sha256Hex(canonicalEventText(event));
}

/**
 * The fields in HASHED_FIELDS order, as one JSON array. The scalar runs go through one
 * JSON.stringify each (an array of them), not one call per field: this runs for every event,
 * and each call has a fixed cost larger than the work for a short string. The two objects
 * (params, metadata) are spliced in canonical form. tests/unit/audit/hash-chain.test.ts holds
 * this to the definition (and to hashes of trails already stored).
 */
function canonicalEventText(e: Omit<AuditEvent, 'hash'>): string {
  const head = JSON.stringify([
    e.event_id,
    e.event_type,
    e.timestamp,
    e.org_id,
    e.user_id,
    e.agent_id,
    e.session_id,
    e.severity,
    e.message,
    e.action_id ?? null,
    e.action_name ?? null,
  ]);
  const middle = JSON.stringify([
    e.capability_type ?? null,
    e.capability_source ?? null,
    e.capability_version ?? null,
    e.mcp_server_id ?? null,
    e.mcp_server_name ?? null,
    e.success ?? null,
    e.error_message ?? null,
    e.duration_ms ?? null,
    e.requires_approval ?? null,
    e.approval_granted ?? null,
  ]);
  const tail = JSON.stringify([e.seq, e.prev_hash]);
  return `${head.slice(0, -1)},${canonicalJson(e.action_params)},${middle.slice(1, -1)},${canonicalJson(e.metadata)},${tail.slice(1)}`;
}

// crypto.hash() (Node >= 20.12) is a one-shot digest, cheaper than createHash for short input.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export function sha256Hex(text: string): string {
  return oneShot ? oneShot('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex');
}

export type ChainProblem = 'altered' | 'removed_or_reordered' | 'wrong_session';

export interface VerifyResult {
  session_id: string;
  /** the session's org (ids are unique within an org only); absent when it has no events */
  org_id?: string;
  ok: boolean;
  events: number;
  /** the first event that breaks the chain, when ok is false */
  first_bad?: { seq: number; event_id: string; problem: ChainProblem; detail: string };
  /** true when the last event is session_ended (the trail is complete) */
  complete: boolean;
  /** the last event of an unbroken chain */
  head?: { seq: number; hash: string };
}

/**
 * Recomputes a session's chain. `events` may be in any order; they are sorted by seq. They are
 * one org's session: split a store's events by org first (verifyTrail does).
 */
export function verifyChain(sessionId: string, events: readonly AuditEvent[]): VerifyResult {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  const orgId = sorted[0]?.org_id;
  const org = orgId === undefined ? {} : { org_id: orgId };
  let prevHash = GENESIS_HASH;
  let expectedSeq = 0;
  for (const event of sorted) {
    const bad = (problem: ChainProblem, detail: string): VerifyResult => ({
      session_id: sessionId,
      ...org,
      ok: false,
      events: sorted.length,
      first_bad: { seq: event.seq, event_id: event.event_id, problem, detail },
      complete: false,
    });
    if (event.session_id !== sessionId) return bad('wrong_session', `event belongs to ${event.session_id}`);
    if (event.org_id !== orgId) return bad('wrong_session', `event belongs to org ${event.org_id}'s session`);
    if (event.seq !== expectedSeq) {
      return bad('removed_or_reordered', `expected seq ${expectedSeq}, found ${event.seq}`);
    }
    const { hash, ...rest } = event;
    if (hashEvent(rest) !== hash) return bad('altered', 'the event content does not match its hash');
    if (event.prev_hash !== prevHash) {
      return bad('removed_or_reordered', 'prev_hash does not match the hash of the event before it');
    }
    prevHash = hash;
    expectedSeq++;
  }
  return {
    session_id: sessionId,
    ...org,
    ok: true,
    events: sorted.length,
    complete: sorted.at(-1)?.event_type === 'session_ended',
    ...(sorted.length > 0 ? { head: { seq: sorted.at(-1)!.seq, hash: sorted.at(-1)!.hash } } : {}),
  };
}
