/**
 * semibot-runtime audit verify [--session ID [--org ID]]
 * Recomputes sessions' hash chains straight from the configured audit store and names the
 * first event that was altered, removed or reordered.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../../config/load.ts';
import { parseSigningKeys } from '../../audit/checkpoints.ts';
import { type SessionSelector, verifyTrail } from '../../audit/verify-trail.ts';
import { AuditQuerySchema } from '../../audit/events.ts';
import { createAuditStore } from '../../audit/stores/index.ts';
import type { AuditStore } from '../../audit/stores/store.ts';
import { type Command, EXIT_FAILED, EXIT_OK, UsageError } from '../command.ts';
import { AUDIT_QUERY_HELP, auditQuery } from './audit-query.ts';

const PAGE = 5000;

type Sub = (store: AuditStore, argv: string[]) => Promise<number>;

const SUBCOMMANDS: Record<string, Sub> = {
  verify: verify,
  query: auditQuery,
};

export const auditCommand: Command = {
  name: 'audit',
  summary: 'inspect the audit trail (verify hash chains, query events)',
  help: `Usage: semibot-runtime audit verify [--session ID [--org ID]] [--json]
       semibot-runtime audit query [--org ID] [--session ID] [--type T]... [--json] ...

verify   recompute each session's hash chain in the configured audit store
         (AUDIT_STORAGE_TYPE, AUDIT_LOG_DIR, DATABASE_URL) and report the first event that
         was altered, removed or reordered. Without --session, every session in the store.
         Session ids are unique within an org: --org picks one org's session of that id.
         Exit code 0 when every chain holds, 1 when one is broken.

${AUDIT_QUERY_HELP}`,

  async run(argv) {
    const [sub, ...rest] = argv;
    const handler = sub ? SUBCOMMANDS[sub] : undefined;
    if (!handler) throw new UsageError(`expected a subcommand: ${Object.keys(SUBCOMMANDS).join(', ')}`);
    const store = createAuditStore(loadConfig());
    await store.init();
    try {
      return await handler(store, rest);
    } finally {
      await store.close();
    }
  },
};

async function verify(store: AuditStore, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { session: { type: 'string' }, org: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.org !== undefined && values.session === undefined) {
    throw new UsageError('audit verify: --org names the org of --session; give both');
  }
  const sessions: SessionSelector[] = values.session
    ? [{ session_id: values.session, ...(values.org !== undefined ? { org_id: values.org } : {}) }]
    : await allSessions(store);
  let broken = 0;
  const trail = await verifyTrail(store, parseSigningKeys(loadConfig().audit.signing_key), sessions);
  for (const result of trail.sessions) {
    const sessionId = result.session_id;
    // Ids are unique within an org only: each line names its org at the end.
    const org = result.org_id === undefined ? '' : ` [org ${result.org_id}]`;
    if (!result.ok) broken++;
    if (values.json) {
      console.log(JSON.stringify(result));
    } else if (result.ok) {
      console.log(`ok      ${sessionId}: ${result.events} events${result.complete ? '' : ' (session not ended)'}${org}`);
    } else {
      const bad = result.first_bad!;
      console.log(`BROKEN  ${sessionId}: event seq ${bad.seq} (${bad.event_id}) ${bad.problem}: ${bad.detail}${org}`);
    }
  }
  if (values.session && sessions.length === 1) {
    const events = (await store.sessionEvents(values.session)).filter(
      (e) => values.org === undefined || e.org_id === values.org,
    );
    if (events.length === 0) {
      console.error(`no events for session ${values.session}`);
      return EXIT_FAILED;
    }
  }
  // What the signed checkpoints say is missing or recomputed, and lines the store could not read.
  const problems = values.session
    ? trail.problems.filter(
        (p) =>
          p.session_id === undefined ||
          (p.session_id === values.session && (values.org === undefined || p.org_id === values.org)),
      )
    : trail.problems;
  for (const problem of problems) {
    if (values.json) console.log(JSON.stringify({ problem: problem.kind, ...problem }));
    else console.log(`${problem.kind.toUpperCase().padEnd(7)} ${problem.detail}`);
  }
  if (!values.json) {
    console.log(
      `${trail.sessions.length} session(s) checked, ${broken} broken; ${trail.checkpoints} checkpoint(s)` +
        `${trail.checkpoints > 0 && !trail.signed ? ' (unsigned: set AUDIT_SIGNING_KEY to detect a recomputed chain)' : ''}, ` +
        `${problems.length} problem(s)`,
    );
  }
  return broken === 0 && problems.length === 0 ? EXIT_OK : EXIT_FAILED;
}

/** Every session id in the store; verifyTrail splits each into its orgs' chains. */
async function allSessions(store: AuditStore): Promise<SessionSelector[]> {
  const ids = new Set<string>();
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.query(AuditQuerySchema.parse({ limit: PAGE, offset }));
    for (const e of page) ids.add(e.session_id);
    if (page.length < PAGE) return [...ids].sort().map((session_id) => ({ session_id }));
  }
}
