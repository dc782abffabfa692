import { describe, expect, it } from 'vitest';
import { sessionKey } from '../../../src/session-key.ts';
import type { McpGatewayMessage } from '../../../actors/mcp-gateway/messages.ts';
import { McpCallClient } from '../../../src/capabilities/mcp/call-client.ts';
import { RuntimeError } from '../../../src/errors.ts';
import { ActionRun } from '../../../src/execution/action-run.ts';

const OK = { ok: true as const, value: { content: [] }, meta: { attempts: 1, duration_ms: 1, server_name: 'test' } };

function setup() {
  const sent: McpGatewayMessage[] = [];
  const client = new McpCallClient((m) => sent.push(m));
  const run = new ActionRun();
  const ctx = { get signal() { return run.signal; }, onCancel: (l: (r: unknown) => void) => run.onCancel(l) };
  return { sent, client, run, ctx };
}

describe('McpCallClient and the end of an action', () => {
  it('an action that ends while its call is out sends mcp.cancel and rejects with the reason', async () => {
    const { sent, client, run, ctx } = setup();
    const call = client.call('k', sessionKey('o', 's'), 'sleep', { ms: 1000 }, ctx);
    expect(sent.map((m) => m.type)).toEqual(['mcp.call']);
    run.fail(new RuntimeError('action_timeout', 'sleep exceeded 1 s'));
    await expect(call).rejects.toMatchObject({ code: 'action_timeout' });
    expect(sent[1]).toMatchObject({ type: 'mcp.cancel', reason: 'sleep exceeded 1 s' });
    expect(client.inFlight).toBe(0);
  });

  it('an action that has already ended sends nothing', async () => {
    const { sent, client, run, ctx } = setup();
    run.fail(new RuntimeError('action_cancelled', 'the session was cancelled'));
    await expect(client.call('k', sessionKey('o', 's'), 'echo', {}, ctx)).rejects.toMatchObject({ code: 'action_cancelled' });
    expect(sent).toEqual([]);
  });

  it('after the reply, the end of the action no longer reaches the call', async () => {
    const { sent, client, run, ctx } = setup();
    const call = client.call('k', sessionKey('o', 's'), 'echo', {}, ctx);
    const first = sent[0] as Extract<McpGatewayMessage, { type: 'mcp.call' }>;
    client.settle(first.call, OK);
    await expect(call).resolves.toEqual(OK);
    run.fail(new RuntimeError('action_timeout'));
    expect(sent.map((m) => m.type)).toEqual(['mcp.call']);
  });

  it('works the same through an AbortSignal when the caller has no onCancel hook', async () => {
    const { sent, client } = setup();
    const controller = new AbortController();
    const call = client.call('k', sessionKey('o', 's'), 'sleep', {}, { signal: controller.signal });
    controller.abort(new RuntimeError('action_timeout', 'too slow'));
    await expect(call).rejects.toMatchObject({ code: 'action_timeout' });
    expect(sent.map((m) => m.type)).toEqual(['mcp.call', 'mcp.cancel']);

    const aborted = new AbortController();
    aborted.abort(new RuntimeError('action_cancelled'));
    await expect(client.call('k', sessionKey('o', 's'), 'echo', {}, { signal: aborted.signal })).rejects.toMatchObject({
      code: 'action_cancelled',
    });
    expect(sent).toHaveLength(2);
  });
});

describe('ActionRun.onCancel', () => {
  it('calls each listener once, in order, and not after it was removed', () => {
    const run = new ActionRun();
    const heard: string[] = [];
    run.onCancel(() => heard.push('a'));
    const remove = run.onCancel(() => heard.push('b'));
    run.onCancel(() => heard.push('c'));
    remove();
    run.fail(new Error('x'));
    run.fail(new Error('again'));
    expect(heard).toEqual(['a', 'c']);
    run.onCancel((reason) => heard.push(`late: ${(reason as Error).message}`));
    expect(heard).toEqual(['a', 'c', 'late: x']);
  });
});
