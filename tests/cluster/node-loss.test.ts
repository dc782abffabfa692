/**
 * A node killed with SIGKILL mid-session (issue 6): its lease runs out, a surviving node
 * marks its sessions failed with node_lost — once, audited in the shared PostgreSQL,
 * continuing each session's hash chain — within lease_ms + node_loss_check_ms; callers
 * waiting on it get node_lost; new sessions go to the living nodes; nothing the dead node
 * had stored is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionResult, AuditEvent, SessionStatus, VerifyResult } from '../../src/index.ts';
import { IDS, startCluster, TEST_TIMING, type TestCluster, waitFor } from './cluster-harness.ts';

let c: TestCluster;
beforeAll(async () => {
  c = await startCluster(3);
});
afterAll(async () => {
  await c?.cleanup();
});

const request = { ...IDS, tools: ['echo', 'write_file', 'delete_file'], policy: { approval_timeout_seconds: 60 } };
/** how long the test allows for the configured bound, plus scheduling slack on a busy 2-core machine */
const LOSS_BOUND_MS = TEST_TIMING.lease_ms + TEST_TIMING.node_loss_check_ms + 5000;

describe('losing a node', () => {
  it('fails its sessions with node_lost, audited once by a survivor, and places new sessions on the living', async () => {
    const [a, b, victim] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0], (typeof c.nodes)[0]];
    // 1. Two sessions on the victim (created there until placement by load keeps two there).
    const onVictim: Array<{ session_id: string; owner: string }> = [];
    for (let i = 0; i < 12 && onVictim.length < 2; i++) {
      const made = await victim.call<{ session_id: string; owner: string }>('create', { request });
      if (made.owner === victim.id) onVictim.push(made);
    }
    const [busy, idle] = onVictim as [(typeof onVictim)[0], (typeof onVictim)[0]];
    expect([busy.owner, idle.owner]).toEqual([victim.id, victim.id]);
    await waitFor(
      () => a.call<string | null>('owner', { session_id: busy.session_id }),
      (o) => o === victim.id,
    );

    // 2. Node A forwards an action that waits for approval on the victim: mid-session.
    const [written] = await a.call<ActionResult[]>('execute', {
      session_id: busy.session_id,
      actions: [{ name: 'write_file', params: { path: 'x.log', content: 'x' } }],
    });
    expect(written?.success).toBe(true);
    const pending = a
      .call<ActionResult[]>('execute', {
        session_id: busy.session_id,
        actions: [{ id: 'del', name: 'delete_file', params: { path: 'x.log' } }],
      })
      .then(
        () => ({ code: 'resolved', at: Date.now() }),
        (err: { code: string }) => ({ code: err.code, at: Date.now() }),
      );
    await waitFor(
      async () => a.approvals,
      (list) => list.some((x) => x.action_id === 'del'),
    );
    // What the victim had stored (acknowledged) before it died: read through node A.
    const before = await waitFor(
      () => a.call<AuditEvent[]>('audit', { query: { session_id: busy.session_id } }),
      (events) => events.some((e) => e.event_type === 'approval_requested'),
    );

    // 3. kill -9.
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;

    // 4. The caller waiting on the dead node gets node_lost within the bound.
    const outcome = await pending;
    expect(outcome.code).toBe('node_lost');
    expect(outcome.at - killedAt).toBeLessThan(LOSS_BOUND_MS);

    // 5. Every survivor reports both sessions failed with node_lost.
    for (const node of [a, b]) {
      for (const s of [busy, idle]) {
        const status = await waitFor(
          () => node.call<SessionStatus>('status', { session_id: s.session_id }),
          (st) => st.state === 'failed',
          LOSS_BOUND_MS,
        );
        expect(status.error).toMatchObject({ code: 'node_lost', data: { node: victim.id } });
      }
    }
    await expect(
      b.call('execute', { session_id: idle.session_id, actions: [{ name: 'echo', params: { message: 'x' } }] }),
    ).rejects.toMatchObject({ code: 'node_lost' });

    // 6. The trail: everything stored before the kill is still there, then exactly one
    //    error + session_ended pair by one survivor, continuing the chain (verify passes).
    for (const s of [busy, idle]) {
      const events = await waitFor(
        () => b.call<AuditEvent[]>('audit', { query: { session_id: s.session_id } }),
        (list) => list.some((e) => e.event_type === 'session_ended'),
      );
      const ended = events.filter((e) => e.event_type === 'session_ended');
      expect(ended).toHaveLength(1);
      expect(ended[0]!.metadata).toMatchObject({
        error_code: 'node_lost',
        lost_node: victim.id,
        state: 'failed',
        chain: 'continued',
      });
      expect([a.id, b.id]).toContain(ended[0]!.metadata.audited_by);
      const verified = await a.call<VerifyResult>('verify', { session_id: s.session_id });
      expect(verified).toMatchObject({ ok: true, complete: true });
    }
    const after = new Set(
      (await a.call<AuditEvent[]>('audit', { query: { session_id: busy.session_id } })).map((e) => e.event_id),
    );
    for (const e of before) expect(after.has(e.event_id)).toBe(true);

    // 7. New sessions go to the living nodes only.
    const placed = [];
    for (let i = 0; i < 4; i++) placed.push(await a.call<{ owner: string }>('create', { request }));
    for (const p of placed) expect([a.id, b.id]).toContain(p.owner);
    expect((await a.call<{ living_nodes: string[] }>('stats')).living_nodes.sort()).toEqual([a.id, b.id].sort());
  });

  it('a node restarted under the same id fails the sessions of its earlier life itself', async () => {
    const a = c.nodes[0]!;
    const n2 = c.nodes[1]!;
    let s = await n2.call<{ session_id: string; owner: string }>('create', { request });
    for (let i = 0; i < 6 && s.owner !== n2.id; i++) s = await n2.call('create', { request });
    expect(s.owner).toBe(n2.id);
    n2.child.kill('SIGKILL');
    await n2.exited;
    // Back before its lease ran out: the new process owns none of the old sessions.
    const again = await c.startNode(n2.id);
    const status = await waitFor(
      () => again.call<SessionStatus>('status', { session_id: s.session_id }),
      (st) => st.state === 'failed',
    );
    expect(status.error?.code).toBe('node_lost');
    const ended = await waitFor(
      () => a.call<AuditEvent[]>('audit', { query: { session_id: s.session_id, event_types: ['session_ended'] } }),
      (list) => list.length > 0,
    );
    expect(ended).toHaveLength(1);
  });
});
