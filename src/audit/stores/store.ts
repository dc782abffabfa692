/**
 * The one interface every audit storage backend implements (memory, file, PostgreSQL COPY).
 * The same contract suite (tests/contract/audit-store.contract.ts) runs against each.
 *
 * Rules every store keeps:
 * - append() resolves only when the events are durable for that backend (written and synced
 *   for file, committed for the database); it rejects if any event was not stored.
 * - append() is idempotent by event_id: appending an event that is already stored is a no-op.
 * - query() returns events ordered by (timestamp, session_id, seq) ascending, after offset, at most limit.
 */
import type { Checkpoint } from '../checkpoints.ts';
import { type ActionOutcome, type AuditEvent, type AuditQueryParsed, actionOutcome } from '../events.ts';
import type { ComponentHealth } from '../../health.ts';

export interface AuditStore {
  readonly kind: 'memory' | 'file' | 'database';
  init(): Promise<void>;
  append(events: readonly AuditEvent[]): Promise<void>;
  query(query: AuditQueryParsed): Promise<AuditEvent[]>;
  count(query: AuditQueryParsed): Promise<number>;
  /** every event of one session, in seq order (for verify) */
  sessionEvents(sessionId: string): Promise<AuditEvent[]>;
  /** deletes events older than `before`; returns how many were deleted */
  deleteOlderThan(before: Date): Promise<number>;
  /** writes a signed checkpoint, durably as events are (src/audit/checkpoints.ts) */
  appendCheckpoint(checkpoint: Checkpoint): Promise<void>;
  /** every checkpoint, in seq order, as stored (verify checks them) */
  checkpoints(): Promise<Checkpoint[]>;
  /** lines or rows that could not be read back as events: verify reports them, never skips silently */
  unreadable(): Promise<Array<{ where: string; detail: string }>>;
  /** how events wait in the batcher and are written (see BatchEncoder) */
  readonly encoder: BatchEncoder;
  /** keeps an event the store cannot take (not even encode) for a person to look at */
  deadLetter?(event: AuditEvent, error: { code?: string; message: string }): Promise<void>;
  /** component health for /health */
  health(): Promise<ComponentHealth>;
  close(): Promise<void>;
}

/** What waits in the batcher for a store: its events, `length` of them, cut with slice(). */
export interface BatchPiece {
  readonly length: number;
  slice(start: number, end?: number): BatchPiece;
}

/**
 * How a store's batches wait and are written. One batcher (actors/audit/batcher.ts) serves every
 * store; only this differs: the memory and file stores keep events as they are (eventEncoder),
 * the database store encodes each producer's frame into COPY rows as it arrives, so the batch
 * waits as bytes, not objects (postgres/row-block.ts).
 */
export interface BatchEncoder {
  encode(events: readonly AuditEvent[]): BatchPiece;
  /** writes pieces this encoder made; the rules of append() hold */
  write(pieces: readonly BatchPiece[]): Promise<void>;
  /** the events in pieces this encoder made (the spool keeps events) */
  events(pieces: readonly BatchPiece[]): AuditEvent[];
  /** the action outcomes in pieces this encoder made (metrics) */
  outcomes(pieces: readonly BatchPiece[]): ActionOutcome[];
}

/** The encoder of a store that takes events as they are (memory, file). */
export function eventEncoder(store: Pick<AuditStore, 'append'>): BatchEncoder {
  const events = (pieces: readonly BatchPiece[]): AuditEvent[] =>
    pieces.length === 1 ? (pieces[0] as AuditEvent[]) : (pieces as ReadonlyArray<readonly AuditEvent[]>).flat();
  return {
    encode: (batch) => batch,
    write: (pieces) => store.append(events(pieces)),
    events,
    outcomes: (pieces) => events(pieces).flatMap((e) => actionOutcome(e) ?? []),
  };
}

/** Shared filter used by the stores that filter in JS (memory, file). */
export function matchesQuery(event: AuditEvent, q: AuditQueryParsed): boolean {
  if (q.event_id !== undefined && event.event_id !== q.event_id) return false;
  if (q.org_id !== undefined && event.org_id !== q.org_id) return false;
  if (q.user_id !== undefined && event.user_id !== q.user_id) return false;
  if (q.agent_id !== undefined && event.agent_id !== q.agent_id) return false;
  if (q.session_id !== undefined && event.session_id !== q.session_id) return false;
  if (q.event_types !== undefined && q.event_types.length > 0 && !q.event_types.includes(event.event_type)) {
    return false;
  }
  if (q.success !== undefined && event.success !== q.success) return false;
  const t = Date.parse(event.timestamp);
  if (q.since !== undefined && t < Date.parse(q.since)) return false;
  if (q.until !== undefined && t >= Date.parse(q.until)) return false;
  return true;
}

export function compareEvents(a: AuditEvent, b: AuditEvent): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1;
  if (a.session_id !== b.session_id) return a.session_id < b.session_id ? -1 : 1;
  return a.seq - b.seq;
}
