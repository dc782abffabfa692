/**
 * Issue 18: the approvals inbox. GET /v1/approvals lists what an org's sessions asked a person
 * to decide (pending, granted, denied, expired), POST /v1/approvals/:approval_id decides one.
 * Org-scoped, role-checked, every bad input a clear 4xx, a second decision 409 approval_closed,
 * and a decision from the inbox leaves the same audit events as one through the session route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, type Harness, startHarness } from '../unit/api/api-harness.ts';

const TOKENS = {
  'tok-runner': 'acme:runner:run+read',
  'tok-alice': 'acme:alice:approve+read',
  'tok-auditor': 'acme:auditor:read',
  'tok-bot': 'acme:bot:run',
  'tok-globex': 'globex:gl-admin:run+approve+read',
};
const SESSION = {
  org_id: 'acme',
  user_id: 'u',
  agent_id: 'inbox-agent',
  tools: ['write_file', 'delete_file'],
  planner: { type: 'external' },
};

describe('issue-18: the approvals inbox', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ api_tokens: TOKENS });
  });
  afterAll(async () => {
    await h.close();
  });

  const call = apiCaller(() => h.api);

  /** A session that wrote a file and now asks to delete it; resolves once the approval is pending. */
  async function askToDelete(session_id: string, policy: Record<string, unknown> = {}) {
    expect(
      (await call('tok-runner', 'POST', '/v1/sessions', { ...SESSION, session_id, policy })).statusCode,
    ).toBe(201);
    const wrote = await call('tok-runner', 'POST', `/v1/sessions/${session_id}/actions`, [
      { name: 'write_file', params: { path: 'doomed.txt', content: 'bye' } },
    ]);
    expect(wrote.json().results[0]).toMatchObject({ success: true });
    const answer = call('tok-runner', 'POST', `/v1/sessions/${session_id}/actions`, [
      { id: `del-${session_id}`, name: 'delete_file', params: { path: 'doomed.txt' } },
    ]);
    for (let i = 0; i < 200; i++) {
      const { approvals } = (
        await call('tok-alice', 'GET', `/v1/approvals?state=pending&session_id=${session_id}`)
      ).json();
      if (approvals.length === 1) return { answer, approval: approvals[0] };
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the approval never showed in the inbox');
  }

  it('lists a pending approval with its exact params for the org, and nothing for another org', async () => {
    const { answer, approval } = await askToDelete('inbox-1');
    expect(approval).toMatchObject({
      org_id: 'acme',
      session_id: 'inbox-1',
      agent_id: 'inbox-agent',
      action_id: 'del-inbox-1',
      action_name: 'delete_file',
      params: { path: 'doomed.txt' },
      state: 'pending',
      reason: expect.stringContaining('high_risk_tools'),
    });
    expect(approval.approval_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(approval.expires_at)).toBeGreaterThan(Date.now());
    expect((await call('tok-globex', 'GET', '/v1/approvals')).json()).toEqual({ approvals: [] });
    expect((await call('tok-auditor', 'GET', '/v1/approvals?state=pending')).json().approvals).toHaveLength(
      1,
    );
    expect(
      (await call('tok-alice', 'GET', '/v1/approvals?state=granted&session_id=inbox-1')).json().approvals,
    ).toEqual([]);

    // Deciding: approve role only, own org only, a well-formed body only.
    const url = `/v1/approvals/${approval.approval_id}`;
    expect((await call('tok-auditor', 'POST', url, { granted: true })).statusCode).toBe(403);
    expect((await call('tok-runner', 'POST', url, { granted: true })).statusCode).toBe(403);
    const other = await call('tok-globex', 'POST', url, { granted: true });
    expect(other.statusCode).toBe(404);
    expect(other.json().error.code).toBe('approval_not_found');
    for (const bad of [{ granted: 'yes' }, {}, { granted: true, params_hash: 'x' }, [true]]) {
      const res = await call('tok-alice', 'POST', url, bad);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('invalid_request');
    }
    const decided = await call('tok-alice', 'POST', url, { granted: true, reason: 'looks right' });
    expect(decided.statusCode).toBe(200);
    expect(decided.json().approval).toMatchObject({
      state: 'granted',
      decided_by: 'alice',
      decision_reason: 'looks right',
    });
    expect((await answer).json().results[0]).toMatchObject({ action_id: 'del-inbox-1', success: true });

    // A second decision changes nothing.
    const again = await call('tok-alice', 'POST', url, { granted: false });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({ code: 'approval_closed' });
    expect(
      (await call('tok-alice', 'GET', '/v1/approvals?state=granted&session_id=inbox-1')).json().approvals,
    ).toHaveLength(1);
  });

  it('a decision from the inbox leaves the same audit events as one through the session route', async () => {
    const viaInbox = await askToDelete('inbox-same-a');
    await call('tok-alice', 'POST', `/v1/approvals/${viaInbox.approval.approval_id}`, { granted: true });
    await viaInbox.answer;
    const viaSession = await askToDelete('inbox-same-b');
    await call('tok-alice', 'POST', '/v1/sessions/inbox-same-b/approvals/del-inbox-same-b', {
      granted: true,
    });
    await viaSession.answer;
    await h.runtime.audit.flush();
    const story = async (id: string) =>
      (await h.runtime.audit.query({ org_id: 'acme', session_id: id, limit: 100 }))
        .filter((e) => e.action_id === `del-${id}`)
        .map((e) => [
          e.event_type,
          e.approval_granted ?? null,
          (e.metadata as { decided_by?: string })?.decided_by ?? null,
        ]);
    expect(await story('inbox-same-a')).toEqual(await story('inbox-same-b'));
  });

  it('an approval nobody decided in time is expired, and deciding it is 409 approval_closed', async () => {
    const { answer, approval } = await askToDelete('inbox-expiring', { approval_timeout_seconds: 0.3 });
    expect((await answer).json().results[0]).toMatchObject({ error: { code: 'approval_timeout' } });
    const expired = (
      await call('tok-alice', 'GET', '/v1/approvals?state=expired&session_id=inbox-expiring')
    ).json();
    expect(expired.approvals).toEqual([
      expect.objectContaining({ approval_id: approval.approval_id, state: 'expired' }),
    ]);
    const late = await call('tok-alice', 'POST', `/v1/approvals/${approval.approval_id}`, { granted: true });
    expect(late.statusCode).toBe(409);
    expect(late.json().error.code).toBe('approval_closed');
  });

  it('an approval whose session was cancelled is expired, not pending', async () => {
    const { answer, approval } = await askToDelete('inbox-cancelled');
    expect((await call('tok-runner', 'DELETE', '/v1/sessions/inbox-cancelled')).statusCode).toBe(200);
    await answer;
    const listed = (await call('tok-alice', 'GET', '/v1/approvals?session_id=inbox-cancelled')).json()
      .approvals;
    expect(listed).toEqual([
      expect.objectContaining({ approval_id: approval.approval_id, state: 'expired' }),
    ]);
  });

  it('answers bad queries and unknown ids with clear 4xx, and a run-only token with 403', async () => {
    for (const query of ['state=bogus', 'limit=0', 'limit=abc', 'limit=100000', 'unknown=1']) {
      const res = await call('tok-alice', 'GET', `/v1/approvals?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.code).toBe('invalid_request');
    }
    for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000', '%F0%9F%92%A9']) {
      const res = await call('tok-alice', 'POST', `/v1/approvals/${id}`, { granted: true });
      expect(res.statusCode, id).toBe(404);
      expect(res.json().error.code).toBe('approval_not_found');
    }
    expect((await call('tok-bot', 'GET', '/v1/approvals')).statusCode).toBe(403);
  });
});
