import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PendingApproval } from '../../../src/index.ts';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';

describe('approval of high-risk actions', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await startTestRuntime();
  });
  afterAll(() => t.cleanup());

  /** Starts a delete_file action and resolves once its approval is requested. */
  async function pendingDelete(policy: Record<string, unknown> = {}) {
    const session = await t.runtime.createSession({ ...IDS, tools: ['write_file', 'delete_file'], policy });
    await session.execute({ name: 'write_file', params: { path: 'victim.txt', content: 'x' } });
    const requested = new Promise<PendingApproval>((resolve) => {
      const off = t.runtime.onApprovalRequested((e) => {
        if (e.session_id === session.id) {
          off();
          resolve(e.approval);
        }
      });
    });
    const result = session.execute({ id: 'del', name: 'delete_file', params: { path: 'victim.txt' } });
    return { session, approval: await requested, result };
  }

  it('pauses the action, then runs it once granted, recording who, when, why and which params', async () => {
    const { session, approval, result } = await pendingDelete();
    // 1. While waiting the session says so, and shows what waits.
    const waiting = await session.status();
    expect(waiting.state).toBe('waiting_approval');
    expect(waiting.pending_approvals).toEqual([expect.objectContaining({ action_id: 'del', name: 'delete_file' })]);
    // 2. A person grants it.
    await session.approve('del', true, { decided_by: 'bob@acme', reason: 'old file', params_hash: approval.params_hash });
    const done = await result;
    expect(done).toMatchObject({ success: true, result: { deleted: true } });
    expect(done.metadata?.approval).toMatchObject({ decided_by: 'bob@acme', reason: 'old file', params_hash: approval.params_hash });
    expect((await session.status()).state).toBe('running');
    // 3. The trail has the request and the grant, with the params hash.
    const events = await t.runtime.audit.query({ session_id: session.id, event_types: ['approval_requested', 'approval_granted'] });
    expect(events.map((e) => e.event_type)).toEqual(['approval_requested', 'approval_granted']);
    expect(events[0]?.metadata.params_hash).toBe(approval.params_hash);
    expect(events[1]).toMatchObject({ approval_granted: true, requires_approval: true });
    expect(events[1]?.metadata).toMatchObject({ decided_by: 'bob@acme', reason: 'old file', params_hash: approval.params_hash });
    expect(typeof events[1]?.metadata.decided_at).toBe('string');
  });

  it('denies the action when a person says no', async () => {
    const { session, result } = await pendingDelete();
    await session.approve('del', false, { decided_by: 'bob@acme', reason: 'keep it' });
    expect((await result).error).toEqual({ code: 'approval_denied', message: 'denied: keep it' });
    const [denied] = await t.runtime.audit.query({ session_id: session.id, event_types: ['approval_denied'] });
    expect(denied).toMatchObject({ approval_granted: false });
    expect(denied?.metadata).toMatchObject({ decided_by: 'bob@acme', reason: 'keep it' });
  });

  it('denies the action when nobody decides within approval_timeout_seconds', async () => {
    const { session, result } = await pendingDelete({ approval_timeout_seconds: 0.2 });
    expect((await result).error?.code).toBe('approval_timeout');
    const [denied] = await t.runtime.audit.query({ session_id: session.id, event_types: ['approval_denied'] });
    expect(denied?.metadata).toMatchObject({ decided_by: 'system', timed_out: true });
    await expect(session.approve('del', true)).rejects.toMatchObject({ code: 'approval_not_found' });
  });

  it('refuses a grant given for different params, and keeps the action waiting', async () => {
    const { session, result } = await pendingDelete();
    const otherHash = 'f'.repeat(64);
    await expect(session.approve('del', true, { params_hash: otherHash })).rejects.toMatchObject({
      code: 'approval_params_mismatch',
    });
    expect((await session.status()).state).toBe('waiting_approval');
    await session.approve('del', false, { reason: 'cleanup' });
    expect((await result).error?.code).toBe('approval_denied');
  });

  it('never carries a grant over to another action', async () => {
    const { session, result } = await pendingDelete();
    await session.approve('del', true);
    await result;
    await expect(session.approve('del', true)).rejects.toMatchObject({ code: 'approval_not_found' });
    await expect(session.approve('never-requested', true)).rejects.toMatchObject({ code: 'approval_not_found' });
  });

  it('runs high-risk tools without a person when the policy says so', async () => {
    const session = await t.runtime.createSession({
      ...IDS,
      tools: ['write_file', 'delete_file'],
      policy: { require_approval_for_high_risk: false },
    });
    await session.execute({ name: 'write_file', params: { path: 'f', content: '' } });
    expect((await session.execute({ name: 'delete_file', params: { path: 'f' } })).success).toBe(true);
  });

  it('fails a pending approval when the session is cancelled', async () => {
    const { session, result } = await pendingDelete();
    const status = await session.cancel('user left');
    expect(status.state).toBe('cancelled');
    expect((await result).error?.code).toBe('action_cancelled');
    const verify = await t.runtime.audit.verify(session.id);
    expect(verify).toMatchObject({ ok: true, complete: true });
  });
});
