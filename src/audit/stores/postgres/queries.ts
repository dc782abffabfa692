/**
 * SQL of the database audit store. Every filter is a bound parameter; the WHERE clauses match
 * the indexes of migrations/0001 (org_id + timestamp, session_id + seq, event_type + timestamp,
 * timestamp), and the order is the store contract's: timestamp, session_id (C collation), seq.
 */
import type { AuditQueryParsed } from '../../events.ts';
import { COLUMN_LIST, toPgString } from './encode.ts';

export const TABLE = 'audit_events';

export function copyDirectSql(): string {
  return `COPY ${TABLE} (${COLUMN_LIST}) FROM STDIN`;
}

// The replay path: COPY has no ON CONFLICT, so rows go to a per-transaction staging table first.
export const STAGE_CREATE_SQL = `CREATE TEMP TABLE audit_stage (LIKE ${TABLE} INCLUDING DEFAULTS) ON COMMIT DROP`;
export const STAGE_COPY_SQL = `COPY audit_stage (${COLUMN_LIST}) FROM STDIN`;
export const STAGE_MERGE_SQL = `INSERT INTO ${TABLE} (${COLUMN_LIST}) SELECT ${COLUMN_LIST} FROM audit_stage ON CONFLICT DO NOTHING`;

export const ENSURE_PARTITIONS_SQL =
  'SELECT audit_ensure_partitions($1::timestamptz, $2::integer) AS created';
export const RETENTION_SQL = 'SELECT audit_apply_retention($1::timestamptz)::text AS removed';
export const TABLE_EXISTS_SQL = `SELECT to_regclass('${TABLE}') IS NOT NULL AS present`;

export function whereClause(q: AuditQueryParsed, params: unknown[]): string {
  const parts: string[] = [];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    parts.push(sql(`$${params.length}`));
  };
  // Stored text is escaped when it held characters PostgreSQL refuses: compare like with like.
  // event_id leads the primary key (event_id, timestamp): one index probe. A value that is not
  // a UUID matches nothing (rather than failing the query's cast).
  if (q.event_id !== undefined) {
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(q.event_id))
      add((p) => `event_id = ${p}::uuid`, q.event_id);
    else parts.push('false');
  }
  if (q.org_id !== undefined) add((p) => `org_id = ${p}`, toPgString(q.org_id));
  if (q.user_id !== undefined) add((p) => `user_id = ${p}`, toPgString(q.user_id));
  if (q.agent_id !== undefined) add((p) => `agent_id = ${p}`, toPgString(q.agent_id));
  if (q.session_id !== undefined) add((p) => `session_id = ${p}`, toPgString(q.session_id));
  if (q.event_types !== undefined && q.event_types.length > 0)
    add((p) => `event_type = ANY(${p}::text[])`, q.event_types);
  if (q.success !== undefined) add((p) => `success = ${p}`, q.success);
  if (q.since !== undefined) add((p) => `"timestamp" >= ${p}::timestamptz`, q.since);
  if (q.until !== undefined) add((p) => `"timestamp" < ${p}::timestamptz`, q.until);
  return parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`;
}

export function selectSql(q: AuditQueryParsed): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const where = whereClause(q, values);
  values.push(q.limit, q.offset);
  return {
    text: `SELECT ${COLUMN_LIST} FROM ${TABLE} ${where} ORDER BY "timestamp", session_id, seq LIMIT $${values.length - 1} OFFSET $${values.length}`,
    values,
  };
}

export function countSql(q: AuditQueryParsed): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const where = whereClause(q, values);
  return { text: `SELECT count(*)::text AS n FROM ${TABLE} ${where}`, values };
}

export function sessionSql(sessionId: string): { text: string; values: unknown[] } {
  return {
    text: `SELECT ${COLUMN_LIST} FROM ${TABLE} WHERE session_id = $1 ORDER BY seq, "timestamp"`,
    values: [toPgString(sessionId)],
  };
}
