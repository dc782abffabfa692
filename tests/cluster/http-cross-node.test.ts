/**
 * Two daemons (`semibot-runtime serve`) in one cluster: every HTTP route works from the node
 * that does not own the session — status, actions, approvals, cancel and audit queries.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClusterBuckets } from '../../scripts/cluster/launch.ts';
import { type DaemonProcess, startDaemon } from '../e2e/daemon-harness.ts';
import { createTestDatabase, type TestDatabase } from '../integration/postgres/pg-test-db.ts';
import { NATS_URL, nodeEnv } from './cluster-harness.ts';

const TOKEN = 'cluster-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

describe('the HTTP API of a cluster', () => {
  let db: TestDatabase;
  let dir: string;
  const run = `h${randomBytes(3).toString('hex')}`;
  const daemons: DaemonProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-http-cluster-'));
    for (const id of ['a', 'b']) {
      daemons.push(
        await startDaemon({
          ...nodeEnv({ id, run, databaseUrl: db.url, dir }),
          API_TOKENS: `${TOKEN}=acme`,
          LOG_LEVEL: 'warn',
        }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    for (const d of daemons) d.kill();
    await Promise.all(daemons.map((d) => d.exited));
    await db?.drop();
    await destroyClusterBuckets(NATS_URL, run);
    await rm(dir, { recursive: true, force: true });
  });

  const call = async (base: string, method: string, route: string, body?: unknown) => {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: body === undefined ? AUTH : { ...AUTH, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('serves a session from the node that does not own it', async () => {
    const [a, b] = daemons as [DaemonProcess, DaemonProcess];
    // 1. Sessions created at A are spread over both nodes; pick one that lives on B.
    const created: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await call(a.api, 'POST', '/v1/sessions', {
        org_id: 'acme',
        user_id: 'alice',
        agent_id: 'agent-1',
        tools: ['echo', 'write_file', 'delete_file'],
        planner: { type: 'external' },
      });
      expect(r.status).toBe(201);
      created.push(r.body.session_id as string);
    }
    // 2. Every session answers on both nodes, whoever owns it.
    for (const id of created) {
      for (const node of [a, b]) {
        const status = await call(node.api, 'GET', `/v1/sessions/${id}`);
        expect(status.status).toBe(200);
        expect(status.body.state).toBe('running');
      }
    }
    // 3. Actions and an approval, each sent to the other node than the one before.
    const id = created[0]!;
    const echo = await call(b.api, 'POST', `/v1/sessions/${id}/actions`, [
      { id: 'e1', name: 'echo', params: { message: 'from b' } },
    ]);
    expect(echo.status).toBe(200);
    expect((echo.body.results as Array<{ success: boolean }>)[0]?.success).toBe(true);
    await call(a.api, 'POST', `/v1/sessions/${id}/actions`, [
      { name: 'write_file', params: { path: 'f.txt', content: 'x' } },
    ]);
    const pending = call(a.api, 'POST', `/v1/sessions/${id}/actions`, [
      { id: 'del', name: 'delete_file', params: { path: 'f.txt' } },
    ]);
    for (;;) {
      const s = await call(b.api, 'GET', `/v1/sessions/${id}`);
      if (s.body.state === 'waiting_approval') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const approval = await call(b.api, 'POST', `/v1/sessions/${id}/approvals/del`, {
      granted: true,
      reason: 'cleanup',
    });
    expect(approval.status).toBeLessThan(300);
    const deleted = await pending;
    expect((deleted.body.results as Array<{ success: boolean }>)[0]?.success).toBe(true);
    // 4. Cancel from B; A sees it ended.
    expect((await call(b.api, 'DELETE', `/v1/sessions/${id}`)).status).toBe(200);
    expect((await call(a.api, 'GET', `/v1/sessions/${id}`)).body.state).toBe('cancelled');
    // 5. The trail is readable from both nodes and agrees.
    const fromA = await call(a.api, 'GET', `/v1/audit/events?session_id=${id}&limit=100`);
    const fromB = await call(b.api, 'GET', `/v1/audit/events?session_id=${id}&limit=100`);
    const ids = (r: { body: Record<string, unknown> }) =>
      (r.body.events as Array<{ event_id: string }>).map((e) => e.event_id);
    expect(ids(fromA).length).toBeGreaterThan(5);
    expect(ids(fromA)).toEqual(ids(fromB));
    const types = (fromA.body.events as Array<{ event_type: string }>).map((e) => e.event_type);
    expect(types).toEqual(expect.arrayContaining(['approval_requested', 'approval_granted', 'session_ended']));
  }, 120_000);
});
