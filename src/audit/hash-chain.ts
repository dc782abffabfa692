/**
 * Each session's audit trail is a hash chain: event n carries prev_hash = hash of event
 * n-1 (GENESIS_HASH for the first) and hash = SHA-256(canonical(event without hash)).
 * canonical() is JSON of the fields in HASHED_FIELDS order, with object keys sorted at every
 * depth, so the same event hashes the same on every thread, store and machine.
 */
import crypto, { createHash } from 'node:crypto';
import { type AuditEvent, GENESIS_HASH, HASHED_FIELDS } from './events.ts';

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
  // One string, built in HASHED_FIELDS order: this runs twice per action, so no arrays.
  let text = '[';
  for (let i = 0; i < HASHED_FIELDS.length; i++) {
    if (i > 0) text += ',';
    const value = event[HASHED_FIELDS[i]!];
    text += typeof value === 'object' && value !== null ? canonicalJson(value) : JSON.stringify(value ?? null);
  }
  return sha256Hex(`${text}]`);
}

// crypto.hash() (Node >= 20.12) is a one-shot digest, cheaper than createHash for short input.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export function sha256Hex(text: string): string {
  return oneShot ? oneShot('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex');
}

export type ChainProblem = 'altered' | 'removed_or_reordered' | 'wrong_session';

export interface VerifyResult {
  session_id: string;
  ok: boolean;
  events: number;
  /** the first event that breaks the chain, when ok is false */
  first_bad?: { seq: number; event_id: string; problem: ChainProblem; detail: string };
  /** true when the last event is session_ended (the trail is complete) */
  complete: boolean;
}

/** Recomputes a session's chain. `events` may be in any order; they are sorted by seq. */
export function verifyChain(sessionId: string, events: readonly AuditEvent[]): VerifyResult {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  let prevHash = GENESIS_HASH;
  let expectedSeq = 0;
  for (const event of sorted) {
    const bad = (problem: ChainProblem, detail: string): VerifyResult => ({
      session_id: sessionId,
      ok: false,
      events: sorted.length,
      first_bad: { seq: event.seq, event_id: event.event_id, problem, detail },
      complete: false,
    });
    if (event.session_id !== sessionId) return bad('wrong_session', `event belongs to ${event.session_id}`);
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
    ok: true,
    events: sorted.length,
    complete: sorted.at(-1)?.event_type === 'session_ended',
  };
}
