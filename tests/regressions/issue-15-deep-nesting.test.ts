/**
 * Issue 15, finding 2: a 4 KB request with params or metadata nested ~2,000 levels made msgpack
 * packing throw `RangeError: Maximum call stack size exceeded` on the daemon's main thread, and
 * the process died. Now the body is refused where it is parsed (400 invalid_request naming the
 * limit), the daemon keeps serving, and the library refuses the same input with the same error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/index.ts';
import { call, type DaemonProcess, startDaemon } from '../e2e/daemon-harness.ts';

/** {"a":{"a":…{"a":1}…}} nested `depth` levels: about 6 bytes a level. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
}
const arrays = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`);

const SESSION = {
  org_id: 'acme',
  user_id: 'u',
  agent_id: 'a',
  tools: ['echo'],
  planner: { type: 'external' },
};

describe('issue-15: deeply nested request data', () => {
  let daemon: DaemonProcess;
  beforeAll(async () => {
    daemon = await startDaemon({ API_TOKENS: 'tok-acme=acme', AUDIT_STORAGE_TYPE: 'memory' });
  });
  afterAll(() => daemon?.kill());

  it('refuses session metadata nested 2,000 levels with 400 naming the limit, and keeps serving', async () => {
    const res = await call(daemon.api, 'tok-acme', 'POST', '/v1/sessions', {
      ...SESSION,
      metadata: nested(2000),
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'invalid_request' } });
    expect(JSON.stringify(res.body)).toMatch(/nest(ed|ing) deeper than 64 levels/);
    expect((await fetch(`${daemon.admin}/health`)).status).toBe(200);
  });

  it('refuses action params nested 2,000 levels (objects and arrays), and the session goes on', async () => {
    const created = await call<{ session_id: string }>(
      daemon.api,
      'tok-acme',
      'POST',
      '/v1/sessions',
      SESSION,
    );
    expect(created.status).toBe(201);
    const url = `/v1/sessions/${created.body.session_id}/actions`;
    for (const deep of [nested(2000), arrays(2000)]) {
      const res = await call(daemon.api, 'tok-acme', 'POST', url, [
        { name: 'echo', params: { message: 'x', deep } },
      ]);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'invalid_request' } });
    }
    const ok = await call<{ results: Array<{ success: boolean }> }>(daemon.api, 'tok-acme', 'POST', url, [
      { name: 'echo', params: { message: 'still here' } },
    ]);
    expect(ok.status).toBe(200);
    expect(ok.body.results[0]?.success).toBe(true);
    expect(daemon.proc.exitCode).toBeNull();
  });

  it('accepts nesting up to the limit', async () => {
    const res = await call(daemon.api, 'tok-acme', 'POST', '/v1/sessions', {
      ...SESSION,
      metadata: nested(60),
    });
    expect(res.status).toBe(201);
  });
});

describe('issue-15: the library refuses the same input instead of crashing its process', () => {
  it('createSession and execute answer invalid_request for data nested too deep', async () => {
    const runtime = createRuntime(
      { runtime: { workers: 1 }, audit: { storage_type: 'memory' } },
      { env: { ENVIRONMENT: 'test' } },
    );
    await runtime.start();
    try {
      await expect(
        runtime.createSession({ ...SESSION, metadata: nested(5000) } as never),
      ).rejects.toMatchObject({
        code: 'invalid_request',
      });
      const session = await runtime.createSession(SESSION as never);
      await expect(
        session.execute({ name: 'echo', params: { message: 'x', deep: nested(5000) } }),
      ).rejects.toMatchObject({
        code: 'invalid_request',
      });
      const ok = await session.execute({ name: 'echo', params: { message: 'fine' } });
      expect(ok.success).toBe(true);
    } finally {
      await runtime.stop();
    }
  });
});
