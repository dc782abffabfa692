/**
 * Starts one semibot-runtime node in cluster mode, for the cluster tests and benchmark (and
 * by hand: `CLUSTER_ENABLED=true NODE_ID=n1 node --import tsx scripts/cluster/node.ts`).
 * Configuration comes from the environment (NATS_URL, NODE_ID, DATABASE_URL,
 * AUDIT_STORAGE_TYPE, CLUSTER_LEASE_MS, ...), read once at start like any runtime.
 *
 * When forked with an IPC channel, it takes library calls from the parent — so a test can
 * make a request "arrive at" any node — and reports approval requests it sees:
 *
 *   parent ──{ id, op, ...args }──► this node's Runtime (createSession / session(id).x / audit)
 *          ◄──{ id, ok, value | error }──
 *          ◄──{ event: 'ready', node } · { event: 'approval', session_id, action_id }──
 */
import { createRuntime, RuntimeError } from '../../src/index.ts';
import type { ActionInput, AuditQuery, SessionRequest } from '../../src/index.ts';

/** `org_id` names the org of `session_id` when several orgs have a session of that id */
type Command =
  | { id: number; op: 'create'; request: SessionRequest; traceparent?: string }
  | { id: number; op: 'execute'; session_id: string; org_id?: string; actions: ActionInput[] }
  | { id: number; op: 'approve'; session_id: string; org_id?: string; action_id: string; granted: boolean }
  | { id: number; op: 'status' | 'cancel' | 'end' | 'owner' | 'verify'; session_id: string; org_id?: string }
  | { id: number; op: 'audit'; query: AuditQuery }
  | { id: number; op: 'flush' | 'stats' | 'health' }
  /** times `count` echo actions one after another, here in the node (no IPC in the timing) */
  | { id: number; op: 'time_actions'; session_id: string; count: number }
  /** runs `count` echo actions with `concurrency` in flight; returns the elapsed ms */
  | { id: number; op: 'throughput'; session_ids: string[]; count: number; concurrency: number };

const runtime = createRuntime({ log_level: 'warn', cluster: { enabled: true } }, { env: process.env });
await runtime.start();
const cluster = runtime.cluster!;
runtime.onApprovalRequested((e) =>
  process.send?.({ event: 'approval', session_id: e.session_id, action_id: e.approval.action_id }),
);

async function handle(cmd: Command): Promise<unknown> {
  switch (cmd.op) {
    case 'create': {
      const s = await runtime.createSession(
        cmd.request,
        undefined,
        cmd.traceparent ? { traceparent: cmd.traceparent } : {},
      );
      return { session_id: s.id, owner: cluster.ownerOf(s.id, s.orgId) ?? cluster.nodeId };
    }
    case 'execute':
      return runtime.session(cmd.session_id, cmd.org_id).execute(cmd.actions);
    case 'approve':
      return runtime
        .session(cmd.session_id, cmd.org_id)
        .approve(cmd.action_id, cmd.granted, { decided_by: cluster.nodeId });
    case 'status':
      return runtime.session(cmd.session_id, cmd.org_id).status();
    case 'cancel':
      return runtime.session(cmd.session_id, cmd.org_id).cancel();
    case 'end':
      return runtime.session(cmd.session_id, cmd.org_id).end();
    case 'owner':
      return cluster.ownerOf(cmd.session_id, cmd.org_id) ?? null;
    case 'verify':
      return runtime.audit.verify(cmd.session_id, cmd.org_id);
    case 'audit':
      return runtime.audit.query(cmd.query);
    case 'flush':
      return runtime.audit.flush();
    case 'health':
      return runtime.health();
    case 'stats':
      return { ...cluster.stats(), active_sessions: runtime.stats().active_sessions };
    case 'time_actions': {
      const session = runtime.session(cmd.session_id);
      const ms: number[] = [];
      for (let i = 0; i < cmd.count; i++) {
        const t0 = performance.now();
        const r = await session.execute({ name: 'echo', params: { message: `m${i}` } });
        ms.push(performance.now() - t0);
        if (!r.success) throw new RuntimeError('internal_error', `echo failed: ${r.error?.message}`);
      }
      return ms;
    }
    case 'throughput': {
      const sessions = cmd.session_ids.map((id) => runtime.session(id));
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: cmd.concurrency }, async (_, lane) => {
          const session = sessions[lane % sessions.length]!;
          while (next < cmd.count) {
            next++;
            await session.execute({ name: 'echo', params: { message: 'x' } });
          }
        }),
      );
      return performance.now() - t0;
    }
  }
}

process.on('message', (cmd: Command) => {
  handle(cmd).then(
    (value) => process.send?.({ id: cmd.id, ok: true, value: value ?? null }),
    (err: unknown) =>
      process.send?.({
        id: cmd.id,
        ok: false,
        error:
          err instanceof RuntimeError
            ? err.toWire()
            : { code: 'internal_error', message: (err as Error)?.message ?? String(err) },
      }),
  );
});

const stop = async () => {
  await runtime.stop({ drainTimeoutMs: 2000 });
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
// Forked by a test or benchmark that went away: do not linger.
process.once('disconnect', () => void stop());
process.send?.({ event: 'ready', node: cluster.nodeId });
