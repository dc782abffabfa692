import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';

describe('the execution path', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await startTestRuntime();
  });
  afterAll(() => t.cleanup());

  it('runs a built-in tool and answers with the SPEC result shape', async () => {
    const session = await t.runtime.createSession({ ...IDS, tools: ['echo'] });
    expect(session.capabilities.map((c) => [c.name, c.kind])).toEqual([['echo', 'tool']]);
    const result = await session.execute({ id: 'a1', name: 'echo', params: { message: 'hi' } });
    expect(result).toMatchObject({ action_id: 'a1', name: 'echo', success: true, result: { message: 'hi' } });
    expect(result.duration_ms).toBeGreaterThanOrEqual(0);
    expect(result.metadata).toMatchObject({ capability_kind: 'tool', capability_source: 'builtin', capability_version: '1.0.0' });
  });

  it('refuses an unknown action name with capability_not_found and audits the rejection', async () => {
    const session = await t.runtime.createSession({ ...IDS, tools: ['echo'] });
    const result = await session.execute({ id: 'x', name: 'rm_rf', params: {} });
    expect(result.success).toBe(false);
    expect(result.error?.code).toBe('capability_not_found');
    const events = await t.runtime.audit.query({ session_id: session.id, event_types: ['capability_validation_failed', 'action_rejected'] });
    expect(events.map((e) => e.event_type).sort()).toEqual(['action_rejected', 'capability_validation_failed']);
  });

  it('validates params against the JSON Schema and names the problem (invalid_params)', async () => {
    const session = await t.runtime.createSession({ ...IDS, tools: ['echo', 'sleep'] });
    const [missing, wrongType, extra] = await session.execute([
      { name: 'echo', params: {} },
      { name: 'sleep', params: { ms: 'soon' } },
      { name: 'echo', params: { message: 'x', shout: true } },
    ]);
    expect(missing?.error).toMatchObject({ code: 'invalid_params' });
    expect(missing?.error?.message).toContain('message');
    expect(wrongType?.error?.message).toMatch(/params\.ms/);
    expect(extra?.error?.message).toContain('shout');
  });

  it('runs skills from the skills directory, with their version in the result', async () => {
    const session = await t.runtime.createSession({ ...IDS, skills: ['fail', 'thread_id'] });
    const failed = await session.execute({ name: 'fail', params: { reason: 'disk on fire' } });
    expect(failed.error).toEqual({ code: 'skill_error', message: 'skill fail failed: disk on fire' });
    expect(failed.metadata).toMatchObject({ capability_kind: 'skill', capability_version: '2.1.0' });
    // The worker survived a throwing skill.
    expect((await session.execute({ name: 'thread_id', params: {} })).success).toBe(true);
  });

  it('keeps a session on one worker thread for its whole life', async () => {
    const sessions = await Promise.all(
      Array.from({ length: 6 }, () => t.runtime.createSession({ ...IDS, skills: ['thread_id'], policy: { max_iterations: 50 } })),
    );
    const threadsUsed = new Set<number>();
    for (const session of sessions) {
      const seen = new Set<number>();
      for (let i = 0; i < 10; i++) {
        const r = await session.execute({ name: 'thread_id', params: {} });
        seen.add((r.result as { thread_id: number }).thread_id);
      }
      expect(seen.size).toBe(1);
      threadsUsed.add([...seen][0]!);
    }
    // Placement spreads sessions over both workers.
    expect(threadsUsed.size).toBe(2);
  });

  it('runs a scripted plan step by step, actions of a step concurrently', async () => {
    const session = await t.runtime.createSession({
      ...IDS,
      tools: ['echo', 'write_file', 'read_file'],
      planner: {
        type: 'scripted',
        steps: [
          [{ name: 'write_file', params: { path: 'a/b.txt', content: 'ünï\tcode\n' } }],
          [
            { name: 'read_file', params: { path: 'a/b.txt' } },
            { name: 'echo', params: { message: 'two' } },
          ],
        ],
      },
    });
    const status = await session.run();
    expect(status.state).toBe('completed');
    expect(status.iteration).toBe(2);
    expect(status.results.map((r) => r.success)).toEqual([true, true, true]);
    expect(status.results[1]?.result).toEqual({ content: 'ünï\tcode\n' });
  });

  it('ends a session that asks for more than max_iterations with max_iterations_reached', async () => {
    const scripted = await t.runtime.createSession({
      ...IDS,
      tools: ['echo'],
      policy: { max_iterations: 2 },
      planner: { type: 'scripted', steps: [1, 2, 3].map((n) => [{ name: 'echo', params: { message: `${n}` } }]) },
    });
    const status = await scripted.run();
    expect(status.state).toBe('failed');
    expect(status.error?.code).toBe('max_iterations_reached');
    expect(status.results).toHaveLength(2);

    const external = await t.runtime.createSession({ ...IDS, tools: ['echo'], policy: { max_iterations: 1 } });
    await external.execute({ name: 'echo', params: { message: 'one' } });
    await expect(external.execute({ name: 'echo', params: { message: 'two' } })).rejects.toMatchObject({
      code: 'max_iterations_reached',
    });
    expect((await external.status()).state).toBe('failed');
  });

  it('answers misuse with clear codes', async () => {
    const external = await t.runtime.createSession({ ...IDS, session_id: 'fixed-id', tools: ['echo'] });
    await expect(external.run()).rejects.toMatchObject({ code: 'wrong_planner' });
    await expect(t.runtime.createSession({ ...IDS, session_id: 'fixed-id' })).rejects.toMatchObject({ code: 'session_exists' });
    await expect(external.execute([])).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(
      external.execute([
        { id: 'dup', name: 'echo', params: { message: '1' } },
        { id: 'dup', name: 'echo', params: { message: '2' } },
      ]),
    ).rejects.toMatchObject({ code: 'invalid_request' });
    await external.end();
    await expect(external.execute({ name: 'echo', params: { message: 'late' } })).rejects.toMatchObject({
      code: 'session_not_active',
    });
    expect(() => t.runtime.session('no-such-session')).toThrow(expect.objectContaining({ code: 'session_not_found' }));
  });

  it('rejects bad session requests naming the field', async () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ user_id: 'u', agent_id: 'a' }, /org_id/],
      [{ ...IDS, tools: ['echo', 'teleport'] }, /teleport/],
      [{ ...IDS, skills: ['nope'] }, /nope/],
      [{ ...IDS, policy: { max_iterations: 0 } }, /policy\.max_iterations/],
      [{ ...IDS, planner: { type: 'psychic' } }, /planner/],
      [{ ...IDS, colour: 'red' }, /colour/],
    ];
    for (const [request, message] of bad) {
      const err = await t.runtime.createSession(request as never).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: expect.stringMatching(/^invalid_/) });
      expect((err as Error).message).toMatch(message);
    }
  });

  it('limits skills per agent (too_many_skills)', async () => {
    const small = await startTestRuntime({ capability: { max_skills_per_agent: 1 } });
    try {
      await expect(small.runtime.createSession({ ...IDS, skills: ['fail', 'thread_id'] })).rejects.toMatchObject({
        code: 'too_many_skills',
      });
    } finally {
      await small.cleanup();
    }
  });
});
