/**
 * The openai planner against a local OpenAI-compatible server (tests/fixtures/openai-stub.ts),
 * through the library API with real session workers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Runtime, createRuntime } from '../../src/index.ts';
import { type OpenAiStub, startOpenAiStub } from '../fixtures/openai-stub.ts';

const KEY = 'sk-test-0123456789';
let stub: OpenAiStub;
let runtime: Runtime;

const base = { org_id: 'acme', user_id: 'alice', agent_id: 'llm-agent', tools: ['echo'] };
const planner = (model: string) => ({
  type: 'openai' as const,
  base_url: stub.url,
  model,
  api_key_env: 'STUB_API_KEY',
});
const requestsFor = (model: string) => stub.requests.filter((r) => r.body.model === model);

beforeAll(async () => {
  stub = await startOpenAiStub({ apiKey: KEY });
  runtime = createRuntime(
    { runtime: { workers: 1 }, audit: { storage_type: 'memory' } },
    { env: { ENVIRONMENT: 'test', STUB_API_KEY: KEY, WRONG_API_KEY: 'sk-wrong' } },
  );
  await runtime.start();
});

afterAll(async () => {
  await runtime?.stop();
  await stub?.close();
});

describe('openai planner', () => {
  it('offers the capability graph as tools, runs the tool call, feeds the result back and ends when the model answers', async () => {
    const session = await runtime.createSession({
      ...base,
      task: 'say hello',
      planner: planner('echo-then-answer'),
    });
    const status = await session.run();

    expect(status.state).toBe('completed');
    expect(status.results).toHaveLength(1);
    expect(status.results[0]).toMatchObject({
      name: 'echo',
      success: true,
      result: { message: 'say hello' },
    });
    const [first, second] = requestsFor('echo-then-answer');
    expect(first!.authorization).toBe(`Bearer ${KEY}`);
    expect(first!.body.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'echo',
          description: 'Returns the message it is given.',
          parameters: session.capabilities[0]!.input_schema,
        },
      },
    ]);
    const toolMessage = second!.body.messages.find((m) => m.role === 'tool');
    expect(toolMessage?.tool_call_id).toBe('call_1');
    expect(JSON.parse(toolMessage!.content!)).toEqual({ result: { message: 'say hello' } });
    // The key went to the server and nowhere else: not into the audit trail.
    const trail = JSON.stringify(await runtime.audit.query({ session_id: session.id, limit: 1000 }));
    expect(trail).not.toContain(KEY);
    expect(trail).toContain('action_completed');
  });

  it('answers unreadable arguments with an invalid_params tool message and schema-breaking ones through the audited path', async () => {
    const session = await runtime.createSession({
      ...base,
      task: 'try hard',
      planner: planner('bad-arguments'),
    });
    const status = await session.run();

    expect(status.state).toBe('completed');
    // 1. '{"message": oops' never became an action; the model was told why.
    const afterJunk = requestsFor('bad-arguments')[1]!.body.messages.at(-1)!;
    expect(afterJunk.role).toBe('tool');
    expect(JSON.parse(afterJunk.content!).error.code).toBe('invalid_params');
    // 2. {"message": 42} was an action, rejected by the capability's schema, 3. then "fixed" ran.
    expect(status.results.map((r) => [r.success, r.error?.code ?? null])).toEqual([
      [false, 'invalid_params'],
      [true, null],
    ]);
    const afterSchema = requestsFor('bad-arguments')[2]!.body.messages.at(-1)!;
    expect(JSON.parse(afterSchema.content!).error.code).toBe('invalid_params');
    const rejected = await runtime.audit.query({ session_id: session.id, event_types: ['action_rejected'] });
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.metadata.error_code).toBe('invalid_params');
  });

  it('stops a model that never finishes at max_iterations', async () => {
    const session = await runtime.createSession({
      ...base,
      policy: { max_iterations: 3 },
      planner: planner('always-tool'),
    });
    const status = await session.run();
    expect(status.state).toBe('failed');
    expect(status.error?.code).toBe('max_iterations_reached');
    expect(status.results).toHaveLength(3);
    expect(status.results.every((r) => r.success)).toBe(true);
  });

  it('fails the session with planner_error when the server keeps answering 500, after retrying', async () => {
    const session = await runtime.createSession({ ...base, planner: planner('server-error') });
    const status = await session.run();
    expect(status.state).toBe('failed');
    expect(status.error?.code).toBe('planner_error');
    expect(status.error?.message).toContain('answered 500');
    expect(requestsFor('server-error')).toHaveLength(3);
    const ended = await runtime.audit.query({ session_id: session.id, event_types: ['session_ended'] });
    expect(ended[0]!.metadata.error_code).toBe('planner_error');
  });

  it('rides out one transient 500', async () => {
    const session = await runtime.createSession({ ...base, task: 'again', planner: planner('flaky') });
    const status = await session.run();
    expect(status.state).toBe('completed');
    expect(status.results[0]?.result).toEqual({ message: 'again' });
  });

  it('does not retry a 401 (wrong key) and says what the server answered', async () => {
    const session = await runtime.createSession({
      ...base,
      planner: { ...planner('echo-then-answer'), api_key_env: 'WRONG_API_KEY' },
    });
    const status = await session.run();
    expect(status.error?.code).toBe('planner_error');
    expect(status.error?.message).toContain('answered 401');
    expect(status.error?.message).not.toContain('sk-wrong');
  });

  it('refuses api_key_env that is unset or not an *_API_KEY variable', async () => {
    await expect(
      runtime.createSession({
        ...base,
        planner: { ...planner('echo-then-answer'), api_key_env: 'MISSING_API_KEY' },
      }),
    ).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('MISSING_API_KEY is not set'),
    });
    await expect(
      runtime.createSession({
        ...base,
        planner: { ...planner('echo-then-answer'), api_key_env: 'DATABASE_URL' },
      }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('_API_KEY') });
  });
});
