import { afterAll, beforeAll, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../helpers/runtime.ts';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(() => t.cleanup());

it('records the params that were asked for, even when a skill changes them in place', async () => {
  const session = await t.runtime.createSession({ ...IDS, skills: ['mutate_params'] });
  const result = await session.execute({ name: 'mutate_params', params: { text: 'original' } });
  expect(result.success).toBe(true);
  const [started] = await t.runtime.audit.query({ session_id: session.id, event_types: ['action_started'] });
  expect(started?.action_params).toEqual({ text: 'original' });
  expect(await t.runtime.audit.verify(session.id)).toMatchObject({ ok: true });
});
