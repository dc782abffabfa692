/**
 * Builders of audit events for tests: valid hash chains with varied types, outcomes and owners.
 */
import { randomUUID } from 'node:crypto';
import {
  type AuditEvent,
  type AuditEventType,
  type AuditQuery,
  type AuditQueryParsed,
  AuditQuerySchema,
  GENESIS_HASH,
  type Severity,
} from '../../src/audit/events.ts';
import { hashEvent } from '../../src/audit/hash-chain.ts';

/** Fields a test may set on an event; the chain fields are always computed. */
export type EventFields = Partial<Omit<AuditEvent, 'session_id' | 'seq' | 'prev_hash' | 'hash'>>;

export interface ChainOptions {
  /** time of the first event, as ISO text, Date or epoch ms (default 2025-01-01T00:00:00.000Z) */
  start?: string | Date | number;
  /** gap between consecutive events, in ms (default 1000; 0 gives every event the same time) */
  stepMs?: number;
  /** fields every event of the chain gets */
  fields?: EventFields;
  /** fields for the event at `seq`, applied after `fields` */
  at?: (seq: number) => EventFields;
}

export const DEFAULT_START = '2025-01-01T00:00:00.000Z';

// The middle of a chain cycles through these, so filters on type and success have work to do.
const MIDDLE: readonly { type: AuditEventType; success: boolean | null; severity: Severity }[] = [
  { type: 'action_started', success: null, severity: 'info' },
  { type: 'action_completed', success: true, severity: 'info' },
  { type: 'action_started', success: null, severity: 'debug' },
  { type: 'action_failed', success: false, severity: 'error' },
  { type: 'mcp_call_started', success: null, severity: 'info' },
  { type: 'mcp_call_completed', success: true, severity: 'info' },
  { type: 'approval_requested', success: null, severity: 'warning' },
  { type: 'mcp_call_failed', success: false, severity: 'critical' },
];

/**
 * Three chained events of one session whose middle one carries `fields`: where property tests
 * put the awkward values they send through a store or an encoding.
 */
export function chainAroundFields(sessionId: string, fields: Partial<AuditEvent>): AuditEvent[] {
  return makeChain(sessionId, 3, { start: '2025-06-15T10:00:00.000Z', at: (seq) => (seq === 1 ? fields : {}) });
}

/**
 * `n` events of one session forming a valid hash chain: seq 0 is session_started, the last
 * (when n > 1) is session_ended, the middle cycles through action/MCP/approval events with
 * success true, false or null. Timestamps increase by `stepMs` from `start`.
 */
export function makeChain(sessionId: string, n: number, options: ChainOptions = {}): AuditEvent[] {
  const start = new Date(options.start ?? DEFAULT_START).getTime();
  const stepMs = options.stepMs ?? 1000;
  const events: AuditEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 0; seq < n; seq++) {
    const base = baseFields(seq, n);
    const unhashed: Omit<AuditEvent, 'hash'> = {
      event_id: randomUUID(),
      event_type: base.type,
      timestamp: new Date(start + seq * stepMs).toISOString(),
      org_id: 'org-1',
      user_id: 'user-1',
      agent_id: 'agent-1',
      session_id: sessionId,
      severity: base.severity,
      message: `${base.type} #${seq}`,
      action_id: base.action ? `act-${seq}` : null,
      action_name: base.action ? 'echo' : null,
      action_params: base.action ? { message: `hello ${seq}` } : null,
      capability_type: base.action ? 'tool' : null,
      capability_source: base.action ? 'builtin' : null,
      capability_version: null,
      mcp_server_id: null,
      mcp_server_name: null,
      success: base.success,
      error_message: base.success === false ? `failed at ${seq}` : null,
      duration_ms: base.success === null ? null : 10 + seq,
      requires_approval: null,
      approval_granted: null,
      metadata: {},
      ...options.fields,
      ...options.at?.(seq),
      seq,
      prev_hash: prevHash,
    };
    const hash = hashEvent(unhashed);
    events.push({ ...unhashed, hash });
    prevHash = hash;
  }
  return events;
}

function baseFields(
  seq: number,
  n: number,
): { type: AuditEventType; success: boolean | null; severity: Severity; action: boolean } {
  if (seq === 0) return { type: 'session_started', success: null, severity: 'info', action: false };
  if (seq === n - 1) return { type: 'session_ended', success: true, severity: 'info', action: false };
  const step = MIDDLE[(seq - 1) % MIDDLE.length]!;
  return { ...step, action: step.type.startsWith('action_') };
}

/** Parses a query the way the API does, filling in limit and offset defaults. */
export function q(query: AuditQuery = {}): AuditQueryParsed {
  return AuditQuerySchema.parse(query);
}

/** The order every store must return: (timestamp, session_id, seq) ascending. */
export function byTimeSessionSeq(a: AuditEvent, b: AuditEvent): number {
  const ta = Date.parse(a.timestamp);
  const tb = Date.parse(b.timestamp);
  if (ta !== tb) return ta - tb;
  if (a.session_id !== b.session_id) return a.session_id < b.session_id ? -1 : 1;
  return a.seq - b.seq;
}

/** A copy of `events` in a fixed scrambled order (stores must not rely on arrival order). */
export function scramble<T>(events: readonly T[]): T[] {
  const out = [...events];
  // Deterministic: a fixed-seed LCG, so a failing test fails the same way every run.
  let seed = 42;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
