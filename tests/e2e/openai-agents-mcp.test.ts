/**
 * Issue 19: an agent framework's own MCP client against /mcp/:agent_id. The OpenAI Agents SDK's
 * MCPServerStreamableHttp lists and calls tools without a model, and its getAllMcpTools turns
 * them into the function tools an agent would be given; invoking one goes through the runtime's
 * chain and lands in the audit trail like any other call.
 */
import { MCPServerStreamableHttp, RunContext, getAllMcpTools } from '@openai/agents-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../unit/api/api-harness.ts';

const AGENTS = [{ id: 'helper', tools: ['echo', 'delete_file'], policy: { max_iterations: 1000 } }];

describe('issue-19: the OpenAI Agents SDK as an MCP client of the runtime', () => {
  let h: Harness;
  let server: MCPServerStreamableHttp;

  beforeAll(async () => {
    h = await startHarness({ api_tokens: { 'tok-agent': 'acme:agent-bot:run+read' } }, { agents: AGENTS });
    const base = await h.api.listen({ port: 0, host: '127.0.0.1' });
    server = new MCPServerStreamableHttp({
      url: `${base}/mcp/helper`,
      name: 'semibot-runtime',
      requestInit: { headers: { authorization: 'Bearer tok-agent' } },
    });
    await server.connect();
  });
  afterAll(async () => {
    await server.close();
    await h.close();
  });

  it('lists the profile tools and calls one; the runtime records the action', async () => {
    const tools = await server.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['delete_file', 'echo']);
    const content = await server.callTool('echo', { message: 'from an agent framework' });
    expect(JSON.stringify(content)).toContain('from an agent framework');

    const sessionId = server.sessionId!;
    const events = await h.runtime.audit.query({
      org_id: 'acme',
      session_id: sessionId,
      event_types: ['action_completed'],
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action_name: 'echo', user_id: 'agent-bot', agent_id: 'helper' });
  });

  it("becomes the agent's function tools, and a refusal reaches the agent as the tool's output", async () => {
    const tools = await getAllMcpTools({ mcpServers: [server], runContext: new RunContext({}) });
    const echo = tools.find((t) => t.name === 'echo');
    expect(echo?.type).toBe('function');
    if (echo?.type !== 'function') throw new Error('echo is not a function tool');
    const output = await echo.invoke(new RunContext({}), JSON.stringify({ message: 'as a function tool' }));
    expect(JSON.stringify(output)).toContain('as a function tool');
    const refused = await echo.invoke(new RunContext({}), JSON.stringify({ message: 7 }));
    expect(JSON.stringify(refused)).toContain('invalid_params');
  });
});
