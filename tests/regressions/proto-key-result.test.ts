/**
 * A tool result with an own "__proto__" key (legal JSON; a web page or an MCP server can send
 * it) used to make `audit verify` call the event altered: the hash was taken over "__proto__",
 * while msgpack, on the way to the audit thread, renames that key to "__proto_" (it never
 * creates a "__proto__" key, against prototype pollution). Events now take the renamed form
 * before they are hashed, which is also what the caller receives.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../helpers/runtime.ts';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(() => t.cleanup());

it('a "__proto__" key in a result is recorded as the caller sees it, and the chain verifies', async () => {
  const session = await t.runtime.createSession({ ...IDS, skills: ['proto_key_result'] });
  const result = await session.execute({ name: 'proto_key_result', params: {} });
  expect(result.success).toBe(true);
  expect(result.result).toEqual({ __proto_: { polluted: true }, kept: 1 });
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  const [completed] = await t.runtime.audit.query({ session_id: session.id, event_types: ['action_completed'] });
  expect(completed?.metadata).toEqual({ result: { __proto_: { polluted: true }, kept: 1 } });
  expect(await t.runtime.audit.verify(session.id)).toMatchObject({ ok: true });
});
