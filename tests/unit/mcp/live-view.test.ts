/**
 * The worker-side view of MCP tools: newest snapshot wins; a disconnected server's tools drop
 * out of the planner's list and fail fast; calls are cancelled at the gateway on abort.
 */
import { describe, expect, it } from 'vitest';
import type { McpServerSnapshot } from '../../../src/capabilities/mcp/shapes.ts';
import type { McpGatewayMessage } from '../../../actors/mcp-gateway/messages.ts';
import { McpCallClient } from '../../../src/capabilities/mcp/call-client.ts';
import { mcpConnectionKey } from '../../../src/capabilities/mcp/naming.ts';
import { McpCapabilityProvider, McpRegistry } from '../../../src/capabilities/mcp/provider.ts';
import type { SessionContext } from '../../../src/contracts.ts';
import type { AuditEventDraft } from '../../../src/audit/events.ts';
import type { InvokeContext } from '../../../src/execution/capability-graph.ts';
import { sessionKey } from '../../../src/session-key.ts';

const server = {
  id: 'srv',
  name: 'Server',
  transport: { type: 'http' as const, url: 'http://127.0.0.1:1/mcp' },
};
const other = { id: 'other', transport: { type: 'http' as const, url: 'http://127.0.0.1:2/mcp' } };
const ctx = { org_id: 'acme', mcp_servers: [server, other] } as unknown as SessionContext;
const key = mcpConnectionKey('acme', server);
const echoTool = {
  name: 'echo',
  description: 'echo',
  input_schema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
  read_only: true,
  idempotent: false,
};
const snap = (version: number, connected: boolean, tools = [echoTool]): McpServerSnapshot => ({
  key,
  org_id: 'acme',
  server_id: 'srv',
  server_name: 'Server',
  connected,
  version,
  tools,
  retry_tools: [],
  ...(connected ? {} : { error: 'the connection closed' }),
});

function setup() {
  const sent: McpGatewayMessage[] = [];
  const registry = new McpRegistry();
  const client = new McpCallClient((m) => sent.push(m));
  const view = new McpCapabilityProvider(registry, client).liveFor(ctx);
  const events: AuditEventDraft[] = [];
  const ictx = (signal: AbortSignal): InvokeContext => ({
    session_id: 's1',
    org_id: 'acme',
    signal,
    action_id: 'a1',
    audit: (d) => void events.push(d),
    sandboxDir: '',
    httpAllowedHosts: [],
    executeCodeTimeoutMs: 1,
    executeCodeMaxMemoryMb: 1,
    executeCodeJail: { bwrap: 'bwrap', maxTotalMemoryMb: 512, maxProcesses: 256, maxFileBytes: 1 },
    executeCodeNetwork: false,
    sandboxMaxBytes: 0,
  });
  return { sent, registry, client, view, events, ictx };
}

describe('MCP live view', () => {
  it('keeps the newest snapshot and lists only connected servers’ tools', () => {
    const { registry, view } = setup();
    expect(view.list()).toEqual([]);
    registry.update(snap(1, true));
    expect(view.list().map((c) => c.name)).toEqual(['mcp__srv__echo']);
    expect(registry.update(snap(0, false))).toBeNull(); // stale: ignored
    registry.update(snap(2, false));
    expect(view.list()).toEqual([]);
    expect(view.get('mcp__srv__echo')).toBeDefined();
  });

  it('fails a call to a disconnected server at once with mcp_unavailable, sending nothing', async () => {
    const { registry, view, sent, ictx } = setup();
    registry.update(snap(3, false));
    const cap = view.get('mcp__srv__echo')!;
    await expect(cap.invoke({ message: 'x' }, ictx(new AbortController().signal))).rejects.toMatchObject({
      code: 'mcp_unavailable',
    });
    expect(sent).toEqual([]);
  });

  it('sends mcp.call, audits started/completed, and returns the value', async () => {
    const { registry, view, sent, client, events, ictx } = setup();
    registry.update(snap(1, true));
    const pending = view.get('mcp__srv__echo')!.invoke({ message: 'hi' }, ictx(new AbortController().signal));
    expect(sent).toEqual([
      { type: 'mcp.call', call: 1, key, session: sessionKey('acme', 's1'), tool: 'echo', args: { message: 'hi' } },
    ]);
    client.settle(1, {
      ok: true,
      value: { content: [] },
      meta: { duration_ms: 1.5, attempts: 1, server_name: 'Server' },
    });
    await expect(pending).resolves.toEqual({ content: [] });
    expect(events.map((e) => e.event_type)).toEqual(['mcp_call_started', 'mcp_call_completed']);
    expect(events[1]).toMatchObject({
      mcp_server_id: 'srv',
      mcp_server_name: 'Server',
      duration_ms: 1.5,
      action_id: 'a1',
    });
  });

  it('on abort stops waiting, tells the gateway to cancel, and ignores the late reply', async () => {
    const { registry, view, sent, client, events, ictx } = setup();
    registry.update(snap(1, true));
    const controller = new AbortController();
    const pending = view.get('mcp__srv__echo')!.invoke({ message: 'hi' }, ictx(controller.signal));
    controller.abort(Object.assign(new Error('too slow'), { code: 'action_timeout' }));
    await expect(pending).rejects.toThrow('too slow');
    expect(sent[1]).toEqual({ type: 'mcp.cancel', call: 1, reason: 'too slow' });
    client.settle(1, { ok: true, value: 1, meta: { duration_ms: 1, attempts: 1, server_name: 'Server' } });
    expect(events.at(-1)).toMatchObject({
      event_type: 'mcp_call_failed',
      metadata: expect.objectContaining({ error_code: 'action_timeout' }),
    });
    expect(client.inFlight).toBe(0);
  });

  it('gives a tool whose name another server of the session took a distinct name', () => {
    const { registry, view } = setup();
    registry.update(snap(1, true));
    // Server "other" offers a tool whose rewritten name would equal one of "srv"'s: both stay reachable.
    registry.update({
      ...snap(1, true),
      key: mcpConnectionKey('acme', other),
      server_id: 'other',
      tools: [echoTool],
    });
    const names = view.list().map((c) => c.name);
    expect(names).toEqual(['mcp__srv__echo', 'mcp__other__echo']);
  });
});
