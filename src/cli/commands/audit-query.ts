/**
 * semibot-runtime audit query [filters] [--json]: reads events from the configured audit store
 * with the same filters as GET /v1/audit/events, and prints a table or JSON lines.
 */
import { parseArgs } from 'node:util';
import { type AuditEvent, AuditQuerySchema } from '../../audit/events.ts';
import type { AuditStore } from '../../audit/stores/store.ts';
import { parseOrThrow } from '../../validation.ts';
import { EXIT_OK, UsageError } from '../command.ts';

export const AUDIT_QUERY_HELP = `query    print events from the configured audit store, oldest first. Filters:
           --org ID  --user ID  --agent ID  --session ID
           --type EVENT_TYPE   (repeatable, or comma-separated: --type action_failed,action_rejected)
           --success true|false
           --since ISO-TIME  --until ISO-TIME   (until is exclusive)
           --limit N (100, at most 10000)  --offset N (0)
         Output: a table, or with --json one event a line (JSON lines). --count prints only
         how many events match (limit and offset ignored).`;

const OPTIONS = {
  org: { type: 'string' },
  user: { type: 'string' },
  agent: { type: 'string' },
  session: { type: 'string' },
  type: { type: 'string', multiple: true },
  success: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  offset: { type: 'string' },
  json: { type: 'boolean', default: false },
  count: { type: 'boolean', default: false },
} as const;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // An unknown or malformed flag is a usage error (exit 2), not a failure.
    throw new UsageError((err as Error).message.split('. ')[0]!);
  }
}

export async function auditQuery(store: AuditStore, argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv);
  if (positionals.length > 0)
    throw new UsageError(`audit query takes flags only (got ${positionals.join(' ')})`);
  const int = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${flag} expects a whole number, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  if (values.success !== undefined && values.success !== 'true' && values.success !== 'false') {
    throw new UsageError(`--success expects true or false, got ${JSON.stringify(values.success)}`);
  }
  const raw = {
    ...(values.org !== undefined ? { org_id: values.org } : {}),
    ...(values.user !== undefined ? { user_id: values.user } : {}),
    ...(values.agent !== undefined ? { agent_id: values.agent } : {}),
    ...(values.session !== undefined ? { session_id: values.session } : {}),
    ...(values.type ? { event_types: values.type.flatMap((t) => t.split(',')).filter(Boolean) } : {}),
    ...(values.success !== undefined ? { success: values.success === 'true' } : {}),
    ...(values.since !== undefined ? { since: values.since } : {}),
    ...(values.until !== undefined ? { until: values.until } : {}),
    ...(values.limit !== undefined ? { limit: int('limit', values.limit) } : {}),
    ...(values.offset !== undefined ? { offset: int('offset', values.offset) } : {}),
  };
  let query: ReturnType<typeof AuditQuerySchema.parse>;
  try {
    query = parseOrThrow(AuditQuerySchema, raw, 'invalid_request', 'filters');
  } catch (err) {
    throw new UsageError(
      (err as Error).message.replace('event_types', '--type').replace(/\blimit\b/, '--limit'),
    );
  }
  if (values.count) {
    console.log(String(await store.count(query)));
    return EXIT_OK;
  }
  const events = await store.query(query);
  if (values.json) {
    for (const e of events) process.stdout.write(`${JSON.stringify(e)}\n`);
  } else {
    printTable(events);
  }
  return EXIT_OK;
}

function printTable(events: AuditEvent[]): void {
  const rows = events.map((e) => [
    e.timestamp,
    e.event_type,
    e.session_id.length > 13 ? `${e.session_id.slice(0, 12)}…` : e.session_id,
    String(e.seq),
    e.action_name ?? '',
    e.success === null ? '' : String(e.success),
    e.message.length > 60 ? `${e.message.slice(0, 59)}…` : e.message,
  ]);
  const header = ['TIMESTAMP', 'EVENT', 'SESSION', 'SEQ', 'ACTION', 'SUCCESS', 'MESSAGE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(`${events.length} event(s)`);
}
