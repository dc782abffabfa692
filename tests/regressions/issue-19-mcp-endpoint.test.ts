/**
 * Issue 19: the runtime as a governed MCP server over Streamable HTTP (/mcp/:agent_id), driven by
 * the official SDK's own client over a real socket. Every tools/call is one action through the
 * whole chain: the same events as the HTTP API, approvals held (with progress notifications) and
 * decided in the inbox, DELETE and idleness end the session, and every refusal a clear 4xx.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/index.ts';
import { apiCaller, type Harness, startHarness } from '../unit/api/api-harness.ts';

const TOKENS = {
  'tok-dev': 'acme:dev:run+read',
  'tok-dev2': 'acme:dev2:run',
  'tok-alice': 'acme:alice:approve+read',
  'tok-reader': 'acme:rita:read',
  'tok-globex': 'globex:gl:run+approve+read',
};
const AGENTS = [
  {
    id: 'ops',
    name: 'Ops assistant',
    tools: ['echo', 'read_file', 'write_file', 'delete_file'],
    policy: { approval_timeout_seconds: 30, max_iterations: 1000 },
    orgs: ['acme'],
  },
  { id: 'open', tools: ['echo'], policy: { max_iterations: 1000 } },
];

describe('issue-19: /mcp/:agent_id (Streamable HTTP)', () => {
  let h: Harness;
  let base: string;
  let idle: Harness;
  let idleBase: string;
  const call = apiCaller(() => h.api);
  const clients: Client[] = [];

  beforeAll(async () => {
    h = await startHarness(
      { api_tokens: TOKENS },
      { agents: AGENTS, mcp: { endpoint: { max_sessions_per_org: 50 } } },
    );
    base = `${await h.api.listen({ port: 0, host: '127.0.0.1' })}`;
    idle = await startHarness(
      { api_tokens: TOKENS },
      { agents: AGENTS, mcp: { endpoint: { idle_timeout_seconds: 0.3, max_sessions_per_org: 2 } } },
    );
    idleBase = `${await idle.api.listen({ port: 0, host: '127.0.0.1' })}`;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await h.close();
    await idle.close();
  });

  async function connect(token: string, agent = 'ops', at = base) {
    const transport = new StreamableHTTPClientTransport(new URL(`${at}/mcp/${agent}`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    const client = new Client({ name: 'issue-19-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return { client, transport, sessionId: transport.sessionId! };
  }

  async function trail(runtime: Harness['runtime'], session_id: string): Promise<AuditEvent[]> {
    const events = await runtime.audit.query({ org_id: 'acme', session_id, limit: 1000 });
    return events.sort((a, b) => a.seq - b.seq);
  }

  async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
    for (let i = 0; i < 500; i++) {
      const value = await probe();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('initialize opens a runtime session whose id is the Mcp-Session-Id, started by the token', async () => {
    const { client, sessionId } = await connect('tok-dev');
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(client.getServerVersion()?.name).toBe('semibot-runtime');
    const started = (await trail(h.runtime, sessionId)).find((e) => e.event_type === 'session_started');
    expect(started).toMatchObject({ org_id: 'acme', agent_id: 'ops', user_id: 'dev' });
    expect(started?.metadata).toMatchObject({ started_by: 'dev' });
  });

  it("tools/list is the profile's capability graph with schemas and risk annotations", async () => {
    const { client } = await connect('tok-dev');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['delete_file', 'echo', 'read_file', 'write_file']);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.echo!.inputSchema.type).toBe('object');
    expect(byName.echo!.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.delete_file!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(byName.write_file!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(byName.delete_file!.description).toMatch(/approval/);
  });

  it('tools/call runs one action through the chain, with the same events as the HTTP API', async () => {
    const { client, sessionId } = await connect('tok-dev');
    const result = await client.callTool({ name: 'echo', arguments: { message: 'héllo \u{1F600}' } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ result: { message: 'héllo \u{1F600}' } });
    expect((result.content as Array<{ text: string }>)[0]!.text).toContain('héllo');

    // The same action through the HTTP API's external planner.
    expect(
      (
        await call('tok-dev', 'POST', '/v1/sessions', {
          org_id: 'acme',
          user_id: 'dev',
          agent_id: 'ops',
          session_id: 'http-twin',
          tools: ['echo'],
        })
      ).statusCode,
    ).toBe(201);
    await call('tok-dev', 'POST', '/v1/sessions/http-twin/actions', [
      { name: 'echo', params: { message: 'x' } },
    ]);
    const kinds = (events: AuditEvent[]) =>
      events.filter((e) => e.action_name === 'echo').map((e) => [e.event_type, e.success]);
    expect(kinds(await trail(h.runtime, sessionId))).toEqual(kinds(await trail(h.runtime, 'http-twin')));
  });

  it('failures are isError results carrying the error code', async () => {
    const { client } = await connect('tok-dev');
    const bad = await client.callTool({ name: 'echo', arguments: { message: 42 } });
    expect(bad.isError).toBe(true);
    expect(bad.structuredContent).toMatchObject({ error: { code: 'invalid_params' } });
    const unknown = await client.callTool({ name: 'execute_code', arguments: { code: 'process.exit(1)' } });
    expect(unknown.structuredContent).toMatchObject({ error: { code: 'capability_not_found' } });
    const outside = await client.callTool({ name: 'read_file', arguments: { path: '../../etc/passwd' } });
    expect(outside.structuredContent).toMatchObject({ error: { code: 'path_outside_sandbox' } });
  });

  it('a high-risk call waits for a person, with progress notifications, and is approved from the inbox', async () => {
    const { client, sessionId } = await connect('tok-dev');
    await client.callTool({ name: 'write_file', arguments: { path: 'doomed.txt', content: 'bye' } });
    const progress: Progress[] = [];
    const pending = client.callTool({ name: 'delete_file', arguments: { path: 'doomed.txt' } }, undefined, {
      onprogress: (p) => progress.push(p),
    });
    const approval = await until(async () => {
      const { approvals } = (
        await call('tok-alice', 'GET', `/v1/approvals?state=pending&session_id=${sessionId}`)
      ).json();
      return approvals[0];
    }, 'the approval in the inbox');
    expect(approval).toMatchObject({ action_name: 'delete_file', params: { path: 'doomed.txt' } });
    await until(async () => (progress.length > 0 ? true : undefined), 'a progress notification');
    expect(progress[0]!.message).toMatch(/waiting for a person to approve delete_file/);

    const decided = await call('tok-alice', 'POST', `/v1/approvals/${approval.approval_id}`, {
      granted: true,
    });
    expect(decided.statusCode).toBe(200);
    const result = await pending;
    expect(result.isError).toBeFalsy();
    const types = (await trail(h.runtime, sessionId)).map((e) => e.event_type);
    expect(types).toEqual(
      expect.arrayContaining(['approval_requested', 'approval_granted', 'action_completed']),
    );
  });

  it('a denied call is approval_denied', async () => {
    const { client, sessionId } = await connect('tok-dev');
    const pending = client.callTool({ name: 'delete_file', arguments: { path: 'x.txt' } });
    const approval = await until(async () => {
      const { approvals } = (
        await call('tok-alice', 'GET', `/v1/approvals?state=pending&session_id=${sessionId}`)
      ).json();
      return approvals[0];
    }, 'the approval');
    await call('tok-alice', 'POST', `/v1/approvals/${approval.approval_id}`, {
      granted: false,
      reason: 'not today',
    });
    const result = await pending;
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ error: { code: 'approval_denied' } });
  });

  it('DELETE ends the runtime session (audited), and the id is then unknown', async () => {
    const { transport, sessionId } = await connect('tok-dev');
    await transport.terminateSession();
    const ended = await until(
      async () => (await trail(h.runtime, sessionId)).find((e) => e.event_type === 'session_ended'),
      'session_ended',
    );
    expect(ended.metadata).toMatchObject({ state: 'completed', reason: 'the MCP client closed the session' });
    const again = await fetch(`${base}/mcp/ops`, {
      method: 'POST',
      headers: mcpHeaders('tok-dev', sessionId),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(again.status).toBe(404);
  });

  it('a session left idle ends after MCP_IDLE_TIMEOUT_SECONDS, audited', async () => {
    const { client, sessionId } = await connect('tok-dev', 'ops', idleBase);
    await client.callTool({ name: 'echo', arguments: { message: 'once' } });
    const ended = await until(
      async () => (await trail(idle.runtime, sessionId)).find((e) => e.event_type === 'session_ended'),
      'the idle session to end',
    );
    expect(ended.metadata).toMatchObject({ reason: 'MCP session idle for 0.3 s' });
    await expect(client.listTools()).rejects.toThrow(/session_not_found/);
  });

  it("another token cannot use a session's id, nor another org's agent", async () => {
    const { sessionId } = await connect('tok-dev');
    const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    for (const token of ['tok-dev2', 'tok-globex']) {
      const stolen = await fetch(`${base}/mcp/ops`, {
        method: 'POST',
        headers: mcpHeaders(token, sessionId),
        body: list,
      });
      expect(stolen.status).toBe(404);
    }
    const other = await fetch(`${base}/mcp/ops`, {
      method: 'POST',
      headers: mcpHeaders('tok-globex'),
      body: initialize(),
    });
    expect(other.status).toBe(404);
    expect(((await other.json()) as RpcError).error.data.code).toBe('agent_not_found');
    const missing = await fetch(`${base}/mcp/nope`, {
      method: 'POST',
      headers: mcpHeaders('tok-dev'),
      body: initialize(),
    });
    expect(((await missing.json()) as RpcError).error.data.code).toBe('agent_not_found');
    // A profile without orgs is open to every org, each in its own org.
    const { sessionId: globexSession } = await connect('tok-globex', 'open');
    const started = await h.runtime.audit.query({ org_id: 'globex', session_id: globexSession });
    expect(started.length).toBeGreaterThan(0);
  });

  it('refuses a missing or bad token (401), a token without the run role (403), and no session header (400)', async () => {
    const none = await fetch(`${base}/mcp/ops`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: initialize(),
    });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await fetch(`${base}/mcp/ops`, {
      method: 'POST',
      headers: mcpHeaders('tok-nope'),
      body: initialize(),
    });
    expect(wrong.status).toBe(401);
    const reader = await fetch(`${base}/mcp/ops`, {
      method: 'POST',
      headers: mcpHeaders('tok-reader'),
      body: initialize(),
    });
    expect(reader.status).toBe(403);
    expect(((await reader.json()) as RpcError).error.data.code).toBe('forbidden');
    const headerless = await fetch(`${base}/mcp/ops`, {
      method: 'POST',
      headers: mcpHeaders('tok-dev'),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(headerless.status).toBe(400);
  });

  it('refuses a foreign Host or Origin (DNS rebinding) and accepts a loopback one', async () => {
    const { request } = await import('undici');
    const port = new URL(base).port;
    const send = (host: string, origin?: string) =>
      request(`${base}/mcp/ops`, {
        method: 'POST',
        headers: { ...mcpHeaders('tok-dev'), host, ...(origin ? { origin } : {}) },
        body: initialize(),
      });
    const evilHost = await send('evil.example.com', 'http://evil.example.com');
    expect(evilHost.statusCode).toBe(403);
    expect(((await evilHost.body.json()) as { error: { data: { code: string } } }).error.data.code).toBe(
      'origin_not_allowed',
    );
    const evilOrigin = await send(`localhost:${port}`, 'http://evil.example.com');
    expect(evilOrigin.statusCode).toBe(403);
    await evilOrigin.body.dump();
    const nullOrigin = await send(`localhost:${port}`, 'null');
    expect(nullOrigin.statusCode).toBe(403);
    await nullOrigin.body.dump();
    const good = await send(`localhost:${port}`, `http://localhost:${port}`);
    expect(good.statusCode).toBe(200);
    await good.body.dump();
  });

  it('bounds hostile input: deep arguments are refused before they reach a session', async () => {
    const { sessionId } = await connect('tok-dev');
    const deep = `${'{"a":'.repeat(100_000)}"x"${'}'.repeat(100_000)}`;
    const answer = await fetch(`${base}/mcp/ops`, {
      method: 'POST',
      headers: mcpHeaders('tok-dev', sessionId),
      body: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":${deep}}}}`,
    });
    expect(answer.status).toBe(400);
    const status = await h.runtime.session(sessionId, 'acme').status();
    expect(status.state).toBe('running');
    // A body over BODY_LIMIT, one that is not JSON, and an agent id of odd Unicode: clear 4xx.
    const huge = await fetch(`${base}/mcp/ops`, {
      method: 'POST',
      headers: mcpHeaders('tok-dev', sessionId),
      body: `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{"message":"${'x'.repeat(2 * 1024 * 1024)}"}}}`,
    });
    expect(huge.status).toBe(413);
    const broken = await fetch(`${base}/mcp/ops`, {
      method: 'POST',
      headers: mcpHeaders('tok-dev', sessionId),
      body: '{"jsonrpc":',
    });
    expect(broken.status).toBe(400);
    const odd = await fetch(`${base}/mcp/%E2%80%AE%F0%9F%98%80%00`, {
      method: 'POST',
      headers: mcpHeaders('tok-dev'),
      body: initialize(),
    });
    expect(odd.status).toBe(404);
    expect(((await odd.json()) as RpcError).error.data.code).toBe('agent_not_found');
    expect((await h.runtime.session(sessionId, 'acme').status()).state).toBe('running');
  });

  it('caps the MCP sessions one org may hold open (429 mcp_session_limit)', async () => {
    const refused: number[] = [];
    for (let i = 0; i < 8; i++) {
      const answer = await fetch(`${idleBase}/mcp/open`, {
        method: 'POST',
        headers: mcpHeaders('tok-dev'),
        body: initialize(),
      });
      if (answer.status === 429) {
        refused.push(i);
        expect(((await answer.json()) as RpcError).error.data.code).toBe('mcp_session_limit');
      } else {
        await answer.body?.cancel();
      }
    }
    expect(refused.length).toBeGreaterThan(0);
    // Another org is not starved by it.
    await connect('tok-globex', 'open', idleBase);
  });
});

type RpcError = { error: { data: { code: string } } };

function mcpHeaders(token: string, sessionId?: string): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-06-18',
    ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
  };
}

function initialize(): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
  });
}
