/**
 * The nodes ride out a NATS restart (issue 6): while NATS is down, no node judges another's
 * lease; a request made during the outage completes after it; afterwards every session is
 * still running and reachable from every node, and no session was failed with node_lost.
 * The KV buckets live in JetStream's file store, so the registry survives the restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionResult, AuditEvent, RuntimeHealth, SessionStatus } from '../../src/index.ts';
import { IDS, nats, startCluster, TEST_TIMING, type TestCluster, waitFor } from './cluster-harness.ts';

type Health = RuntimeHealth;
let c: TestCluster;
beforeAll(async () => {
  c = await startCluster(3);
});
afterAll(async () => {
  nats.start(); // whatever happened, leave NATS running for everyone else
  await c?.cleanup();
});

const request = { ...IDS, tools: ['echo'] };

describe('a NATS restart', () => {
  it('is ridden out: sessions stay up, reachable from every node, and nobody is declared lost', async () => {
    // Placement follows the load each node last heard in a heartbeat: create sessions a
    // heartbeat apart until every node owns one (bounded), so the restart touches all three.
    const sessions: Array<{ session_id: string; owner: string }> = [];
    for (let i = 0; i < 12 && new Set(sessions.map((s) => s.owner)).size < 3; i++) {
      sessions.push(await c.nodes[0]!.call<{ session_id: string; owner: string }>('create', { request }));
      await new Promise((r) => setTimeout(r, TEST_TIMING.heartbeat_ms));
    }
    expect(new Set(sessions.map((s) => s.owner)).size).toBe(3);
    const remote = sessions.find((s) => s.owner !== c.nodes[0]!.id)!;
    await waitFor(
      () => c.nodes[0]!.call<string | null>('owner', { session_id: remote.session_id }),
      (o) => o === remote.owner,
    );

    // 1. NATS goes away for longer than a lease.
    nats.stop();
    const duringOutage = c.nodes[0]!.call<SessionStatus>('status', { session_id: remote.session_id });
    // The node says so in its health (local sessions still run).
    await waitFor(
      () => c.nodes[1]!.call<Health>('health'),
      (h) => h.components.cluster?.status === 'degraded',
    );
    await new Promise((r) => setTimeout(r, TEST_TIMING.lease_ms * 2));
    // 2. It comes back (same store directory: the KV buckets are still there).
    nats.start();

    // 3. The question asked during the outage gets its answer.
    expect((await duringOutage).state).toBe('running');

    // 4. Every node reaches every session again, and every session is still running.
    for (const node of c.nodes) {
      for (const s of sessions) {
        const [r] = await waitFor(
          () =>
            node
              .call<ActionResult[]>('execute', {
                session_id: s.session_id,
                actions: [{ name: 'echo', params: { message: 'after' } }],
              })
              .catch((err: { code: string }) => [{ success: false, error: err }] as unknown as ActionResult[]),
          (res) => res[0]?.success === true,
          30_000,
        );
        expect(r?.success).toBe(true);
        const status = await node.call<SessionStatus>('status', { session_id: s.session_id });
        expect(status.state).toBe('running');
      }
    }

    // 5. Give the loss detector more than a bound's worth of time: still nobody lost.
    await new Promise((r) => setTimeout(r, TEST_TIMING.lease_ms + TEST_TIMING.node_loss_check_ms * 2));
    expect((await c.nodes[1]!.call<Health>('health')).components.cluster?.status).toBe('healthy');
    const stats = await c.nodes[1]!.call<{ living_nodes: string[] }>('stats');
    expect(stats.living_nodes.sort()).toEqual(c.nodes.map((n) => n.id).sort());
    const errors = await c.nodes[2]!.call<AuditEvent[]>('audit', {
      query: { org_id: IDS.org_id, event_types: ['error', 'session_ended'] },
    });
    expect(errors.filter((e) => e.metadata.error_code === 'node_lost')).toEqual([]);

    // 6. New sessions still spread over all three.
    const after: Array<{ owner: string }> = [];
    for (let i = 0; i < 12 && new Set(after.map((s) => s.owner)).size < 3; i++) {
      after.push(await c.nodes[1]!.call<{ owner: string }>('create', { request }));
      await new Promise((r) => setTimeout(r, TEST_TIMING.heartbeat_ms));
    }
    expect(new Set(after.map((s) => s.owner)).size).toBe(3);
  });

  it('is ridden out when NATS comes back before JetStream does: connected, but no lease can be renewed', async () => {
    const sessions: Array<{ session_id: string }> = [];
    for (const node of c.nodes) sessions.push(await node.call<{ session_id: string }>('create', { request }));

    // 1. NATS restarts without JetStream: every node reconnects, no node can renew its lease,
    //    and the leases each node holds age past lease_ms. A node must not judge its peers now.
    nats.stop();
    nats.start({ jetstream: false });
    await new Promise((r) => setTimeout(r, TEST_TIMING.lease_ms * 2 + TEST_TIMING.node_loss_check_ms * 2));
    // 2. JetStream is back: leases are renewed again, and each peer had a whole lease to do so.
    nats.stop();
    nats.start();
    for (const node of c.nodes) {
      await waitFor(
        () => node.call<Health>('health'),
        (h) => h.components.cluster?.status === 'healthy',
        30_000,
      );
    }
    await new Promise((r) => setTimeout(r, TEST_TIMING.lease_ms + TEST_TIMING.node_loss_check_ms * 2));

    const stats = await c.nodes[2]!.call<{ living_nodes: string[] }>('stats');
    expect(stats.living_nodes.sort()).toEqual(c.nodes.map((n) => n.id).sort());
    const lost = await c.nodes[1]!.call<AuditEvent[]>('audit', {
      query: { org_id: IDS.org_id, event_types: ['error'] },
    });
    expect(lost.filter((e) => e.metadata.error_code === 'node_lost')).toEqual([]);
    for (const s of sessions) {
      const status = await c.nodes[1]!.call<SessionStatus>('status', { session_id: s.session_id });
      expect(status.state).toBe('running');
    }
  });
});
