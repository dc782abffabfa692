/**
 * Issue 21: OpenTelemetry traces, exported by the session workers to a local OTLP receiver.
 * A session is an `invoke_agent` span parented on the caller's traceparent, each action an
 * `execute_tool` child (refused ones included, with error.type), an approval wait a span of its
 * own; the audit events carry the trace and span ids; a stopping runtime flushes; without OTEL_*
 * nothing is traced.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEvent, createRuntime } from '../../../src/index.ts';
import { type OtlpReceiver, otelEnv, startOtlpReceiver } from '../../helpers/otlp-receiver.ts';
import { startHarness } from '../../unit/api/api-harness.ts';
import { traceSvg } from '../../helpers/trace-svg.ts';
import { runCli } from '../../helpers/cli.ts';
import { startOpenAiStub } from '../../fixtures/openai-stub.ts';
import { startHttpFixture } from '../mcp/helpers.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

describe('issue-21: traces', () => {
  let receiver: OtlpReceiver;
  let dir: string;
  let events: AuditEvent[] = [];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-traces-'));
    const runtime = createRuntime(
      { audit: { storage_type: 'memory' }, runtime: { workers: 2, sandbox_dir: path.join(dir, 'sandbox') } },
      {
        env: {
          ENVIRONMENT: 'test',
          ...otelEnv(receiver),
          OTEL_SERVICE_NAME: 'semibot-under-test',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
        },
      },
    );
    await runtime.start();
    const session = await runtime.createSession(
      {
        org_id: 'acme',
        user_id: 'u',
        agent_id: 'tracer-agent',
        session_id: 'traced',
        agent: { name: 'Tracer' },
        tools: ['echo', 'write_file', 'delete_file'],
      },
      undefined,
      { traceparent: `00-${TRACE}-${PARENT}-01` },
    );
    await session.execute({ name: 'echo', params: { message: 'traced' } });
    await session.execute({ name: 'no_such_tool', params: {} });
    await session.execute({ name: 'write_file', params: { path: 'a.txt', content: 'x' } });
    runtime.onApprovalRequested(
      ({ approval }) => void session.approve(approval.action_id, true, { decided_by: 'alice' }),
    );
    await session.execute({ name: 'delete_file', params: { path: 'a.txt' } });
    await session.end();
    events = (await runtime.audit.query({ org_id: 'acme', session_id: 'traced', limit: 1000 })).sort(
      (a, b) => a.seq - b.seq,
    );
    // stop() flushes every worker's batch before the threads end.
    await runtime.stop();
  });
  afterAll(async () => {
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  const span = (name: string) => {
    const found = receiver.spans.filter((s) => s.name === name);
    expect(found, `span ${name}`).toHaveLength(1);
    return found[0]!;
  };

  it('exports the session as invoke_agent, a child of the caller’s traceparent, on the GenAI conventions', () => {
    const session = span('invoke_agent Tracer');
    expect(session.traceId).toBe(TRACE);
    expect(session.parentSpanId).toBe(PARENT);
    expect(session.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.id': 'tracer-agent',
      'gen_ai.agent.name': 'Tracer',
      'gen_ai.conversation.id': 'traced',
    });
    expect(session.resource).toMatchObject({
      'service.name': 'semibot-under-test',
      'deployment.environment': 'test',
    });
  });

  it('exports each action as an execute_tool child, refused ones included with error.type', () => {
    const session = span('invoke_agent Tracer');
    const echo = span('execute_tool echo');
    expect(echo.parentSpanId).toBe(session.spanId);
    expect(echo.traceId).toBe(TRACE);
    expect(echo.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'echo',
      'gen_ai.tool.type': 'function',
    });
    expect(echo.status.code ?? 0).not.toBe(2);
    const refused = span('execute_tool no_such_tool');
    expect(refused.attributes['error.type']).toBe('capability_not_found');
    expect(refused.status.code).toBe(2);
  });

  it('shows the wait for a person as its own span under the action', () => {
    const action = span('execute_tool delete_file');
    const wait = span('await_approval delete_file');
    expect(wait.parentSpanId).toBe(action.spanId);
    expect(wait.attributes).toMatchObject({
      'semibot.approval.granted': true,
      'semibot.approval.decided_by': 'alice',
    });
  });

  it("renders the session's trace as the README's picture (docs/trace.svg)", async () => {
    const svg = traceSvg(
      receiver.spans.filter((s) => s.traceId === TRACE),
      `trace ${TRACE}: session "traced" (echo, a refused action, write_file, delete_file approved by a person)`,
    );
    expect(svg).toContain('invoke_agent Tracer');
    expect(svg).toContain('await_approval delete_file');
    await writeFile(path.resolve('docs/trace.svg'), svg);
  });

  it('puts trace and span ids into the audit events', () => {
    const completed = events.find((e) => e.event_type === 'action_completed' && e.action_name === 'echo');
    expect(completed?.metadata).toMatchObject({ trace_id: TRACE, span_id: span('execute_tool echo').spanId });
    const started = events.find((e) => e.event_type === 'session_started');
    expect(started?.metadata).toMatchObject({ trace_id: TRACE, span_id: span('invoke_agent Tracer').spanId });
  });
});

/** A runtime tracing to `receiver` with the stdio test MCP server as `srv`. */
const withTestMcpServer = (receiver: OtlpReceiver) =>
  createRuntime(
    {
      audit: { storage_type: 'memory' },
      runtime: { workers: 1 },
      mcp: {
        servers: [
          {
            id: 'srv',
            transport: {
              type: 'stdio',
              command: process.execPath,
              args: [path.resolve('tests/fixtures/mcp/test-server.mjs')],
            },
          },
        ],
      },
    },
    { env: { ENVIRONMENT: 'test', ...otelEnv(receiver) } },
  );

describe('issue-21: MCP client spans and propagation to the server', () => {
  it('exports tools/call {tool} as a CLIENT child of the action, and sends its context in params._meta', async () => {
    const receiver = await startOtlpReceiver();
    const runtime = withTestMcpServer(receiver);
    await runtime.start();
    const s = await runtime.createSession({
      org_id: 'acme',
      user_id: 'u',
      agent_id: 'a',
      mcp_servers: ['srv'],
    });
    const result = await s.execute({ name: 'mcp__srv__echo_meta', params: {} });
    const failed = await s.execute({ name: 'mcp__srv__fail', params: { message: 'no' } });
    await runtime.stop();
    await receiver.close();
    expect(result.success).toBe(true);
    expect(failed.success).toBe(false);
    const byName = (name: string) => receiver.spans.find((x) => x.name === name)!;
    const action = byName('execute_tool mcp__srv__echo_meta');
    const client = byName('tools/call echo_meta');
    expect(action.attributes['gen_ai.tool.type']).toBe('extension');
    expect(client.kind).toBe(3); // SPAN_KIND_CLIENT
    expect(client.parentSpanId).toBe(action.spanId);
    expect(client.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'echo_meta',
    });
    const meta = (result.result as { structuredContent: { meta: { traceparent: string } } }).structuredContent
      .meta;
    expect(meta.traceparent).toBe(`00-${client.traceId}-${client.spanId}-01`);
    expect(byName('tools/call fail').attributes['error.type']).toBe('mcp_call_failed');
  });
});

describe('issue-21: a session whose trace is not sampled', () => {
  it('makes no action spans, records no ids, and still hands its context on with the sampled flag off', async () => {
    const receiver = await startOtlpReceiver();
    const runtime = withTestMcpServer(receiver);
    await runtime.start();
    // The caller's trace is not sampled (flags 00): parentbased_always_on, the default, follows it.
    const s = await runtime.createSession(
      { org_id: 'acme', user_id: 'u', agent_id: 'a', tools: ['echo'], mcp_servers: ['srv'] },
      undefined,
      { traceparent: `00-${TRACE}-${PARENT}-00` },
    );
    const result = await s.execute({ name: 'mcp__srv__echo_meta', params: {} });
    const echoed = await s.execute({ name: 'echo', params: { message: 'hi' } });
    await runtime.audit.flush();
    const events = await runtime.audit.query({ org_id: 'acme', session_id: s.id });
    await runtime.stop();
    await receiver.close();
    expect(result.success).toBe(true);
    expect(echoed.success).toBe(true);
    expect(receiver.spans.filter((x) => x.traceId === TRACE)).toEqual([]);
    const meta = (result.result as { structuredContent: { meta: { traceparent: string } } }).structuredContent
      .meta;
    expect(meta.traceparent).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`));
    expect(events.length).toBeGreaterThan(3);
    for (const e of events) expect(e.metadata).not.toHaveProperty('trace_id');
  });
});

describe('issue-21: trace context to a Streamable HTTP MCP server', () => {
  it('sends the client span as a traceparent header as well as in params._meta', async () => {
    const receiver = await startOtlpReceiver();
    const server = await startHttpFixture();
    const runtime = createRuntime(
      {
        audit: { storage_type: 'memory' },
        runtime: { workers: 1 },
        mcp: {
          servers: [{ id: 'web', transport: { type: 'http', url: `http://127.0.0.1:${server.port}/mcp` } }],
        },
      },
      {
        env: {
          ENVIRONMENT: 'test',
          ...otelEnv(receiver),
        },
      },
    );
    await runtime.start();
    try {
      const s = await runtime.createSession({
        org_id: 'acme',
        user_id: 'u',
        agent_id: 'a',
        mcp_servers: ['web'],
      });
      const result = await s.execute({ name: 'mcp__web__echo_meta', params: {} });
      expect(result.success, JSON.stringify(result.error)).toBe(true);
      await runtime.stop();
      const sent = (
        result.result as { structuredContent: { meta: { traceparent: string }; traceparent_header: string } }
      ).structuredContent;
      const client = receiver.spans.find((x) => x.name === 'tools/call echo_meta')!;
      expect(sent.meta.traceparent).toBe(`00-${client.traceId}-${client.spanId}-01`);
      expect(sent.traceparent_header).toBe(sent.meta.traceparent);
      expect(client.attributes['mcp.session.id']).toMatch(/\S+/);
    } finally {
      await runtime.stop();
      server.child.kill('SIGKILL');
      await receiver.close();
    }
  });
});

describe('issue-21: an incoming traceparent on the HTTP API and the MCP endpoint', () => {
  it('parents the session span on the caller’s trace', async () => {
    const receiver = await startOtlpReceiver();
    const h = await startHarness(
      { api_tokens: { tok: 'acme' } },
      { agents: [{ id: 'mcp-agent', tools: ['echo'], policy: { max_iterations: 10 } }] },
      { ...otelEnv(receiver) },
    );
    const httpParent = '1111111111111111';
    const mcpParent = '2222222222222222';
    const created = await h.api.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: {
        authorization: 'Bearer tok',
        'content-type': 'application/json',
        traceparent: `00-${TRACE}-${httpParent}-01`,
      },
      payload: JSON.stringify({ org_id: 'acme', user_id: 'u', agent_id: 'http-agent', tools: ['echo'] }),
    });
    expect(created.statusCode).toBe(201);
    const base = await h.api.listen({ port: 0, host: '127.0.0.1' });
    const mcp = await fetch(`${base}/mcp/mcp-agent`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer tok',
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        traceparent: `00-${TRACE}-${mcpParent}-01`,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    expect(mcp.status).toBe(200);
    await mcp.body?.cancel();
    // A malformed traceparent is ignored, never an error.
    const odd = await h.api.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: {
        authorization: 'Bearer tok',
        'content-type': 'application/json',
        traceparent: '00-zz-\u202e-01',
      },
      payload: JSON.stringify({ org_id: 'acme', user_id: 'u', agent_id: 'odd-agent', tools: ['echo'] }),
    });
    expect(odd.statusCode).toBe(201);
    await h.close();
    await receiver.close();
    const sessionSpan = (agent: string) => receiver.spans.find((x) => x.name === `invoke_agent ${agent}`)!;
    expect(sessionSpan('http-agent')).toMatchObject({ traceId: TRACE, parentSpanId: httpParent });
    expect(sessionSpan('mcp-agent')).toMatchObject({ traceId: TRACE, parentSpanId: mcpParent });
    expect(sessionSpan('odd-agent').traceId).not.toBe(TRACE);
  });
});

describe("issue-21: the openai planner's chat spans", () => {
  it('exports chat {model} with token usage under the session, beside the tool calls it asked for', async () => {
    const receiver = await startOtlpReceiver();
    const stub = await startOpenAiStub({ apiKey: 'sk-test-1' });
    const runtime = createRuntime(
      { audit: { storage_type: 'memory' }, runtime: { workers: 1 } },
      {
        env: {
          ENVIRONMENT: 'test',
          STUB_API_KEY: 'sk-test-1',
          ...otelEnv(receiver),
        },
      },
    );
    await runtime.start();
    const s = await runtime.createSession({
      org_id: 'acme',
      user_id: 'u',
      agent_id: 'llm',
      tools: ['echo'],
      task: 'hello',
      planner: { type: 'openai', base_url: stub.url, model: 'echo-then-answer', api_key_env: 'STUB_API_KEY' },
    });
    expect((await s.run()).state).toBe('completed');
    await runtime.stop();
    await stub.close();
    await receiver.close();
    const session = receiver.spans.find((x) => x.name === 'invoke_agent llm')!;
    const chats = receiver.spans.filter((x) => x.name === 'chat echo-then-answer');
    expect(chats).toHaveLength(2);
    for (const chat of chats) {
      expect(chat.parentSpanId).toBe(session.spanId);
      expect(chat.kind).toBe(3);
      expect(chat.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'echo-then-answer',
        'gen_ai.usage.input_tokens': 42,
        'gen_ai.usage.output_tokens': 7,
      });
    }
    expect(receiver.spans.find((x) => x.name === 'execute_tool echo')?.parentSpanId).toBe(session.spanId);
  });
});

describe('issue-21: flush at exit', () => {
  it('run FILE exports its spans before it exits, though the batch delay is a minute', async () => {
    const receiver = await startOtlpReceiver();
    const dir = await mkdtemp(path.join(tmpdir(), 'semibot-traces-cli-'));
    const r = await runCli(['run', 'examples/hello.yaml'], {
      AUDIT_LOG_DIR: path.join(dir, 'audit'),
      SANDBOX_DIR: path.join(dir, 'sandbox'),
      SKILLS_DIR: path.resolve('examples/skills'),
      LOG_LEVEL: 'warn',
      RUNTIME_WORKERS: '1',
      ...otelEnv(receiver),
      OTEL_BSP_SCHEDULE_DELAY: '60000',
    });
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
    expect(r.code, r.stderr).toBe(0);
    expect(receiver.spans.map((x) => x.name)).toEqual(
      expect.arrayContaining([
        'invoke_agent Demo agent',
        'execute_tool write_file',
        'execute_tool word_count',
      ]),
    );
  });
});

describe('issue-21: traces off, protobuf, bad settings', () => {
  it('traces nothing without OTEL_* and adds no ids to the trail', async () => {
    const runtime = createRuntime(
      { audit: { storage_type: 'memory' }, runtime: { workers: 1 } },
      { env: { ENVIRONMENT: 'test' } },
    );
    await runtime.start();
    const s = await runtime.createSession(
      { org_id: 'acme', user_id: 'u', agent_id: 'a', session_id: 'plain', tools: ['echo'] },
      undefined,
      {
        traceparent: `00-${TRACE}-${PARENT}-01`,
      },
    );
    await s.execute({ name: 'echo', params: { message: 'x' } });
    const events = await runtime.audit.query({ org_id: 'acme', session_id: 'plain' });
    await runtime.stop();
    expect(events.some((e) => 'trace_id' in e.metadata)).toBe(false);
  });

  it('exports http/protobuf as well', async () => {
    const receiver = await startOtlpReceiver();
    const runtime = createRuntime(
      { audit: { storage_type: 'memory' }, runtime: { workers: 1 } },
      { env: { ENVIRONMENT: 'test', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces` } },
    );
    await runtime.start();
    const s = await runtime.createSession({ org_id: 'acme', user_id: 'u', agent_id: 'a', tools: ['echo'] });
    await s.execute({ name: 'echo', params: { message: 'x' } });
    await runtime.stop();
    await receiver.close();
    expect(receiver.requests).toContain('application/x-protobuf');
  });

  it('refuses to start on settings it cannot honour, naming the variable', async () => {
    for (const [env, message] of [
      [
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
        /OTEL_EXPORTER_OTLP_PROTOCOL=grpc/,
      ],
      [{ OTEL_TRACES_EXPORTER: 'zipkin' }, /OTEL_TRACES_EXPORTER=zipkin/],
      [
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_SAMPLER: 'sometimes' },
        /OTEL_TRACES_SAMPLER=sometimes/,
      ],
    ] as const) {
      const runtime = createRuntime(
        { audit: { storage_type: 'memory' }, runtime: { workers: 1 } },
        { env: { ENVIRONMENT: 'test', ...env } },
      );
      await expect(runtime.start()).rejects.toThrow(message);
    }
  });
});
