import { afterEach, describe, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';

describe('a worker thread that dies', () => {
  let t: TestRuntime | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('fails only its own sessions in-flight actions with worker_crashed, audits it, and is replaced', async () => {
    t = await startTestRuntime();
    const { runtime } = t;
    // Two sessions, one per worker (placement balances them).
    const doomed = await runtime.createSession({ ...IDS, tools: ['sleep'], skills: ['crash_worker'] });
    const bystander = await runtime.createSession({ ...IDS, tools: ['sleep'] });
    expect(runtime.supervisor.placement(doomed.key)?.slot).not.toBe(runtime.supervisor.placement(bystander.key)?.slot);

    // 1. The bystander has an action in flight on the other worker.
    const bystanderResult = bystander.execute({ name: 'sleep', params: { ms: 300 } });
    // 2. The doomed session runs a slow action and one that kills its worker.
    const results = await doomed.execute([
      { id: 'slow', name: 'sleep', params: { ms: 5_000 } },
      { id: 'boom', name: 'crash_worker', params: { after_ms: 50 } },
    ]);
    expect(results.map((r) => [r.action_id, r.error?.code])).toEqual([
      ['slow', 'worker_crashed'],
      ['boom', 'worker_crashed'],
    ]);
    // 3. The other worker's action is untouched.
    expect((await bystanderResult).success).toBe(true);

    // 4. The crashed session is failed, with nothing hanging.
    const status = await doomed.status();
    expect(status).toMatchObject({ state: 'failed', error: { code: 'worker_crashed' } });
    await expect(doomed.execute({ name: 'sleep', params: { ms: 1 } })).rejects.toMatchObject({ code: 'session_not_active' });

    // 5. The trail records the crash and its chain still verifies end to end.
    const trail = await runtime.audit.query({ session_id: doomed.id, limit: 100 });
    const failed = trail.filter((e) => e.event_type === 'action_failed').map((e) => [e.action_id, e.metadata.error_code]);
    expect(failed).toEqual(expect.arrayContaining([['slow', 'worker_crashed'], ['boom', 'worker_crashed']]));
    expect(trail.at(-1)?.event_type).toBe('session_ended');
    expect(await runtime.audit.verify(doomed.id)).toMatchObject({ ok: true, complete: true });

    // 6. A replacement worker serves new sessions.
    await expect.poll(() => runtime.supervisor.stats().workers).toBe(2);
    expect(runtime.supervisor.stats().worker_restarts).toBe(1);
    const fresh = await Promise.all([1, 2].map(() => runtime.createSession({ ...IDS, tools: ['sleep'] })));
    for (const s of fresh) expect((await s.execute({ name: 'sleep', params: { ms: 1 } })).success).toBe(true);
  });

  it('treats a thread killed from outside the same way', async () => {
    t = await startTestRuntime({ runtime: { workers: 1 } });
    const { runtime } = t;
    const session = await runtime.createSession({ ...IDS, tools: ['sleep'] });
    const pending = session.execute({ id: 'long', name: 'sleep', params: { ms: 10_000 } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await runtime.supervisor.threads[0]!.terminate();
    expect((await pending).error?.code).toBe('worker_crashed');
    const next = await runtime.createSession({ ...IDS, tools: ['sleep'] });
    expect((await next.execute({ name: 'sleep', params: { ms: 1 } })).success).toBe(true);
  });

  it('bounds a runaway session with the worker memory limit', async () => {
    t = await startTestRuntime({ runtime: { workers: 1, worker_max_memory_mb: 64 } });
    const { runtime } = t;
    const session = await runtime.createSession({ ...IDS, skills: ['memory_hog'] });
    const result = await session.execute({ name: 'memory_hog', params: {} });
    expect(result.error?.code).toBe('worker_crashed');
    expect(result.error?.message).toMatch(/memory/i);
    const next = await runtime.createSession({ ...IDS, tools: ['echo'] });
    expect((await next.execute({ name: 'echo', params: { message: 'alive' } })).success).toBe(true);
  });

  it('stops respawning when workers keep dying', async () => {
    t = await startTestRuntime({ runtime: { workers: 1, max_restarts: 2, restart_window_seconds: 60 } });
    const { runtime } = t;
    for (let i = 0; i < 3; i++) {
      await expect.poll(() => runtime.supervisor.stats().workers, { timeout: 10_000 }).toBe(1);
      const s = await runtime.createSession({ ...IDS, skills: ['crash_worker'] });
      expect((await s.execute({ name: 'crash_worker', params: {} })).error?.code).toBe('worker_crashed');
    }
    expect(runtime.supervisor.stats().respawning_stopped).toBe(true);
    await expect(runtime.createSession({ ...IDS })).rejects.toMatchObject({ code: 'runtime_busy' });
    expect((await runtime.health()).status).toBe('unhealthy');
  });
});
