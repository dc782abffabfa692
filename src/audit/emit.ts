/**
 * Producer side of the audit trail, one per thread that emits events.
 *
 *   SessionChain.emit(draft) → content fixed now (params/metadata copied, time taken, seq)
 *     → AuditOutbox (per thread): linked into the chain (event_id, prev_hash, hash) when it leaves
 *     ──audit.append──► audit actor (workers/audit.worker.ts)
 *     ◄──session.audit_ack(count)── once the store has written them
 *
 * Why linking waits for the flush: hashing an event costs more than a no-op action itself, and
 * nothing needs the hash before the event leaves the thread. Linked in the flush, the reply to
 * the caller leaves first; what is recorded, and when, is the same (the content is fixed at
 * emit, and events leave in emit order, so each chain links in order).
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
  /** `urgent`: someone waits for these events to be stored (AUDIT_DURABILITY=strict) */
  send(events: AuditEvent[], urgent: boolean): void;
}

/** An event whose content is fixed but which is not yet linked into its session's chain. */
interface UnlinkedEvent {
  chain: SessionChain;
  draft: AuditEventDraft;
  seq: number;
  at: number;
  params: Captured;
  metadata: Captured;
}

export class AuditOutbox {
  readonly #sink: AuditSink;
  readonly #window: number;
  #pending: UnlinkedEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #unacked = 0;
  #waiters: Array<() => void> = [];
  /** events pushed and acknowledged since the start: acks come in push order (batcher.ts) */
  #pushedTotal = 0;
  #ackedTotal = 0;
  /** durable() callers, in the order of their tickets */
  #durableWaiters: Array<{ ticket: number; resolve: () => void }> = [];

  constructor(sink: AuditSink, window: number) {
    this.#sink = sink;
    this.#window = window;
  }

  push(event: UnlinkedEvent): void {
    this.#pending.push(event);
    this.#unacked++;
    this.#pushedTotal++;
    if (this.#pending.length >= MAX_PENDING_EVENTS) this.flush();
    else if (!this.#timer) this.#timer = setTimeout(this.flush, FLUSH_DELAY_MS);
  }

  /** sends what is pending now (before an audit query, and before the thread exits) */
  flush = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const unlinked = this.#pending;
    this.#pending = [];
    // In emit order, so each session's events link in order.
    const batch = new Array<AuditEvent>(unlinked.length);
    for (let i = 0; i < unlinked.length; i++) batch[i] = unlinked[i]!.chain.link(unlinked[i]!);
    this.#sink.send(batch, this.#durableWaiters.length > 0);
  };

  /**
   * Resolves once every event pushed so far is on stable storage (the store acknowledged it:
   * fsync'd file, committed or spooled database write); undefined when it already is. Sends
   * what is pending at once, marked urgent, so the audit actor writes without waiting for its
   * flush interval; the waits of every session that asks in the meantime share that one write
   * (group commit).
   */
  durable(): Promise<void> | undefined {
    const ticket = this.#pushedTotal;
    if (this.#ackedTotal >= ticket) return undefined;
    const wait = new Promise<void>((resolve) => this.#durableWaiters.push({ ticket, resolve }));
    this.flush();
    return wait;
  }

  ack(count: number): void {
    this.#ackedTotal += count;
    while (this.#durableWaiters.length > 0 && this.#durableWaiters[0]!.ticket <= this.#ackedTotal) {
      this.#durableWaiters.shift()!.resolve();
    }
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

  /**
   * Fixes the event's content now: its time, its number, and a copy of its params and metadata
   * (a tool may still change them in place). Throws for a value JSON cannot hold (a BigInt, a
   * cycle); the chain advances only once the content is fixed, so a failed emit leaves no gap.
   * The draft's own fields are read when the event leaves: a caller hands over a draft it made
   * for this emit and does not change it afterwards (a tool's drafts are copied for it).
   */
  emit(draft: AuditEventDraft): void {
    const params = capture(draft.action_params ?? null);
    const metadata = capture(draft.metadata ?? EMPTY);
    this.#outbox.push({ chain: this, draft, seq: this.#seq++, at: Date.now(), params, metadata });
  }

  /** Called by the outbox as the event leaves, in emit order. */
  link(unlinked: UnlinkedEvent): AuditEvent {
    const { draft, seq, at } = unlinked;
    const params = release(unlinked.params);
    const metadata = release(unlinked.metadata);
    const event = assemble(this.#identity, draft, seq, this.#prevHash, at, params, metadata);
    this.#prevHash = event.hash;
    return event;
  }
}

const EMPTY = Object.freeze({});

/** Fills in ids, time and chain fields of a draft and hashes it, at once. */
export function buildEvent(identity: ChainIdentity, draft: AuditEventDraft, seq: number, prevHash: string): AuditEvent {
  const params = release(capture(draft.action_params ?? null));
  const metadata = release(capture(draft.metadata ?? EMPTY));
  return assemble(identity, draft, seq, prevHash, Date.now(), params, metadata);
}

function assemble(
  identity: ChainIdentity,
  draft: AuditEventDraft,
  seq: number,
  prevHash: string,
  at: number,
  params: unknown,
  metadata: unknown,
): AuditEvent {
  // One literal with every field (hash last), then the hash is filled in: no spread copies.
  const event: AuditEvent = {
    event_id: randomUUID(),
    event_type: draft.event_type,
    timestamp: isoTime(at),
    org_id: carried(identity.org_id),
    user_id: carried(identity.user_id),
    agent_id: carried(identity.agent_id),
    session_id: carried(identity.session_id),
    severity: draft.severity ?? 'info',
    message: carried(draft.message),
    action_id: carriedOrNull(draft.action_id),
    action_name: carriedOrNull(draft.action_name),
    action_params: params,
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
    metadata: metadata as Record<string, unknown>,
    seq,
    prev_hash: prevHash,
    hash: '',
  };
  event.hash = hashEvent(event);
  return event;
}

/**
 * Params and metadata come from agents and tools: the event takes its own plain-JSON copy when
 * it is emitted, as JSON text, parsed back when it is linked. A copy, because the event waits
 * in the outbox for a moment while the tool still holds the params (a skill that changed them
 * in place would change what is recorded); plain JSON, so the hash still holds after msgpack,
 * a JSON-lines file or a jsonb column (undefined, Dates, NaN and class instances would change
 * shape).
 *
 * A "__proto__" key becomes "__proto_" here, as msgpack renames it on every thread hop, and a
 * lone UTF-16 surrogate becomes U+FFFD, as msgpack's UTF-8 carries it (asCarriedJson): hashed
 * as it will be stored.
 */
type Captured = string | number | boolean | null | { readonly json: string };

/** The copy taken at emit: scalars as they are, anything else as its JSON text. */
function capture(value: unknown): Captured {
  if (typeof value === 'string') return asCarriedString(value);
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  const json = JSON.stringify(value);
  return json === undefined ? null : { json };
}

/** The plain-JSON value of a capture, as it will be hashed and stored. */
function release(captured: Captured): unknown {
  return captured !== null && typeof captured === 'object' ? JSON.parse(asCarriedJson(captured.json)) : captured;
}

// Events come many to a millisecond (an action's started and completed events, a busy
// session's next action): the last millisecond's text is kept instead of formatting it again.
let lastIsoMs = Number.NaN;
let lastIso = '';

function isoTime(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString();
    lastIsoMs = ms;
  }
  return lastIso;
}

/** A text field as it will arrive after a thread hop (see asCarriedString). */
function carried<T extends string>(s: T): T {
  return asCarriedString(s) as T;
}

function carriedOrNull(s: string | null | undefined): string | null {
  return s == null ? null : asCarriedString(s);
}
