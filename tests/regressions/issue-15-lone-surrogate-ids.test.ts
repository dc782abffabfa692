/**
 * Issue 15, finding 7: a session id holding a lone UTF-16 surrogate was accepted (201) but could
 * never be reached again (it is carried and stored as U+FFFD). Every id is now refused with 400
 * invalid_request naming the field, over HTTP and through the library.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, type Harness, startHarness } from '../unit/api/api-harness.ts';

const SESSION = {
  org_id: 'acme',
  user_id: 'u',
  agent_id: 'a',
  tools: ['echo'],
  planner: { type: 'external' },
};
const LONE = ['\uD800', 'id-\uDFFF', '\uDC00\uD800', 'a\uD83D'];

describe('issue-15: ids with lone surrogates', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  const post = (url: string, body: unknown) =>
    h.api.inject({
      method: 'POST',
      url,
      headers: { ...auth('tok-acme'), 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  it.each(['session_id', 'user_id', 'agent_id'])('refuses a %s with a lone surrogate', async (field) => {
    for (const bad of LONE) {
      const res = await post('/v1/sessions', { ...SESSION, [field]: bad });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'invalid_request' } });
      expect(res.json().error.message).toContain(field);
      expect(res.json().error.message).toContain('lone surrogate');
    }
  });

  it('refuses an action id or name with a lone surrogate, and runs the well-formed one', async () => {
    const created = await post('/v1/sessions', { ...SESSION, session_id: 'ok-😀-id' });
    expect(created.statusCode).toBe(201);
    const url = '/v1/sessions/ok-😀-id/actions'.replace('😀', encodeURIComponent('😀'));
    for (const action of [
      { id: 'x\uD800', name: 'echo', params: { message: 'm' } },
      { name: 'echo\uDFFF', params: { message: 'm' } },
    ]) {
      const res = await post(url, [action]);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'invalid_request' } });
    }
    const ok = await post(url, [{ id: 'a-😀', name: 'echo', params: { message: 'well-formed' } }]);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().results[0]).toMatchObject({ action_id: 'a-😀', success: true });
  });

  it('the library refuses the same ids', async () => {
    await expect(
      h.runtime.createSession({ ...SESSION, session_id: 'lib-\uD800' } as never),
    ).rejects.toMatchObject({
      code: 'invalid_request',
    });
    const session = await h.runtime.createSession(SESSION as never);
    await expect(
      session.execute({ id: '\uDFFF', name: 'echo', params: { message: 'm' } }),
    ).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });
});
