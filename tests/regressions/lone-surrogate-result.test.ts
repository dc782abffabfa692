/**
 * A tool result holding lone UTF-16 surrogates (a string cut in the middle of an emoji, or
 * "\ud800" decoded from JSON) cannot cross a thread: msgpack carries strings as UTF-8, which
 * has no form for a lone surrogate, so the audit thread would receive U+FFFD where the session
 * hashed the surrogate, and `audit verify` would call the event altered. Events now take the
 * carried form (U+FFFD) before they are hashed, which is also what the caller receives.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../helpers/runtime.ts';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(() => t.cleanup());

it('lone surrogates in a result are recorded as the caller sees them, and the chain verifies', async () => {
  const session = await t.runtime.createSession({ ...IDS, skills: ['lone_surrogate_result'] });
  const result = await session.execute({ name: 'lone_surrogate_result', params: {} });
  expect(result.success).toBe(true);
  const [completed] = await t.runtime.audit.query({ session_id: session.id, event_types: ['action_completed'] });
  expect(completed?.metadata).toEqual({ result: result.result });
  expect(result.result).toEqual({ text: 'cut \uFFFD here', '\uFFFDkey': 'tail \uFFFD' });
  expect(await t.runtime.audit.verify(session.id)).toMatchObject({ ok: true });
});

it('a lone surrogate in an error message is recorded as carried, and the chain verifies', async () => {
  const session = await t.runtime.createSession({ ...IDS, skills: ['lone_surrogate_result'] });
  const result = await session.execute({ name: 'lone_surrogate_result', params: { fail: true } });
  expect(result.success).toBe(false);
  const [failed] = await t.runtime.audit.query({ session_id: session.id, event_types: ['action_failed'] });
  expect(failed?.error_message).toContain('failed at \uFFFD, mid-emoji');
  expect(await t.runtime.audit.verify(session.id)).toMatchObject({ ok: true });
});
