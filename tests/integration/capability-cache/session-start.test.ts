/**
 * What the capability cache does for a session start with MCP servers: a hit asks no server
 * for its tools (the fixture server counts tools/list requests), a miss lists them again, a
 * changed tool list drops the cached graphs, CAPABILITY_CACHE_TTL=0 turns it off, several
 * runtimes share it through Redis, and Redis going away never fails a session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Session } from '../../../src/index.ts';
import { RuntimeMetrics } from '../../../src/metrics/runtime-metrics.ts';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';
import { PrivateRedis, SHARED_REDIS_URL, testPrefix } from '../../helpers/redis.ts';
import { stdioServer, waitFor } from '../mcp/helpers.ts';

const started: TestRuntime[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.cleanup()));
  for (const c of cleanups.splice(0)) await c();
});

async function runtime(overrides: Parameters<typeof startTestRuntime>[0] = {}): Promise<TestRuntime> {
  const t = await startTestRuntime({ capability: { cache_ttl: 300 }, ...overrides });
  started.push(t);
  return t;
}

/** How many tools/list requests the session's server process has answered. */
async function listRequests(session: Session, serverId: string): Promise<number> {
  const r = await session.execute({ name: `mcp__${serverId}__list_requests`, params: {} });
  expect(r.success, JSON.stringify(r.error)).toBe(true);
  const text = (r.result as { content: Array<{ text: string }> }).content[0]!.text;
  return (JSON.parse(text) as { count: number }).count;
}

describe('session start with MCP servers and the capability cache', () => {
  it('a hit asks no server; another agent or a changed tool list makes a miss that lists again', async () => {
    const t = await runtime();
    const server = stdioServer('lc');
    const a = await t.runtime.createSession({ ...IDS, agent_id: 'cached-agent', mcp_servers: [server] });
    expect(await listRequests(a, 'lc')).toBe(1); // the connect listed the tools once

    const b = await t.runtime.createSession({ ...IDS, agent_id: 'cached-agent', mcp_servers: [server] });
    expect(b.capabilities.map((c) => c.name)).toContain('mcp__lc__echo');
    expect(await listRequests(b, 'lc')).toBe(1); // hit: not asked
    expect(t.runtime.stats().capability_cache).toMatchObject({ backend: 'in_process', hits: 1, misses: 1 });

    await t.runtime.createSession({ ...IDS, agent_id: 'other-agent', mcp_servers: [server] });
    expect(await listRequests(a, 'lc')).toBe(2); // another agent's graph: a miss, listed again

    // The server changes its list (notifications/tools/list_changed → the gateway lists, 3):
    // every cached graph built with the old list goes, so the next start lists again (4).
    await a.execute({ name: 'mcp__lc__add_tool', params: { name: 'fresh' } });
    await waitFor(() => (t.runtime.stats().capability_cache?.invalidations ?? 0) >= 1 || undefined);
    const c = await t.runtime.createSession({ ...IDS, agent_id: 'cached-agent', mcp_servers: [server] });
    expect(c.capabilities.map((x) => x.name)).toContain('mcp__lc__fresh');
    expect(await listRequests(c, 'lc')).toBe(4);
    expect(t.runtime.stats().capability_cache).toMatchObject({ hits: 1, misses: 3 });
    const metrics = await new RuntimeMetrics(t.runtime).text();
    expect(metrics).toContain('runtime_capability_cache_lookups_total{result="hit"} 1');
    expect(metrics).toContain('runtime_capability_cache_lookups_total{result="miss"} 3');
    expect((await t.runtime.health()).components.capability_cache).toEqual({
      status: 'healthy',
      detail: expect.stringMatching(/^in process, \d+ entr/),
    });
  });

  it('sessions of a new agent starting together share one tools/list', async () => {
    const t = await runtime();
    const server = stdioServer('herd');
    const first = await t.runtime.createSession({ ...IDS, agent_id: 'herd-warm', mcp_servers: [server] });
    expect(await listRequests(first, 'herd')).toBe(1);
    // 20 sessions of an agent not yet cached, at once: one miss each, one request between them.
    await Promise.all(
      Array.from({ length: 20 }, () => t.runtime.createSession({ ...IDS, agent_id: 'herd-new', mcp_servers: [server] })),
    );
    expect(await listRequests(first, 'herd')).toBe(2);
  });

  it('with CAPABILITY_CACHE_TTL=0 every session start asks the servers again', async () => {
    const t = await runtime({ capability: { cache_ttl: 0 } });
    const server = stdioServer('nocache');
    const sessions: Session[] = [];
    for (let i = 0; i < 3; i++) {
      sessions.push(await t.runtime.createSession({ ...IDS, agent_id: 'nocache-agent', mcp_servers: [server] }));
    }
    expect(await listRequests(sessions[0]!, 'nocache')).toBe(3);
    expect(t.runtime.stats().capability_cache).toMatchObject({ hits: 0, misses: 3 });
    expect((await t.runtime.health()).components.capability_cache?.detail).toMatch(/disabled \(capability.cache_ttl is 0\)/);
  });

  it('runtimes sharing REDIS_URL share the cache: the second node starts the agent without listing', async () => {
    const p = testPrefix();
    cleanups.push(p.cleanup);
    const redis = { url: SHARED_REDIS_URL, key_prefix: p.prefix };
    const nodeA = await runtime({ redis });
    const nodeB = await runtime({ redis });
    const server = stdioServer('shared');

    const onA = await nodeA.runtime.createSession({ ...IDS, agent_id: 'shared-agent', mcp_servers: [server] });
    expect(await listRequests(onA, 'shared')).toBe(1);
    // Node B has its own connection (its own server process), seeded from Redis: never listed.
    const onB = await nodeB.runtime.createSession({ ...IDS, agent_id: 'shared-agent', mcp_servers: [server] });
    expect(onB.capabilities.filter((c) => c.kind === 'mcp').map((c) => c.name).sort()).toEqual(
      onA.capabilities.filter((c) => c.kind === 'mcp').map((c) => c.name).sort(),
    );
    expect(await listRequests(onB, 'shared')).toBe(0);
    expect((await onB.execute({ name: 'mcp__shared__echo', params: { message: 'via B' } })).success).toBe(true);
    expect(nodeB.runtime.stats().capability_cache).toMatchObject({ backend: 'redis', hits: 1, misses: 0 });
    expect((await nodeB.runtime.health()).components.capability_cache).toEqual({
      status: 'healthy',
      detail: 'redis 127.0.0.1:6379',
    });
  });

  it('Redis going away degrades /health and the cache to this node; sessions keep starting', async () => {
    const redis = await PrivateRedis.start();
    cleanups.push(() => redis.stop());
    const t = await runtime({ redis: { url: redis.url } });
    const server = stdioServer('outage');
    await t.runtime.createSession({ ...IDS, agent_id: 'outage-agent', mcp_servers: [server] });

    await redis.stop();
    const during = await t.runtime.createSession({ ...IDS, agent_id: 'outage-agent', mcp_servers: [server] });
    expect((await during.execute({ name: 'mcp__outage__echo', params: { message: 'still here' } })).success).toBe(true);
    const again = await t.runtime.createSession({ ...IDS, agent_id: 'outage-agent', mcp_servers: [server] });
    expect(again.capabilities.map((c) => c.name)).toContain('mcp__outage__echo');
    const health = await t.runtime.health();
    expect(health.status).toBe('degraded');
    expect(health.components.capability_cache).toMatchObject({
      status: 'degraded',
      detail: expect.stringMatching(/Redis at 127\.0\.0\.1:\d+ unreachable/),
    });

    await redis.resume();
    await waitFor(async () => (await t.runtime.health()).components.capability_cache?.status === 'healthy' || undefined);
    expect((await t.runtime.health()).status).toBe('healthy');
  });
});
