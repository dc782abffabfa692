/**
 * A server published on npm by the MCP project (@modelcontextprotocol/server-everything, a dev
 * dependency) called through the runtime over stdio.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';
import { eventsOf } from './helpers.ts';

const require = createRequire(import.meta.url);
const EVERYTHING = path.join(
  path.dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist/index.js',
);

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(async () => {
  await t?.cleanup();
});

describe('@modelcontextprotocol/server-everything through the runtime', () => {
  it('lists its tools with their schemas and runs echo and get-sum', async () => {
    const session = await t.runtime.createSession({
      ...IDS,
      mcp_servers: [
        {
          id: 'everything',
          name: 'server-everything',
          transport: { type: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] },
        },
      ],
    });
    const names = session.capabilities.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['mcp__everything__echo', 'mcp__everything__get-sum']));
    expect(names.every((n) => /^[a-zA-Z0-9_-]{1,64}$/.test(n))).toBe(true);

    const echo = await session.execute({ name: 'mcp__everything__echo', params: { message: 'hi' } });
    expect(echo.result).toMatchObject({ content: [{ type: 'text', text: 'Echo: hi' }] });
    const sum = await session.execute({ name: 'mcp__everything__get-sum', params: { a: 2, b: 40 } });
    expect(JSON.stringify(sum.result)).toContain('42');
    const bad = await session.execute({ name: 'mcp__everything__get-sum', params: { a: 'two' } });
    expect(bad.error?.code).toBe('invalid_params');

    const completed = (await eventsOf(t.runtime, session.id)).filter(
      (e) => e.event_type === 'mcp_call_completed',
    );
    expect(completed).toHaveLength(2);
    expect(completed[0]).toMatchObject({ mcp_server_id: 'everything', mcp_server_name: 'server-everything' });
    // echo is annotated readOnly/idempotent by the server, so it would be retried after a disconnect.
    expect(completed[0]?.metadata).toMatchObject({ retry_safe: true });
    await session.end();
  });
});
