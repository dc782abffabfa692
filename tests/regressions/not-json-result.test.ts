/**
 * A skill that returned a value JSON cannot hold (a BigInt, a cyclic object) used to make the
 * call reject with internal_error after action_started was recorded, leaving the action without
 * its terminal event. It now fails as skill_error, with action_failed saying why, and the
 * session goes on.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../helpers/runtime.ts';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(() => t.cleanup());

it.each(['bigint', 'cycle'])(
  'a %s result fails the action as skill_error, audited, and the session goes on',
  async (kind) => {
    const session = await t.runtime.createSession({ ...IDS, skills: ['not_json_result'], tools: ['echo'] });
    const result = await session.execute({ name: 'not_json_result', params: { kind } });
    expect(result.success).toBe(false);
    expect(result.error?.code).toBe('skill_error');
    expect(result.error?.message).toMatch(/^the skill returned a value that is not JSON: /);
    expect((await session.execute({ name: 'echo', params: { message: 'after' } })).success).toBe(true);

    const events = await t.runtime.audit.query({ session_id: session.id });
    const types = events.map((e) => e.event_type);
    expect(types.filter((x) => x === 'action_started')).toHaveLength(2);
    expect(types.filter((x) => x === 'action_failed')).toHaveLength(1);
    expect(types.filter((x) => x === 'action_completed')).toHaveLength(1);
    const failed = events.find((e) => e.event_type === 'action_failed')!;
    expect(failed.error_message).toBe(result.error?.message);
    expect(failed.metadata).toEqual({ error_code: 'skill_error' });
    // No gap in the chain where the unrecordable event would have been.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
    expect(await t.runtime.audit.verify(session.id)).toMatchObject({ ok: true });
  },
);
