/**
 * GET /v1/sessions: an org's sessions, newest first, from the audit trail (every session that
 * ever started, on any node, across restarts), with the state a running one reports now.
 *
 * Paging is by cursor: an opaque text that holds the start time of the last session returned
 * and how many sessions starting at that same millisecond were already returned, so a page
 * boundary inside one millisecond neither skips nor repeats a session.
 */
import { z } from 'zod';
import type { AuditEvent, AuditQuery } from '../audit/events.ts';
import { type SessionState, SessionStateSchema } from '../contracts.ts';
import { RuntimeError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';

export const SessionListFiltersSchema = z.strictObject({
  state: SessionStateSchema.optional(),
  agent_id: z.string().min(1).optional(),
  limit: z.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(500).optional(),
});
export type SessionListFilters = z.infer<typeof SessionListFiltersSchema>;

export interface SessionRow {
  session_id: string;
  org_id: string;
  agent_id: string;
  user_id: string;
  started_by: string | null;
  started_at: string;
  state: SessionState;
  ended_at: string | null;
  /** actions that ended (completed, failed, rejected), and approvals asked for */
  counts: { actions: number; failed: number; approvals: number };
}

const CursorSchema = z.strictObject({
  until: z.iso.datetime({ offset: true }),
  skip: z.number().int().min(0),
});

export async function listSessions(
  runtime: Runtime,
  orgId: string | undefined,
  filters: SessionListFilters,
): Promise<{ sessions: SessionRow[]; next_cursor: string | null }> {
  const cursor = filters.cursor === undefined ? undefined : readCursor(filters.cursor);
  const base: AuditQuery = {
    ...(orgId !== undefined ? { org_id: orgId } : {}),
    ...(filters.agent_id !== undefined ? { agent_id: filters.agent_id } : {}),
    event_types: ['session_started'],
    // Inclusive of the cursor's millisecond: sessions starting then, past `skip`, come next.
    ...(cursor ? { until: new Date(Date.parse(cursor.until) + 1).toISOString() } : {}),
  };
  const skip = cursor?.skip ?? 0;
  const total = await runtime.audit.count(base);
  const take = Math.min(filters.limit, Math.max(0, total - skip));
  const page =
    take === 0 ? [] : await runtime.audit.query({ ...base, offset: total - skip - take, limit: take });
  const newestFirst = page.reverse();
  const rows: SessionRow[] = [];
  for (const started of newestFirst) {
    const row = await rowOf(runtime, started);
    if (filters.state === undefined || row.state === filters.state) rows.push(row);
  }
  const last = newestFirst.at(-1);
  let next: string | null = null;
  if (last && total - skip - take > 0) {
    // Sessions of this page that started in the last one's millisecond (the next page skips them).
    const sameMs = newestFirst.filter((e) => e.timestamp === last.timestamp).length;
    const carried = cursor && cursor.until === last.timestamp ? skip : 0;
    next = writeCursor({ until: last.timestamp, skip: sameMs + carried });
  }
  return { sessions: rows, next_cursor: next };
}

async function rowOf(runtime: Runtime, started: AuditEvent): Promise<SessionRow> {
  const scope = { org_id: started.org_id, session_id: started.session_id };
  const meta = (started.metadata ?? {}) as Record<string, unknown>;
  const [ended] = await runtime.audit.query({ ...scope, event_types: ['session_ended'], limit: 1 });
  let state: SessionState = 'running';
  if (ended) {
    const recorded = SessionStateSchema.safeParse((ended.metadata as Record<string, unknown> | null)?.state);
    state = recorded.success ? recorded.data : 'failed';
  } else {
    try {
      state = (await runtime.session(started.session_id, started.org_id).status()).state;
    } catch {
      // Neither ended in the trail nor held by any node: its node stopped before it could say.
      state = 'failed';
    }
  }
  const [actions, failed, approvals] = await Promise.all([
    runtime.audit.count({ ...scope, event_types: ['action_completed', 'action_failed', 'action_rejected'] }),
    runtime.audit.count({ ...scope, event_types: ['action_failed', 'action_rejected'] }),
    runtime.audit.count({ ...scope, event_types: ['approval_requested'] }),
  ]);
  return {
    session_id: started.session_id,
    org_id: started.org_id,
    agent_id: started.agent_id,
    user_id: started.user_id,
    started_by: typeof meta.started_by === 'string' ? meta.started_by : null,
    started_at: started.timestamp,
    state,
    ended_at: ended?.timestamp ?? null,
    counts: { actions, failed, approvals },
  };
}

function writeCursor(cursor: z.infer<typeof CursorSchema>): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function readCursor(text: string): z.infer<typeof CursorSchema> {
  try {
    return CursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw new RuntimeError(
      'invalid_request',
      'cursor: not a cursor this API gave out (pass next_cursor as it came)',
    );
  }
}
