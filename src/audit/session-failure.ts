/**
 * The events that close a session the runtime itself had to fail: its worker thread died
 * (actors/supervisor/supervisor.ts) or its cluster node was lost (src/cluster/node-loss.ts).
 * Both write the same story into the session's chain, from this one function:
 *
 *   action_failed (one per action that was in flight, when known) → error → session_ended (failed)
 */
import type { ErrorCode } from '../errors.ts';
import type { AuditEventDraft } from './events.ts';

export interface SessionFailure {
  /** what happened, as the error event and the session's end say it */
  message: string;
  errorCode: ErrorCode;
  /** the actions that were running, each failed with `why` (e.g. "its worker crashed") */
  actions?: ReadonlyArray<{ id: string; name: string }>;
  why?: string;
  /** more metadata for the error and session_ended events (who audited it, and so on) */
  metadata?: Record<string, unknown>;
}

export function sessionFailureDrafts(failure: SessionFailure): AuditEventDraft[] {
  const { message, errorCode, actions = [], why = 'the session failed', metadata = {} } = failure;
  const drafts: AuditEventDraft[] = actions.map((action) => ({
    event_type: 'action_failed',
    severity: 'error',
    message: `action ${action.name} failed: ${why}`,
    action_id: action.id,
    action_name: action.name,
    success: false,
    error_message: message,
    metadata: { error_code: errorCode },
  }));
  drafts.push(
    { event_type: 'error', severity: 'critical', message, metadata: { error_code: errorCode, ...metadata } },
    {
      event_type: 'session_ended',
      severity: 'error',
      message: `session failed: ${message}`,
      success: false,
      error_message: message,
      metadata: { error_code: errorCode, ...metadata, state: 'failed' },
    },
  );
  return drafts;
}
