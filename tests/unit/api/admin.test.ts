/** The admin listener: /health in the SPEC's shape, /version, /metrics in Prometheus text. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, auth, startHarness } from './api-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

describe('admin listener', () => {
  it('/health names status, version, the database, audit_logger and mcp_client components and a timestamp', async () => {
    const res = await h.admin.inject({ url: '/health' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      status: 'healthy',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      components: {
        database: { status: 'healthy' },
        audit_logger: { status: 'healthy' },
        mcp_client: { status: 'healthy' },
      },
    });
    expect(Date.parse(body.timestamp)).not.toBeNaN();
    // Also on the API port, without a token.
    expect((await h.api.inject({ url: '/health' })).json().status).toBe('healthy');
  });

  it('/version names the package and Node.js', async () => {
    expect((await h.admin.inject({ url: '/version' })).json()).toEqual({
      name: 'semibot-runtime',
      version: expect.any(String),
      node: process.version,
    });
  });

  it('/metrics counts actions by name and status, with latency buckets, audit and process metrics', async () => {
    const created = await h.api.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: auth('tok-acme'),
      payload: { org_id: 'acme', user_id: 'u', agent_id: 'a', tools: ['echo'] },
    });
    const { session_id } = created.json();
    await h.api.inject({
      method: 'POST',
      url: `/v1/sessions/${session_id}/actions`,
      headers: auth('tok-acme'),
      payload: [
        { name: 'echo', params: { message: 'one' } },
        { name: 'echo', params: { message: 'two' } },
        { name: 'echo', params: {} },
        { name: 'made_up_tool', params: {} },
      ],
    });
    await h.runtime.audit.flush();
    const res = await h.admin.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const text = res.body;
    expect(text).toContain('runtime_action_executions_total{action_name="echo",status="success"} 2');
    expect(text).toContain('runtime_action_executions_total{action_name="echo",status="rejected"} 1');
    // A name no capability has is one label value, not one per made-up name.
    expect(text).toContain('runtime_action_executions_total{action_name="(unknown)",status="rejected"} 1');
    expect(text).toContain('runtime_action_duration_seconds_bucket{le="0.0001",action_name="echo"}');
    expect(text).toContain('runtime_action_duration_seconds_bucket{le="300",action_name="echo"} 2');
    expect(text).toMatch(/^runtime_audit_buffer_size \d+$/m);
    expect(text).toMatch(/^runtime_audit_events_written_total \d+$/m);
    expect(text).toMatch(/^runtime_audit_flush_duration_seconds_count \d+$/m);
    expect(text).toMatch(/^runtime_active_sessions \d+$/m);
    expect(text).toMatch(/^runtime_worker_restarts_total 0$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(text).toContain(
      'runtime_http_requests_total{method="POST",route="/v1/sessions",status_code="201"} 1',
    );
    // Two registries, one exposition: no metric is declared twice.
    const types = text.match(/^# TYPE (\S+)/gm)!;
    expect(new Set(types).size).toBe(types.length);
  });
});
