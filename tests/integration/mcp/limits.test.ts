/**
 * max_mcp_servers_per_org and bad server lists fail session start with clear codes. The servers
 * here point at a closed port: the sessions start (the servers are simply not connected).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpServerConfig } from '../../../src/contracts.ts';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime({ capability: { max_mcp_servers_per_org: 2 }, mcp: { reconnect_delay: 30 } });
});
afterAll(async () => {
  await t?.cleanup();
});

const nowhere = (id: string): McpServerConfig => ({
  id,
  transport: { type: 'http', url: `http://127.0.0.1:9/${id}` },
});

describe('MCP server limits', () => {
  it('refuses a session that names more servers than max_mcp_servers_per_org', async () => {
    await expect(
      t.runtime.createSession({ ...IDS, mcp_servers: [nowhere('a'), nowhere('b'), nowhere('c')] }),
    ).rejects.toMatchObject({
      code: 'too_many_mcp_servers',
      message: expect.stringMatching(/3 MCP servers; max_mcp_servers_per_org is 2/),
    });
  });

  it('counts the servers the whole org has in use, per org, and frees them when sessions end', async () => {
    const first = await t.runtime.createSession({ ...IDS, mcp_servers: [nowhere('a'), nowhere('b')] });
    await expect(t.runtime.createSession({ ...IDS, mcp_servers: [nowhere('c')] })).rejects.toMatchObject({
      code: 'too_many_mcp_servers',
    });
    // The same servers again are not new servers; another org has its own allowance.
    const again = await t.runtime.createSession({ ...IDS, mcp_servers: [nowhere('a')] });
    const other = await t.runtime.createSession({ ...IDS, org_id: 'globex', mcp_servers: [nowhere('c')] });
    await Promise.all([first.end(), again.end(), other.end()]);
    const later = await t.runtime.createSession({ ...IDS, mcp_servers: [nowhere('c')] });
    expect(later.capabilities).toEqual([]);
    await later.end();
  });

  it('refuses two servers with the same id in one session', async () => {
    await expect(
      t.runtime.createSession({ ...IDS, mcp_servers: [nowhere('a'), { ...nowhere('a'), name: 'again' }] }),
    ).rejects.toMatchObject({
      code: 'invalid_context',
      message: expect.stringMatching(/the id a is given twice/),
    });
  });

  it('refuses a server id that cannot become part of a tool name', async () => {
    await expect(
      t.runtime.createSession({
        ...IDS,
        mcp_servers: [{ id: 'bad id!', transport: { type: 'http', url: 'http://127.0.0.1:9' } }],
      }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
