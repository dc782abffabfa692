/**
 * Issue 18, first part: tokens name a principal and carry roles (`token=org_id:name:run+approve+read`;
 * `token=org_id` keeps every role). Every route asks for its role; a decision records the
 * principal as decided_by; with APPROVAL_SEPARATION the principal that started a session cannot
 * approve its actions. Two orgs, every role, every session and audit route.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenTable, parseGrant } from '../../src/api/http/auth.ts';
import { apiCaller, type Harness, startHarness } from '../unit/api/api-harness.ts';

const TOKENS = {
  'tok-admin': 'acme',
  'tok-runner': 'acme:runner:run+read',
  'tok-bot': 'acme:bot:run',
  'tok-alice': 'acme:alice:approve+read',
  'tok-auditor': 'acme:auditor:read',
  'tok-dual': 'acme:dual:run+approve+read',
  'tok-globex': 'globex:gl-alice:run+approve+read',
};
const ADMIN_NAME = `token:${createHash('sha256').update('tok-admin').digest('hex').slice(0, 8)}`;
const SESSION = {
  org_id: 'acme',
  user_id: 'u',
  agent_id: 'a',
  tools: ['echo', 'delete_file'],
  planner: { type: 'external' },
};

describe('issue-18: token principals and roles', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ api_tokens: TOKENS, approval_separation: true });
  });
  afterAll(async () => {
    await h.close();
  });

  const call = apiCaller(() => h.api);
  const start = async (token: string, session_id: string) => {
    const res = await call(token, 'POST', '/v1/sessions', { ...SESSION, session_id });
    expect(res.statusCode).toBe(201);
    return session_id;
  };
  /** Submits a high-risk action (it waits for a decision) and resolves once it is pending. */
  const pendingDelete = async (token: string, id: string) => {
    const answer = call(token, 'POST', `/v1/sessions/${id}/actions`, [
      { id: `del-${id}`, name: 'delete_file', params: { path: 'x.txt' } },
    ]);
    for (let i = 0; i < 200; i++) {
      const status = (await call('tok-admin', 'GET', `/v1/sessions/${id}`)).json();
      // Wrapped: an async function returning the answer itself would wait for it.
      if (status.pending_approvals?.length) return { answer };
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the approval never became pending');
  };

  it('starting sessions and submitting actions needs run: 403 forbidden names the role that is missing', async () => {
    for (const token of ['tok-alice', 'tok-auditor']) {
      const res = await call(token, 'POST', '/v1/sessions', { ...SESSION });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toMatchObject({
        code: 'forbidden',
        message: expect.stringContaining('needs the run role'),
      });
    }
    const id = await start('tok-runner', 'roles-run');
    expect(
      (
        await call('tok-runner', 'POST', `/v1/sessions/${id}/actions`, [
          { name: 'echo', params: { message: 'x' } },
        ])
      ).statusCode,
    ).toBe(200);
    for (const token of ['tok-alice', 'tok-auditor']) {
      const res = await call(token, 'POST', `/v1/sessions/${id}/actions`, [
        { name: 'echo', params: { message: 'x' } },
      ]);
      expect(res.statusCode).toBe(403);
      expect((await call(token, 'DELETE', `/v1/sessions/${id}`)).statusCode).toBe(403);
    }
  });

  it('reading a session and the audit trail needs read; a run-only token is refused', async () => {
    const id = await start('tok-runner', 'roles-read');
    for (const token of ['tok-runner', 'tok-alice', 'tok-auditor', 'tok-admin']) {
      expect((await call(token, 'GET', `/v1/sessions/${id}`)).statusCode).toBe(200);
      expect((await call(token, 'GET', `/v1/audit/events?session_id=${id}`)).statusCode).toBe(200);
      expect((await call(token, 'GET', '/v1/audit/count')).statusCode).toBe(200);
    }
    for (const url of [`/v1/sessions/${id}`, '/v1/audit/events', '/v1/audit/count']) {
      const res = await call('tok-bot', 'GET', url);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.message).toContain('needs the read role');
    }
    // Another org's token with every role still does not find it.
    expect((await call('tok-globex', 'GET', `/v1/sessions/${id}`)).statusCode).toBe(404);
  });

  it('deciding needs approve; the decision records the principal as decided_by', async () => {
    const id = await start('tok-runner', 'roles-approve');
    const { answer } = await pendingDelete('tok-runner', id);
    const url = `/v1/sessions/${id}/approvals/del-${id}`;
    for (const token of ['tok-runner', 'tok-auditor', 'tok-bot']) {
      expect((await call(token, 'POST', url, { granted: true })).statusCode).toBe(403);
    }
    expect((await call('tok-globex', 'POST', url, { granted: true })).statusCode).toBe(404);
    const decided = await call('tok-alice', 'POST', url, { granted: false, reason: 'not today' });
    expect(decided.statusCode).toBe(200);
    expect((await answer).json().results[0]).toMatchObject({
      success: false,
      error: { code: 'approval_denied' },
    });
    await h.runtime.audit.flush();
    const [event] = await h.runtime.audit.query({
      org_id: 'acme',
      session_id: id,
      event_types: ['approval_denied'],
    });
    expect(event).toMatchObject({
      approval_granted: false,
      metadata: { decided_by: 'alice', reason: 'not today' },
    });
    const [started] = await h.runtime.audit.query({
      org_id: 'acme',
      session_id: id,
      event_types: ['session_started'],
    });
    expect(started!.metadata).toMatchObject({ started_by: 'runner' });
  });

  it('APPROVAL_SEPARATION: whoever started a session cannot approve it, even holding approve; another approver can', async () => {
    const id = await start('tok-dual', 'roles-separation');
    const { answer } = await pendingDelete('tok-dual', id);
    const url = `/v1/sessions/${id}/approvals/del-${id}`;
    const own = await call('tok-dual', 'POST', url, { granted: true });
    expect(own.statusCode).toBe(403);
    expect(own.json().error).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining('approval separation'),
    });
    expect((await call('tok-admin', 'POST', url, { granted: false })).statusCode).toBe(200);
    expect((await answer).json().results[0]).toMatchObject({ error: { code: 'approval_denied' } });
    await h.runtime.audit.flush();
    const [event] = await h.runtime.audit.query({
      org_id: 'acme',
      session_id: id,
      event_types: ['approval_denied'],
    });
    expect(event!.metadata).toMatchObject({ decided_by: ADMIN_NAME });
  });

  it('refuses a bad grant at start, naming its position and never the token', () => {
    expect(() => new TokenTable({ 's3cret-token-value': 'acme:alice:approve+delete' })).toThrow(
      expect.objectContaining({
        name: 'ConfigError',
        message: expect.stringMatching(/API token 1 .*unknown role\(s\) "delete"/),
      }),
    );
    for (const bad of ['acme:alice', 'acme::read', ':x:read', 'a:b:c:read']) {
      expect(() => new TokenTable({ 's3cret-token-value': bad })).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
      );
    }
    expect(parseGrant('acme')).toMatchObject({ org_id: 'acme', name: undefined });
    expect([...parseGrant('acme:alice:read+approve').roles].sort()).toEqual(['approve', 'read']);
  });
});
