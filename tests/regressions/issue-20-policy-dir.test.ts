/**
 * Issue 20: POLICY_DIR in a running runtime. Every action is decided by the Cedar policies after
 * capability validation, the decision and its policy ids go into the audit metadata,
 * @approval("required") asks a person, a reload swaps the set in every worker (a bad one is
 * refused and audited, the old one stays), a bad set stops the start naming file and line, the
 * MCP endpoint decides the same way, and without POLICY_DIR nothing changes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEvent, createRuntime, type Runtime } from '../../src/index.ts';
import { type Harness, startHarness } from '../unit/api/api-harness.ts';

const RULES = `@id("acme-no-http")
forbid(principal in Org::"acme", action, resource == Tool::"http_request");

@id("secrets-need-a-person")
@approval("required")
permit(principal, action == Action::"call", resource)
  when { context.params has path && context.params.path like "secrets/*" };

@id("everyone")
permit(principal, action, resource);
`;

describe('issue-20: POLICY_DIR', () => {
  let dir: string;
  let runtime: Runtime;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-policies-'));
    await writeFile(path.join(dir, 'rules.cedar'), RULES);
    runtime = createRuntime(
      {
        policy_dir: dir,
        runtime: { workers: 2, sandbox_dir: path.join(dir, 'sandbox') },
        audit: { storage_type: 'memory' },
      },
      { env: { ENVIRONMENT: 'test' } },
    );
    await runtime.start();
  });
  afterAll(async () => {
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const session = (org_id: string, id: string) =>
    runtime.createSession({
      org_id,
      user_id: 'u',
      agent_id: 'helper',
      session_id: id,
      tools: ['echo', 'write_file', 'http_request'],
    });
  const trail = async (org_id: string, session_id: string): Promise<AuditEvent[]> =>
    (await runtime.audit.query({ org_id, session_id, limit: 1000 })).sort((a, b) => a.seq - b.seq);

  it('denies with policy_denied and records the deciding policy in the event metadata', async () => {
    const s = await session('acme', 'deny-1');
    const result = await s.execute({ name: 'http_request', params: { url: 'https://example.com/' } });
    expect(result.error).toMatchObject({ code: 'policy_denied' });
    expect(result.error?.message).toContain('acme-no-http');
    const rejected = (await trail('acme', 'deny-1')).find((e) => e.event_type === 'action_rejected');
    expect(rejected?.metadata).toMatchObject({
      error_code: 'policy_denied',
      policy: { decision: 'deny', policy_ids: ['acme-no-http'], risk: 'normal', iteration: 1 },
    });
    // Another org is not under that forbid (its request then meets the http allow-list).
    const other = await (await session('globex', 'deny-1')).execute({
      name: 'http_request',
      params: { url: 'https://example.com/' },
    });
    expect(other.error?.code).not.toBe('policy_denied');
  });

  it('records an allow with its permits, and asks a person where a permit says @approval("required")', async () => {
    const s = await session('acme', 'allow-1');
    expect(
      (await s.execute({ name: 'write_file', params: { path: 'notes.txt', content: 'hi' } })).success,
    ).toBe(true);
    const started = (await trail('acme', 'allow-1')).find((e) => e.event_type === 'action_started');
    expect(started?.metadata.policy).toEqual({
      decision: 'allow',
      policy_ids: ['everyone'],
      risk: 'normal',
      iteration: 1,
    });

    const pending = s.execute({
      id: 'secret-write',
      name: 'write_file',
      params: { path: 'secrets/db.txt', content: 'k' },
    });
    let requested: AuditEvent | undefined;
    for (let i = 0; i < 200 && !requested; i++) {
      await new Promise((r) => setTimeout(r, 10));
      requested = (await trail('acme', 'allow-1')).find((e) => e.event_type === 'approval_requested');
    }
    expect(requested?.metadata).toMatchObject({
      rule: '@approval("required") on everyone, secrets-need-a-person',
      policy: { decision: 'approval', policy_ids: ['everyone', 'secrets-need-a-person'] },
    });
    await s.approve('secret-write', true, { decided_by: 'alice' });
    expect((await pending).success).toBe(true);
  });

  it('reloads: a good set replaces the old one in every worker, a bad one is refused and audited', async () => {
    await writeFile(
      path.join(dir, 'rules.cedar'),
      `${RULES}\n@id("no-echo")\nforbid(principal, action, resource == Tool::"echo");\n`,
    );
    expect(await runtime.reloadPolicies()).toEqual({ loaded: true });
    // Sessions on either worker, old and new, decide with the new set from their next action.
    for (const id of ['reload-a', 'reload-b', 'reload-c']) {
      const denied = await (await session('acme', id)).execute({ name: 'echo', params: { message: 'x' } });
      expect(denied.error).toMatchObject({ code: 'policy_denied' });
    }
    await writeFile(path.join(dir, 'broken.cedar'), 'permit(principal, action, resource) when { };\n');
    const refused = await runtime.reloadPolicies();
    expect(refused.loaded).toBe(false);
    expect(refused.error).toMatch(/^broken\.cedar:1:\d+: /);
    const still = await (await session('acme', 'reload-d')).execute({
      name: 'echo',
      params: { message: 'x' },
    });
    expect(still.error).toMatchObject({ code: 'policy_denied' });
    const events = await runtime.audit.query({ org_id: '_runtime', limit: 100 });
    expect(events.map((e) => e.event_type)).toEqual(
      expect.arrayContaining(['policy_loaded', 'policy_load_failed']),
    );
    expect(events.find((e) => e.event_type === 'policy_load_failed')?.error_message).toMatch(
      /broken\.cedar:1/,
    );
    await rm(path.join(dir, 'broken.cedar'));
    await writeFile(path.join(dir, 'rules.cedar'), RULES);
    expect((await runtime.reloadPolicies()).loaded).toBe(true);
  });

  it('refuses to start on a bad policy set, naming file and line', async () => {
    const bad = await mkdtemp(path.join(tmpdir(), 'semibot-policies-bad-'));
    await writeFile(path.join(bad, 'a.cedar'), 'permit(principal, action, resource);\n');
    await writeFile(path.join(bad, 'z.cedar'), '\n\nforbid(principal, action resource);\n');
    const r = createRuntime(
      { policy_dir: bad, audit: { storage_type: 'memory' } },
      { env: { ENVIRONMENT: 'test' } },
    );
    await expect(r.start()).rejects.toThrow(/POLICY_DIR: z\.cedar:3:\d+: /);
    await rm(bad, { recursive: true, force: true });
  });

  it('without POLICY_DIR nothing changes: no policy step, no policy metadata', async () => {
    const plain = createRuntime(
      { audit: { storage_type: 'memory' }, runtime: { workers: 1 } },
      { env: { ENVIRONMENT: 'test' } },
    );
    await plain.start();
    try {
      const s = await plain.createSession({
        org_id: 'acme',
        user_id: 'u',
        agent_id: 'a',
        session_id: 'p',
        tools: ['echo'],
      });
      expect((await s.execute({ name: 'echo', params: { message: 'x' } })).success).toBe(true);
      const events = await plain.audit.query({ org_id: 'acme', session_id: 'p' });
      const actionEvents = events.filter((e) => e.action_id !== null);
      expect(actionEvents.length).toBeGreaterThan(0);
      expect(actionEvents.some((e) => 'policy' in e.metadata)).toBe(false);
    } finally {
      await plain.stop();
    }
  });
});

describe('issue-20: the MCP endpoint decides with the same policies', () => {
  let dir: string;
  let h: Harness;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-policies-mcp-'));
    await writeFile(path.join(dir, 'rules.cedar'), RULES);
    h = await startHarness(
      { api_tokens: { 'tok-acme': 'acme:dev:run+read' } },
      {
        policy_dir: dir,
        agents: [{ id: 'web', tools: ['echo', 'http_request'], policy: { max_iterations: 100 } }],
      },
    );
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a forbidden tools/call is an isError result with policy_denied', async () => {
    const base = await h.api.listen({ port: 0, host: '127.0.0.1' });
    const client = new Client({ name: 'policy-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp/web`), {
        requestInit: { headers: { authorization: 'Bearer tok-acme' } },
      }),
    );
    const denied = await client.callTool({
      name: 'http_request',
      arguments: { url: 'https://example.com/' },
    });
    expect(denied.structuredContent).toMatchObject({ error: { code: 'policy_denied' } });
    const echoed = await client.callTool({ name: 'echo', arguments: { message: 'ok' } });
    expect(echoed.isError).toBeFalsy();
    await client.close();
  });
});
