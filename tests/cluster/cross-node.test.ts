/**
 * Three runtime processes on loopback sharing the local NATS and one PostgreSQL database
 * (issue 6): sessions spread across nodes, and every call — status, execute, approval,
 * cancel, audit — works from any node, whichever node owns the session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionResult, AuditEvent, SessionStatus, VerifyResult } from '../../src/index.ts';
import { IDS, startCluster, type TestCluster, waitFor } from './cluster-harness.ts';

let c: TestCluster;
const request = (extra: Record<string, unknown> = {}) => ({
  ...IDS,
  tools: ['echo', 'write_file', 'delete_file'],
  policy: { approval_timeout_seconds: 60 },
  ...extra,
});

beforeAll(async () => {
  c = await startCluster(3);
});
afterAll(async () => {
  await c?.cleanup();
});

async function create(at: number, extra: Record<string, unknown> = {}) {
  return c.nodes[at]!.call<{ session_id: string; owner: string }>('create', { request: request(extra) });
}

/** The index of a node other than `owner`'s. */
function otherThan(owner: string, but?: string): number {
  return c.nodes.findIndex((n) => n.id !== owner && n.id !== but);
}

describe('a three-node cluster', () => {
  it('spreads sessions created at one node across all three, by load', async () => {
    const made = [];
    for (let i = 0; i < 6; i++) made.push(await create(0));
    const owners = new Set(made.map((m) => m.owner));
    expect(owners).toEqual(new Set(c.nodes.map((n) => n.id)));
    // Every node agrees on who owns what (one registry, one address space).
    for (const m of made) {
      for (const node of c.nodes) {
        await waitFor(
          () => node.call<string | null>('owner', { session_id: m.session_id }),
          (o) => o === m.owner,
        );
      }
    }
    for (const m of made) await c.nodes[0]!.call('end', { session_id: m.session_id });
  });

  it('answers status and executes actions for a session from every node', async () => {
    const s = await create(0);
    for (const [i, node] of c.nodes.entries()) {
      const status = await waitFor(
        () => node.call<SessionStatus>('status', { session_id: s.session_id }).catch(() => undefined),
        (st) => st !== undefined,
      );
      expect(status).toMatchObject({ session_id: s.session_id, org_id: 'acme', state: 'running' });
      const [result] = await node.call<ActionResult[]>('execute', {
        session_id: s.session_id,
        actions: [{ name: 'echo', params: { message: `from node ${i}` } }],
      });
      expect(result).toMatchObject({ success: true, result: { message: `from node ${i}` } });
    }
    // Bad input still gets its own code across the hop.
    const [bad] = await c.nodes[otherThan(s.owner)]!.call<ActionResult[]>('execute', {
      session_id: s.session_id,
      actions: [{ name: 'no_such_tool' }],
    });
    expect(bad?.error?.code).toBe('capability_not_found');
    await c.nodes[0]!.call('end', { session_id: s.session_id });
  });

  it('takes an approval at a third node for an action that a second node forwarded to the owner', async () => {
    const s = await create(0);
    const caller = otherThan(s.owner);
    const approver = otherThan(s.owner, c.nodes[caller]!.id);
    const at = c.nodes[caller]!;
    const [written] = await at.call<ActionResult[]>('execute', {
      session_id: s.session_id,
      actions: [{ name: 'write_file', params: { path: `${s.session_id}.log`, content: 'old' } }],
    });
    expect(written?.success).toBe(true);

    // 1. The high-risk action waits for a person, its call still open at the caller.
    const pending = at.call<ActionResult[]>('execute', {
      session_id: s.session_id,
      actions: [{ id: 'delete-it', name: 'delete_file', params: { path: `${s.session_id}.log` } }],
    });
    // 2. The approver's node hears of it (published by the owner) and sees it in status.
    await waitFor(
      async () => c.nodes[approver]!.approvals,
      (list) => list.some((a) => a.session_id === s.session_id && a.action_id === 'delete-it'),
    );
    const waiting = await c.nodes[approver]!.call<SessionStatus>('status', { session_id: s.session_id });
    expect(waiting.pending_approvals.map((p) => p.action_id)).toEqual(['delete-it']);
    // 3. Approving an action that is not pending is refused with its code, across the hop.
    await expect(
      c.nodes[approver]!.call('approve', { session_id: s.session_id, action_id: 'nope', granted: true }),
    ).rejects.toMatchObject({ code: 'approval_not_found' });
    // 4. Approved there, the action runs on the owner and the caller's call returns.
    await c.nodes[approver]!.call('approve', { session_id: s.session_id, action_id: 'delete-it', granted: true });
    const [deleted] = await pending;
    expect(deleted).toMatchObject({ action_id: 'delete-it', success: true });

    // 5. The trail, written by the owner, is read back from any node, in one chain.
    const events = await c.nodes[caller]!.call<AuditEvent[]>('audit', { query: { session_id: s.session_id } });
    const types = events.map((e) => e.event_type);
    expect(types).toEqual(expect.arrayContaining(['session_started', 'approval_requested', 'approval_granted']));
    const granted = events.find((e) => e.event_type === 'approval_granted')!;
    expect(JSON.stringify(granted)).toContain(c.nodes[approver]!.id);
    const verified = await c.nodes[approver]!.call<VerifyResult>('verify', { session_id: s.session_id });
    expect(verified.ok).toBe(true);
  });

  it('cancels a session from a node that does not own it; later calls say it ended', async () => {
    const s = await create(0);
    const at = c.nodes[otherThan(s.owner)]!;
    await waitFor(
      () => at.call<string | null>('owner', { session_id: s.session_id }),
      (o) => o === s.owner,
    );
    const cancelled = await at.call<SessionStatus>('cancel', { session_id: s.session_id });
    expect(cancelled.state).toBe('cancelled');
    await expect(
      at.call('execute', { session_id: s.session_id, actions: [{ name: 'echo', params: { message: 'x' } }] }),
    ).rejects.toMatchObject({ code: 'session_not_active' });
    const ended = await waitFor(
      () => at.call<AuditEvent[]>('audit', { query: { session_id: s.session_id, event_types: ['session_ended'] } }),
      (e) => e.length === 1,
    );
    expect(ended[0]!.metadata).toMatchObject({ state: 'cancelled' });
  });

  it('refuses a session id that another node already holds, and names unknown sessions', async () => {
    const s = await create(0);
    const elsewhere = otherThan(s.owner);
    await expect(
      c.nodes[elsewhere]!.call('create', { request: request({ session_id: s.session_id }) }),
    ).rejects.toMatchObject({ code: 'session_exists' });
    for (const node of c.nodes) {
      await expect(node.call('status', { session_id: 'no-such-session' })).rejects.toMatchObject({
        code: 'session_not_found',
      });
    }
  });
  it('lets another org use an id that one org holds on another node; each node reaches each org\'s own (issue 15)', async () => {
    const first = await create(0, { session_id: 'cluster-shared-id' });
    const elsewhere = otherThan(first.owner);
    const second = await c.nodes[elsewhere]!.call<{ session_id: string; owner: string }>('create', {
      request: request({ session_id: 'cluster-shared-id', org_id: 'other-org' }),
    });
    expect(second.session_id).toBe('cluster-shared-id');
    for (const node of c.nodes) {
      for (const org of [IDS.org_id, 'other-org']) {
        const [r] = await node.call<ActionResult[]>('execute', {
          session_id: 'cluster-shared-id',
          org_id: org,
          actions: [{ name: 'echo', params: { message: org } }],
        });
        expect(r).toMatchObject({ success: true, result: { message: org } });
      }
    }
    await c.nodes[0]!.call('cancel', { session_id: 'cluster-shared-id', org_id: 'other-org' });
    const kept = await c.nodes[elsewhere]!.call<SessionStatus>('status', {
      session_id: 'cluster-shared-id',
      org_id: IDS.org_id,
    });
    expect(kept).toMatchObject({ org_id: IDS.org_id, state: 'running' });
    expect(kept.results).toHaveLength(3);
    await c.nodes[0]!.call('end', { session_id: 'cluster-shared-id', org_id: IDS.org_id });
    for (const org of [IDS.org_id, 'other-org']) {
      const verified = await c.nodes[1]!.call<VerifyResult>('verify', { session_id: 'cluster-shared-id', org_id: org });
      expect(verified).toMatchObject({ ok: true, org_id: org, complete: true });
    }
  });
});
