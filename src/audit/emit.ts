/**
 * Producer side of the audit trail, one per thread that emits events.
 *
 *   SessionChain.emit(draft) → full event (ids, time, seq, prev_hash, hash)
 *     → AuditOutbox (per thread) ──audit.append──► audit actor (workers/audit.worker.ts)
 *     ◄──session.audit_ack(count)── once the store has written them
 *
 * Backpressure: at most `window` events may be sent and not yet acknowledged. Past that,
 * ready() returns a promise that resolves when acks bring the count back down; the session
 * actor awaits it before starting an action, so producers slow down instead of memory growing.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditEventDraft } from './events.ts';
import { GENESIS_HASH } from './events.ts';
import { asCarriedJson, asCarriedString } from '../transport/codec.ts';
import { hashEvent } from './hash-chain.ts';

/**
 * Events wait up to FLUSH_DELAY_MS (or until MAX_PENDING_EVENTS) before they leave as one
 * frame: waking the audit thread once per action would cost more than the action itself.
 * Audit queries ask every host to flush first (session.flush_audit), so reads still see
 * every event of the actions that returned before them.
 */
const FLUSH_DELAY_MS = 2;
const MAX_PENDING_EVENTS = 512;

export interface AuditSink {
  send(events: AuditEvent[]): void;
}

export class AuditOutbox {
  readonly #sink: AuditSink;
  readonly #window: number;
  #pending: AuditEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #unacked = 0;
  #waiters: Array<() => void> = [];

  constructor(sink: AuditSink, window: number) {
    this.#sink = sink;
    this.#window = window;
  }

  push(event: AuditEvent): void {
    this.#pending.push(event);
    this.#unacked++;
    if (this.#pending.length >= MAX_PENDING_EVENTS) this.flush();
    else if (!this.#timer) this.#timer = setTimeout(this.flush, FLUSH_DELAY_MS);
  }

  /** sends what is pending now (before an audit query, and before the thread exits) */
  flush = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#sink.send(batch);
  };

  ack(count: number): void {
    this.#unacked = Math.max(0, this.#unacked - count);
    if (this.#unacked < this.#window && this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** resolves at once while under the window; otherwise when acks free room */
  ready(): Promise<void> | undefined {
    if (this.#unacked < this.#window) return undefined;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  get unacked(): number {
    return this.#unacked;
  }

  /** resolves when every event sent so far has been acknowledged */
  async drained(): Promise<void> {
    this.flush();
    while (this.#unacked > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

export interface ChainIdentity {
  org_id: string;
  user_id: string;
  agent_id: string;
  session_id: string;
}

/** One session's hash chain: numbers its events and links each to the one before. */
export class SessionChain {
  readonly #identity: ChainIdentity;
  readonly #outbox: AuditOutbox;
  #seq = 0;
  #prevHash = GENESIS_HASH;

  constructor(identity: ChainIdentity, outbox: AuditOutbox) {
    this.#identity = identity;
    this.#outbox = outbox;
  }

  emit(draft: AuditEventDraft): AuditEvent {
    // The chain advances only once the event is built: a draft that cannot be (a value that is
    // not JSON) must not leave a gap in seq.
    const event = buildEvent(this.#identity, draft, this.#seq, this.#prevHash);
    this.#seq++;
    this.#prevHash = event.hash;
    this.#outbox.push(event);
    return event;
  }
}

/** Fills in ids, time and chain fields of a draft and hashes it. */
export function buildEvent(identity: ChainIdentity, draft: AuditEventDraft, seq: number, prevHash: string): AuditEvent {
  // One literal with every field (hash last), then the hash is filled in: no spread copies.
  const event: AuditEvent = {
    event_id: randomUUID(),
    event_type: draft.event_type,
    timestamp: new Date().toISOString(),
    org_id: carried(identity.org_id),
    user_id: carried(identity.user_id),
    agent_id: carried(identity.agent_id),
    session_id: carried(identity.session_id),
    severity: draft.severity ?? 'info',
    message: carried(draft.message),
    action_id: carriedOrNull(draft.action_id),
    action_name: carriedOrNull(draft.action_name),
    action_params: jsonSafe(draft.action_params ?? null),
    capability_type: carriedOrNull(draft.capability_type),
    capability_source: carriedOrNull(draft.capability_source),
    capability_version: carriedOrNull(draft.capability_version),
    mcp_server_id: carriedOrNull(draft.mcp_server_id),
    mcp_server_name: carriedOrNull(draft.mcp_server_name),
    success: draft.success ?? null,
    error_message: carriedOrNull(draft.error_message),
    duration_ms: draft.duration_ms ?? null,
    requires_approval: draft.requires_approval ?? null,
    approval_granted: draft.approval_granted ?? null,
    metadata: jsonSafe(draft.metadata ?? {}) as Record<string, unknown>,
    seq,
    prev_hash: prevHash,
    hash: '',
  };
  event.hash = hashEvent(event);
  return event;
}

/**
 * Params and metadata come from agents and tools: the event takes its own plain-JSON copy
 * before hashing. A copy, because the event waits in the outbox for a moment while the tool
 * still holds the params (a skill that changed them in place would change what is recorded
 * after it was hashed); plain JSON, so the hash still holds after msgpack, a JSON-lines file
 * or a jsonb column (undefined, Dates, NaN and class instances would change shape).
 *
 * A "__proto__" key becomes "__proto_" here, as msgpack renames it on every thread hop, and a
 * lone UTF-16 surrogate becomes U+FFFD, as msgpack's UTF-8 carries it (asCarriedJson): hashed
 * as it will be stored.
 */
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'string') return asCarriedString(value);
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  const text = JSON.stringify(value);
  return text === undefined ? null : JSON.parse(asCarriedJson(text));
}

/** A text field as it will arrive after a thread hop (see asCarriedString). */
function carried<T extends string>(s: T): T {
  return asCarriedString(s) as T;
}

function carriedOrNull(s: string | null | undefined): string | null {
  return s == null ? null : asCarriedString(s);
}
