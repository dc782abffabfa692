/**
 * MCP tools through the runtime over stdio: names, schemas, validation, results and audit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';
import { eventsOf, stdioServer } from './helpers.ts';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime({ mcp: { reconnect_delay: 0.1 } });
});
afterAll(async () => {
  await t?.cleanup();
});

describe('MCP tools over stdio', () => {
  it('lists the server tools as mcp__<server>__<tool> with the server schema and runs echo', async () => {
    const session = await t.runtime.createSession({ ...IDS, mcp_servers: [stdioServer('tests')] });
    const echo = session.capabilities.find((c) => c.name === 'mcp__tests__echo');
    expect(echo).toMatchObject({
      kind: 'mcp',
      input_schema: { properties: { message: { type: 'string' } } },
    });
    expect(session.capabilities.every((c) => /^[a-zA-Z0-9_-]{1,64}$/.test(c.name))).toBe(true);

    const result = await session.execute({ name: 'mcp__tests__echo', params: { message: 'hello' } });
    expect(result.success).toBe(true);
    expect(result.result).toMatchObject({ structuredContent: { message: 'hello' } });
    expect(result.metadata).toMatchObject({ capability_kind: 'mcp', mcp_server: { id: 'tests' } });

    const events = await eventsOf(t.runtime, session.id);
    const types = events.map((e) => e.event_type);
    expect(types).toContain('mcp_connected');
    const started = events.find((e) => e.event_type === 'mcp_call_started');
    const completed = events.find((e) => e.event_type === 'mcp_call_completed');
    expect(started).toMatchObject({
      mcp_server_id: 'tests',
      mcp_server_name: 'test server tests',
      action_id: result.action_id,
    });
    expect(completed?.duration_ms).toBeGreaterThan(0);
    expect((await t.runtime.audit.verify(session.id)).ok).toBe(true);
    await session.end();
  });

  it('validates params against the server schema before calling, and reports tool errors as mcp_call_failed', async () => {
    const session = await t.runtime.createSession({
      ...IDS,
      agent_id: 'validate-agent',
      mcp_servers: [stdioServer('tests')],
    });
    const bad = await session.execute({ name: 'mcp__tests__echo', params: { message: 42 } });
    expect(bad.error?.code).toBe('invalid_params');
    expect(bad.error?.message).toMatch(/params.message must be string/);
    const failed = await session.execute({ name: 'mcp__tests__fail', params: { message: 'disk full' } });
    expect(failed.error).toEqual({
      code: 'mcp_call_failed',
      message: 'MCP tool fail returned an error: disk full',
    });

    const events = await eventsOf(t.runtime, session.id);
    // The invalid call never reached the server: one mcp_call_started, for `fail` only.
    expect(events.filter((e) => e.event_type === 'mcp_call_started').map((e) => e.action_id)).toEqual([
      failed.action_id,
    ]);
    expect(events.find((e) => e.event_type === 'mcp_call_failed')).toMatchObject({
      error_message: 'MCP tool fail returned an error: disk full',
      metadata: expect.objectContaining({ error_code: 'mcp_call_failed', attempts: 1 }),
    });
    await session.end();
  });

  it('keeps same-named tools of two servers apart, and shares one connection per org and server', async () => {
    const pid = (r: { result?: unknown }) =>
      JSON.parse((r.result as { content: Array<{ text: string }> }).content[0]!.text).pid as number;
    const a = await t.runtime.createSession({
      ...IDS,
      agent_id: 'two-servers',
      mcp_servers: [stdioServer('alpha'), stdioServer('beta')],
    });
    const names = a.capabilities.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['mcp__alpha__echo', 'mcp__beta__echo']));
    const alpha = pid(await a.execute({ name: 'mcp__alpha__pid', params: {} }));
    const beta = pid(await a.execute({ name: 'mcp__beta__pid', params: {} }));
    expect(alpha).not.toBe(beta);

    // Same org, same server config: the same process. Another org: its own connection.
    const sameOrg = await t.runtime.createSession({
      ...IDS,
      agent_id: 'other-agent',
      mcp_servers: [stdioServer('alpha')],
    });
    expect(pid(await sameOrg.execute({ name: 'mcp__alpha__pid', params: {} }))).toBe(alpha);
    const otherOrg = await t.runtime.createSession({
      ...IDS,
      org_id: 'globex',
      mcp_servers: [stdioServer('alpha')],
    });
    expect(pid(await otherOrg.execute({ name: 'mcp__alpha__pid', params: {} }))).not.toBe(alpha);
    await Promise.all([a.end(), sameOrg.end(), otherOrg.end()]);
  });
});
