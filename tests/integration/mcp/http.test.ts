/**
 * The Streamable HTTP transport against the SDK test server: calls, tool-list changes, and a
 * server that goes away and comes back on the same port.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';
import { eventsOf, startHttpFixture, waitFor } from './helpers.ts';

let t: TestRuntime;
const children: ChildProcess[] = [];

/** Starts the fixture in HTTP mode (killed after the file's tests). */
async function startHttpServer(port = 0): Promise<{ child: ChildProcess; port: number }> {
  const started = await startHttpFixture(port);
  children.push(started.child);
  return started;
}

beforeAll(async () => {
  t = await startTestRuntime({
    mcp: { reconnect_delay: 0.2, call_timeout: 5 },
    policy: { max_iterations: 10_000 },
  });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await t?.cleanup();
});

describe('MCP over Streamable HTTP', () => {
  it('calls tools, follows tool-list changes, and reconnects after the server restarts', async () => {
    const first = await startHttpServer();
    const url = `http://127.0.0.1:${first.port}/mcp`;
    const session = await t.runtime.createSession({
      ...IDS,
      mcp_servers: [{ id: 'web', name: 'http test server', transport: { type: 'http', url } }],
    });
    expect(session.capabilities.map((c) => c.name)).toContain('mcp__web__echo');
    const echoed = await session.execute({ name: 'mcp__web__echo', params: { message: 'over http' } });
    expect(echoed.result).toMatchObject({ structuredContent: { message: 'over http' } });

    // 1. list_changed arrives over the SSE stream.
    await session.execute({ name: 'mcp__web__add_tool', params: { name: 'late' } });
    await waitFor(
      async () => (await session.execute({ name: 'mcp__web__late', params: { n: 1 } })).success || undefined,
    );

    // 2. The server dies: the next call fails with mcp_unavailable (not a hang).
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    const failed = await session.execute({ name: 'mcp__web__echo', params: { message: 'anyone?' } });
    expect(failed.error?.code).toBe('mcp_unavailable');

    // 3. It comes back on the same port; the gateway reconnects and the next call works.
    await startHttpServer(first.port);
    const back = await waitFor(async () => {
      const r = await session.execute({ name: 'mcp__web__echo', params: { message: 'back' } });
      return r.success ? r : undefined;
    });
    expect(back.result).toMatchObject({ structuredContent: { message: 'back' } });
    const types = (await eventsOf(t.runtime, session.id)).map((e) => e.event_type);
    expect(types).toEqual(expect.arrayContaining(['mcp_connected', 'mcp_disconnected', 'mcp_call_failed']));
    await session.end();
  });
});
