/**
 * Real faults against the SDK test server over stdio: the server dies mid-call, a call never
 * returns, the server never answers initialize, the server restarts and the next call works.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';
import { eventsOf, stdioServer, waitFor } from './helpers.ts';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime({
    mcp: { reconnect_delay: 0.1, call_timeout: 2, connection_timeout: 5, max_retries: 3 },
  });
});
afterAll(async () => {
  await t?.cleanup();
});

const pidOf = (r: { result?: unknown }) =>
  JSON.parse((r.result as { content: Array<{ text: string }> }).content[0]!.text).pid as number;

describe('MCP faults', () => {
  it('a server that dies mid-call fails a non-safe tool once (never re-run), then reconnects and the next call works', async () => {
    const session = await t.runtime.createSession({
      ...IDS,
      agent_id: 'crash-agent',
      mcp_servers: [stdioServer('crashy')],
    });
    const before = await session.execute({ name: 'mcp__crashy__pid', params: {} });
    const file = path.join(t.dir, 'ran.txt');

    // 1. The tool starts (writes its line), then the process exits under it.
    const crashed = await session.execute({ name: 'mcp__crashy__record_then_crash', params: { file } });
    expect(crashed.success).toBe(false);
    expect(crashed.error?.code).toBe('mcp_unavailable');
    expect(crashed.error?.message).toMatch(/not retried/);
    expect(await readFile(file, 'utf8')).toBe('ran\n');

    // 2. The gateway reconnects (a new process) after reconnect_delay; the session is told.
    await waitFor(
      async () =>
        (await eventsOf(t.runtime, session.id)).filter((e) => e.event_type === 'mcp_connected').length >= 2 ||
        undefined,
    );
    const after = await session.execute({ name: 'mcp__crashy__pid', params: {} });
    expect(after.success).toBe(true);
    expect(pidOf(after)).not.toBe(pidOf(before));
    expect(await readFile(file, 'utf8')).toBe('ran\n');

    const events = await eventsOf(t.runtime, session.id);
    const types = events.map((e) => e.event_type);
    expect(types).toContain('mcp_disconnected');
    expect(events.find((e) => e.event_type === 'mcp_call_failed')).toMatchObject({
      mcp_server_id: 'crashy',
      success: false,
      metadata: expect.objectContaining({ error_code: 'mcp_unavailable', attempts: 1 }),
    });
    expect((await t.runtime.audit.verify(session.id)).ok).toBe(true);
    await session.end();
  });

  it('retries a readOnly tool across a crash: the same action succeeds on the restarted server', async () => {
    const session = await t.runtime.createSession({
      ...IDS,
      agent_id: 'retry-agent',
      mcp_servers: [stdioServer('flaky')],
    });
    const marker = path.join(t.dir, 'marker.txt');
    const result = await session.execute({ name: 'mcp__flaky__crash_once_read', params: { marker } });
    expect(result.error).toBeUndefined();
    expect(result.success).toBe(true);
    expect(await readFile(marker, 'utf8')).toBe('crashed once\nanswered\n');
    const completed = (await eventsOf(t.runtime, session.id)).find(
      (e) => e.event_type === 'mcp_call_completed',
    );
    expect(completed?.metadata).toMatchObject({ attempts: 2, retry_safe: true });
    await session.end();
  });

  it('a call that never returns fails with mcp_timeout after mcp.call_timeout, and the server keeps serving', async () => {
    const session = await t.runtime.createSession({
      ...IDS,
      agent_id: 'slow-agent',
      mcp_servers: [stdioServer('slow')],
    });
    const slow = await session.execute({ name: 'mcp__slow__sleep', params: { ms: 60_000 } });
    expect(slow.error?.code).toBe('mcp_timeout');
    const next = await session.execute({ name: 'mcp__slow__echo', params: { message: 'still here' } });
    expect(next.success).toBe(true);
    await session.end();
  });

  it('the action timeout aborts the call (mcp.cancel reaches the gateway) and audits it', async () => {
    const session = await t.runtime.createSession({
      ...IDS,
      agent_id: 'cancel-agent',
      mcp_servers: [stdioServer('cancel')],
      policy: { action_timeout_seconds: 1 },
    });
    const slow = await session.execute({ name: 'mcp__cancel__sleep', params: { ms: 30_000 } });
    expect(slow.error?.code).toBe('action_timeout');
    const failed = (await eventsOf(t.runtime, session.id)).find((e) => e.event_type === 'mcp_call_failed');
    expect(failed?.metadata).toMatchObject({ error_code: 'action_timeout', cancelled_on_server: true });
    const next = await session.execute({ name: 'mcp__cancel__echo', params: { message: 'ok' } });
    expect(next.success).toBe(true);
    await session.end();
  });

  it('a server that never answers initialize is not connected after mcp.connection_timeout; its stderr is redacted', async () => {
    // 4 s: long enough for node to start the fixture and write its stderr line even on a busy machine.
    const r = await startTestRuntime({ mcp: { connection_timeout: 4, reconnect_delay: 30 } });
    try {
      const session = await r.runtime.createSession({
        ...IDS,
        tools: ['echo'],
        mcp_servers: [stdioServer('hang', ['--hang-initialize'])],
      });
      expect(session.capabilities.map((c) => c.name)).toEqual(['echo']);
      const down = (await eventsOf(r.runtime, session.id)).find((e) => e.event_type === 'mcp_disconnected');
      expect(down?.error_message).toMatch(/did not answer initialize within mcp.connection_timeout \(4 s\)/);
      expect(down?.error_message).toContain('token=[REDACTED]');
      expect(down?.error_message).not.toContain('hang-secret-123');
      const health = await r.runtime.health();
      expect(health.components.mcp_client?.status).toBe('degraded');
      const call = await session.execute({ name: 'mcp__hang__echo', params: { message: 'x' } });
      expect(call.error?.code).toBe('capability_not_found');
    } finally {
      await r.cleanup();
    }
  });
});
