import { afterAll, beforeAll, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../helpers/runtime.ts';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(() => t.cleanup());

it('records the params that were asked for, even when a skill changes them in place', async () => {
  const session = await t.runtime.createSession({ ...IDS, skills: ['mutate_params'] });
  // Twice: the first action waits on the sandbox's mkdir, so only later ones run within the
  // moment their action_started event still waits in the outbox.
  for (const text of ['first', 'second']) {
    const result = await session.execute({ name: 'mutate_params', params: { text } });
    expect(result.success).toBe(true);
  }
  const started = await t.runtime.audit.query({ session_id: session.id, event_types: ['action_started'] });
  expect(started.map((e) => e.action_params)).toEqual([{ text: 'first' }, { text: 'second' }]);
  expect(await t.runtime.audit.verify(session.id)).toMatchObject({ ok: true });
});
