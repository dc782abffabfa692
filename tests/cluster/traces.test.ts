/**
 * Issue 21 in a cluster: a session that the cluster places on another node than the one asked
 * joins the caller's trace (the trace context travels in the session's context over NATS), and
 * that node exports its spans itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionResult } from '../../src/index.ts';
import { type OtlpReceiver, otelEnv, startOtlpReceiver } from '../helpers/otlp-receiver.ts';
import { IDS, startCluster, type TestCluster } from './cluster-harness.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

let c: TestCluster;
let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  c = await startCluster(2, {
    ...otelEnv(receiver),
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
}, 120_000);
afterAll(async () => {
  await c?.cleanup();
  await receiver?.close();
});

describe('traces in a cluster', () => {
  it('parents a session placed on another node on the caller’s trace', async () => {
    const first = c.nodes[0]!;
    let remote: { session_id: string; owner: string } | undefined;
    for (let i = 0; i < 8 && !remote; i++) {
      const made = await first.call<{ session_id: string; owner: string }>('create', {
        request: { ...IDS, agent: { name: 'Remote' }, tools: ['echo'] },
        traceparent: `00-${TRACE}-${PARENT}-01`,
      });
      if (made.owner !== first.id) remote = made;
    }
    expect(remote, 'no session landed on the second node').toBeDefined();
    const [echo] = await first.call<ActionResult[]>('execute', {
      session_id: remote!.session_id,
      actions: [{ name: 'echo', params: { message: 'across nodes' } }],
    });
    expect(echo?.success).toBe(true);
    await first.call('end', { session_id: remote!.session_id });
    const deadline = Date.now() + 15_000;
    let session: (typeof receiver.spans)[number] | undefined;
    while (Date.now() < deadline) {
      session = receiver.spans.find(
        (s) =>
          s.name === 'invoke_agent Remote' && s.attributes['gen_ai.conversation.id'] === remote!.session_id,
      );
      if (
        session &&
        receiver.spans.some((s) => s.name === 'execute_tool echo' && s.parentSpanId === session!.spanId)
      )
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(session).toMatchObject({ traceId: TRACE, parentSpanId: PARENT });
    expect(
      receiver.spans.some((s) => s.name === 'execute_tool echo' && s.parentSpanId === session!.spanId),
    ).toBe(true);
  }, 60_000);
});
