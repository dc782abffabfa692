/**
 * Issue 19: `semibot-runtime mcp --agent ID` over stdio, driven by the official SDK's stdio
 * client the way a desktop MCP client starts it. A high-risk call asks the client through MCP
 * elicitation when it supports it (accept/approve, accept/deny, decline), and is refused at once
 * with approval_unavailable when it does not. The trail is read back from the file store.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  type ElicitRequest,
  ElicitRequestSchema,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/index.ts';
import { REPO, cliEnv, runCli } from '../helpers/cli.ts';

const AGENTS = `
- id: desk
  name: Desktop helper
  tools: [echo, write_file, delete_file]
  policy: { approval_timeout_seconds: 20, max_iterations: 100 }
`;

describe('semibot-runtime mcp --agent (stdio)', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-mcp-stdio-'));
    await mkdir(path.join(dir, 'sandbox'), { recursive: true });
    await writeFile(path.join(dir, 'agents.yaml'), AGENTS);
    env = cliEnv(dir, { PATH: process.env.PATH ?? '', AGENTS_FILE: path.join(dir, 'agents.yaml') });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function connect(answer?: (request: ElicitRequest) => ElicitResult) {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        path.join(REPO, 'src/cli/main.ts'),
        'mcp',
        '--agent',
        'desk',
        '--user',
        'dana',
      ],
      cwd: REPO,
      env,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d) => {
      stderr += d;
    });
    const client = new Client(
      { name: 'desktop-test', version: '1.0.0' },
      { capabilities: answer ? { elicitation: { form: {} } } : {} },
    );
    const questions: ElicitRequest[] = [];
    if (answer) {
      client.setRequestHandler(ElicitRequestSchema, async (request) => {
        questions.push(request);
        return answer(request);
      });
    }
    await client.connect(transport);
    return { client, transport, questions, stderr: () => stderr };
  }

  async function trail(): Promise<AuditEvent[]> {
    const r = await runCli(['audit', 'query', '--agent', 'desk', '--json', '--limit', '10000'], env);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditEvent);
  }

  it('asks the person through elicitation, and records their decision and reason', async () => {
    let approve = true;
    const { client, questions } = await connect(() =>
      approve
        ? { action: 'accept', content: { approve: true, reason: 'cleaning up' } }
        : { action: 'accept', content: { approve: false, reason: 'keep it' } },
    );
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['delete_file', 'echo', 'write_file']);
    const echoed = await client.callTool({ name: 'echo', arguments: { message: 'över stdio' } });
    expect(echoed.structuredContent).toMatchObject({ result: { message: 'över stdio' } });

    await client.callTool({ name: 'write_file', arguments: { path: 'a.txt', content: 'x' } });
    approve = false;
    const denied = await client.callTool({ name: 'delete_file', arguments: { path: 'a.txt' } });
    expect(denied.structuredContent).toMatchObject({ error: { code: 'approval_denied' } });
    approve = true;
    const deleted = await client.callTool({ name: 'delete_file', arguments: { path: 'a.txt' } });
    expect(deleted.isError).toBeFalsy();
    expect(questions).toHaveLength(2);
    expect(questions[0]!.params.message).toContain('delete_file');
    expect(questions[0]!.params.message).toContain('"path":"a.txt"');
    await client.close();

    const events = await trail();
    const decisions = events.filter(
      (e) => e.event_type === 'approval_granted' || e.event_type === 'approval_denied',
    );
    expect(decisions.map((e) => [e.event_type, e.metadata.decided_by, e.metadata.reason])).toEqual([
      ['approval_denied', 'dana (MCP elicitation)', 'keep it'],
      ['approval_granted', 'dana (MCP elicitation)', 'cleaning up'],
    ]);
    const ended = events.find(
      (e) => e.event_type === 'session_ended' && e.session_id === decisions[0]!.session_id,
    );
    expect(ended?.metadata).toMatchObject({ reason: 'the MCP client disconnected' });
  });

  it('a declined question denies the call', async () => {
    const { client } = await connect(() => ({ action: 'decline' }));
    const result = await client.callTool({ name: 'delete_file', arguments: { path: 'nothing.txt' } });
    expect(result.structuredContent).toMatchObject({ error: { code: 'approval_denied' } });
    await client.close();
  });

  it('without elicitation a high-risk call is refused at once with approval_unavailable', async () => {
    const { client } = await connect();
    const started = Date.now();
    const result = await client.callTool({ name: 'delete_file', arguments: { path: 'x.txt' } });
    expect(result.structuredContent).toMatchObject({ error: { code: 'approval_unavailable' } });
    // Refused, not left to wait out its 20 s approval timeout.
    expect(Date.now() - started).toBeLessThan(15_000);
    const echoed = await client.callTool({ name: 'echo', arguments: { message: 'still fine' } });
    expect(echoed.isError).toBeFalsy();
    await client.close();
    const rejected = (await trail()).find(
      (e) => e.event_type === 'action_rejected' && e.metadata.error_code === 'approval_unavailable',
    );
    expect(rejected).toBeDefined();
  });

  it('refuses an unknown agent, or a missing --agent, with a clear error before starting', async () => {
    const unknown = await runCli(['mcp', '--agent', 'nobody'], env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/agent_not_found|no agent profile "nobody"/);
    expect(unknown.stdout).toBe('');
    const missing = await runCli(['mcp'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--agent ID is required');
  });
});
