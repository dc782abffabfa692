/**
 * Issue 22: no token passthrough, in either direction. An MCP client reaches the runtime at
 * /mcp/:agent_id with its own bearer token; the agent's profile uses two upstream servers, one
 * with a static bearer token from the environment and one behind OAuth that nobody logged in to.
 * Every Authorization header each upstream server received is recorded:
 *   - the client's token reaches neither upstream server;
 *   - the bearer server receives exactly its own token, and the OAuth server never receives it;
 *   - a server whose token_env is not set, or that refuses the token, says so (without the token).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OAuthServerFixture, startOAuthServer } from '../fixtures/mcp/oauth-protected-server.ts';
import { type Harness, startHarness, TOKENS } from '../unit/api/api-harness.ts';
import { createRuntime, type ElicitationRequest } from '../../src/index.ts';

const STATIC = `planted-static-${randomBytes(8).toString('hex')}`;
const CLIENT_TOKEN = Object.keys(TOKENS)[0]!;

describe('issue-22: no token passthrough', () => {
  let dir: string;
  let bearerServer: OAuthServerFixture;
  let oauthServer: OAuthServerFixture;
  let h: Harness;
  let base: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-passthrough-'));
    bearerServer = await startOAuthServer({ tokenPrefix: 'bearer-side', staticTokens: [STATIC] });
    oauthServer = await startOAuthServer({ tokenPrefix: 'oauth-side' });
    h = await startHarness(
      {},
      {
        mcp: {
          reconnect_delay: 0.2,
          token_dir: path.join(dir, 'tokens'),
          token_key: randomBytes(32).toString('hex'),
          servers: [
            {
              id: 'static',
              transport: { type: 'http', url: bearerServer.mcpUrl },
              auth: { type: 'bearer', token_env: 'UPSTREAM_TOKEN' },
            },
            { id: 'guarded', transport: { type: 'http', url: oauthServer.mcpUrl }, auth: { type: 'oauth' } },
            {
              id: 'unset',
              transport: { type: 'http', url: bearerServer.mcpUrl },
              auth: { type: 'bearer', token_env: 'NOT_SET_ANYWHERE' },
            },
            {
              id: 'wrong',
              transport: { type: 'http', url: bearerServer.mcpUrl },
              auth: { type: 'bearer', token_env: 'WRONG_TOKEN' },
            },
          ],
        },
        agents: [
          {
            id: 'remote-agent',
            mcp_servers: ['static', 'guarded', 'unset', 'wrong'],
            policy: { max_iterations: 1000 },
          },
        ],
      },
      { UPSTREAM_TOKEN: STATIC, WRONG_TOKEN: 'planted-wrong-token' },
    );
    base = `${await h.api.listen({ port: 0, host: '127.0.0.1' })}`;
  });
  afterAll(async () => {
    await h?.close();
    await bearerServer?.close();
    await oauthServer?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("the client's token stays at the runtime; each upstream server sees only its own", async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp/remote-agent`), {
      requestInit: { headers: { authorization: `Bearer ${CLIENT_TOKEN}` } },
    });
    const client = new Client({ name: 'passthrough-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      expect(names).toContain('mcp__static__whoami');
      // Nobody logged in to the OAuth server, and the other two have no usable token.
      expect(names.filter((n) => /^mcp__(guarded|unset|wrong)__/.test(n))).toEqual([]);
      const result = await client.callTool({ name: 'mcp__static__whoami', arguments: {} });
      expect(result.isError, JSON.stringify(result)).toBeFalsy();
      expect(JSON.stringify(result)).toContain('you sent Bearer [REDACTED]');
      expect(JSON.stringify(result)).not.toContain(STATIC);
    } finally {
      await client.close();
    }
    const toStatic = bearerServer.seenAuthorization;
    const toGuarded = oauthServer.seenAuthorization;
    expect(toStatic.length).toBeGreaterThan(0);
    expect(toGuarded.length).toBeGreaterThan(0);
    for (const header of [...toStatic, ...toGuarded]) expect(header ?? '').not.toContain(CLIENT_TOKEN);
    expect(toGuarded.every((header) => header === undefined)).toBe(true);
    // The bearer server got its own token, and from the "wrong" entry only that entry's token.
    expect(new Set(toStatic)).toEqual(new Set([`Bearer ${STATIC}`, 'Bearer planted-wrong-token']));
  });

  it('a daemon declares no elicitation: an upstream server cannot question its users', async () => {
    const session = await h.runtime.createSession({
      org_id: 'acme',
      user_id: 'u',
      agent_id: 'a',
      mcp_servers: ['static'],
      policy: { max_iterations: 10 },
    });
    const result = await session.execute({ name: 'mcp__static__ask', params: {} });
    expect(result.success, JSON.stringify(result)).toBe(true);
    expect(JSON.stringify(result.result)).toContain('elicitation refused');
    await session.end();
  });

  it("a library caller's person answers an upstream server's question (mcpElicitation)", async () => {
    const asked: ElicitationRequest[] = [];
    const runtime = createRuntime(
      {
        runtime: { workers: 1 },
        audit: { storage_type: 'memory' },
        mcp: {
          servers: [
            {
              id: 'static',
              transport: { type: 'http', url: bearerServer.mcpUrl },
              auth: { type: 'bearer', token_env: 'UPSTREAM_TOKEN' },
            },
          ],
        },
      },
      {
        env: { ENVIRONMENT: 'test', UPSTREAM_TOKEN: STATIC },
        mcpElicitation: async (request) => {
          asked.push(request);
          return { action: 'accept', content: { name: 'ada' } };
        },
      },
    );
    await runtime.start();
    try {
      const session = await runtime.createSession({
        org_id: 'acme',
        user_id: 'u',
        agent_id: 'a',
        mcp_servers: ['static'],
      });
      const result = await session.execute({ name: 'mcp__static__ask', params: {} });
      expect(JSON.stringify(result.result)).toContain('answered accept {\\"name\\":\\"ada\\"}');
      expect(asked).toMatchObject([{ orgId: 'acme', serverId: 'static', message: 'Your name?' }]);
    } finally {
      await runtime.stop();
    }
  });

  it('says why a bearer server contributes nothing, without its token', async () => {
    const session = await h.runtime.createSession({
      org_id: 'acme',
      user_id: 'u',
      agent_id: 'a',
      mcp_servers: ['unset', 'wrong'],
      policy: { max_iterations: 10 },
    });
    const events = await h.runtime.audit.query({ session_id: session.id, event_types: ['mcp_disconnected'] });
    const reasons = events.map((e) => e.error_message ?? '').join('\n');
    expect(reasons).toContain('the environment variable NOT_SET_ANYWHERE (its auth secret) is not set');
    expect(reasons).toContain('MCP server wrong refused the static token from its token_env');
    expect(reasons).not.toContain('planted-wrong-token');
    await session.end();
  });
});
