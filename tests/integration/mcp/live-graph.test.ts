/**
 * A live session sees MCP tools come and go: the server changes its tool list
 * (notifications/tools/list_changed), disconnects (its tools drop out, calls fail fast with
 * mcp_unavailable) and reconnects (they come back), although the graph was built (and cached
 * per agent) at session start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';
import { eventsOf, stdioServer, waitFor } from './helpers.ts';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime({
    mcp: { reconnect_delay: 1.5 },
    capability: { cache_ttl: 300 },
    policy: { max_iterations: 10_000 },
  });
});
afterAll(async () => {
  await t?.cleanup();
});

describe('the capability graph follows the MCP server', () => {
  it('refreshes the tool list when the server says it changed, in live and cached graphs', async () => {
    const server = stdioServer('live');
    const a = await t.runtime.createSession({ ...IDS, agent_id: 'live-agent', mcp_servers: [server] });
    const before = await a.execute({ name: 'mcp__live__extra', params: { n: 1 } });
    expect(before.error?.code).toBe('capability_not_found');

    // 1. The server adds a tool; the SDK notifies, the gateway re-lists, hosts get the new version.
    expect((await a.execute({ name: 'mcp__live__add_tool', params: { name: 'extra' } })).success).toBe(true);
    const added = await waitFor(async () => {
      const r = await a.execute({ name: 'mcp__live__extra', params: { n: 1 } });
      return r.success ? r : undefined;
    });
    expect(added.result).toMatchObject({ content: [{ type: 'text', text: 'extra' }] });

    // 2. A new session of the same agent (graph from the per-agent cache) sees it too.
    const b = await t.runtime.createSession({ ...IDS, agent_id: 'live-agent', mcp_servers: [server] });
    expect(b.capabilities.map((c) => c.name)).toContain('mcp__live__extra');

    // 3. Removed again: it drops out of the graph.
    await a.execute({ name: 'mcp__live__remove_tool', params: { name: 'extra' } });
    await waitFor(async () => {
      const r = await a.execute({ name: 'mcp__live__extra', params: { n: 1 } });
      return r.error?.code === 'capability_not_found' || undefined;
    });
    await a.end();
    await b.end();
  });

  it('drops a disconnected server out of the graph and brings it back after reconnect_delay', async () => {
    const server = stdioServer('flap');
    const a = await t.runtime.createSession({ ...IDS, agent_id: 'flap-agent', mcp_servers: [server] });
    const crash = await a.execute({ name: 'mcp__flap__crash', params: { delay_ms: 0 } });
    expect(crash.error?.code).toBe('mcp_unavailable');

    // 1. While it is down: calls fail fast with mcp_unavailable; a new session gets no tools from it.
    const down = await a.execute({ name: 'mcp__flap__echo', params: { message: 'x' } });
    expect(down.error?.code).toBe('mcp_unavailable');
    expect(down.error?.message).toMatch(/disconnected/);
    const b = await t.runtime.createSession({ ...IDS, agent_id: 'flap-agent-2', mcp_servers: [server] });
    expect(b.capabilities.filter((c) => c.kind === 'mcp')).toEqual([]);
    expect((await t.runtime.health()).components.mcp_client?.status).toBe('degraded');

    // 2. After reconnect_delay the gateway reconnects; both sessions are told and can call again.
    await waitFor(
      async () =>
        (await eventsOf(t.runtime, b.id)).some((e) => e.event_type === 'mcp_connected') || undefined,
    );
    expect((await a.execute({ name: 'mcp__flap__echo', params: { message: 'back' } })).success).toBe(true);
    expect((await b.execute({ name: 'mcp__flap__echo', params: { message: 'back' } })).success).toBe(true);
    expect((await t.runtime.health()).components.mcp_client?.status).toBe('healthy');

    const types = (await eventsOf(t.runtime, a.id)).map((e) => e.event_type);
    // connected at start → disconnected → connected again, all in a's own chain
    expect(types.filter((x) => x === 'mcp_connected' || x === 'mcp_disconnected')).toEqual([
      'mcp_connected',
      'mcp_disconnected',
      'mcp_connected',
    ]);
    expect((await t.runtime.audit.verify(a.id)).ok).toBe(true);
    expect((await t.runtime.audit.verify(b.id)).ok).toBe(true);
    await a.end();
    await b.end();
  });
});
