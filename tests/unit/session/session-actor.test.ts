/**
 * The executor and the session actor, driven in this thread (no worker): every way an action
 * ends, approvals bound to params, cancel and end, and the session protocol's worker-side
 * dispatch (actors/session/commands.ts). Each trail is checked to be one unbroken hash chain.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { handleCommand } from '../../../actors/session/commands.ts';
import { paramsHash } from '../../../src/execution/approval.ts';
import { verifyChain } from '../../../src/audit/hash-chain.ts';
import { sessionKey } from '../../../src/session-key.ts';
import { type InProcessSession, inProcessSession } from './in-process.ts';

let s: InProcessSession | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const KEY = sessionKey('acme', 'in-process');
const types = (session: InProcessSession) => session.events().map((e) => e.event_type);

/** Resolves with the pending approval once the session asked for one. */
async function approvalRequested(session: InProcessSession) {
  for (let i = 0; i < 100; i++) {
    const asked = session.notified.find((m) => m.type === 'supervisor.approval_requested');
    if (asked?.type === 'supervisor.approval_requested') return asked;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no approval was requested');
}

describe('executor and session actor, in process', () => {
  it('runs an action through the whole path and records one chain: started, validated, started, completed', async () => {
    s = await inProcessSession();
    const [result] = await s.actor.execute([{ id: 'a1', name: 'echo', params: { message: 'hi' } }]);
    expect(result).toMatchObject({ action_id: 'a1', success: true, result: { message: 'hi' } });
    expect(types(s)).toEqual([
      'session_started',
      'capability_validated',
      'action_started',
      'action_completed',
    ]);
    expect(verifyChain('in-process', s.events())).toMatchObject({ ok: true, org_id: 'acme' });
  });

  it('answers an unknown capability and bad params with their codes, as results, and audits them', async () => {
    s = await inProcessSession();
    const [unknown, bad] = await s.actor.execute([
      { id: 'u1', name: 'no_such_tool', params: {} },
      { id: 'b1', name: 'echo', params: { message: 42 } },
    ]);
    expect(unknown).toMatchObject({ success: false, error: { code: 'capability_not_found' } });
    expect(unknown!.error!.message).toContain('it has: ');
    expect(bad).toMatchObject({ success: false, error: { code: 'invalid_params' } });
    const ends = s.events().filter((e) => e.action_id === 'u1' || e.action_id === 'b1');
    expect(ends.every((e) => e.success === false)).toBe(true);
  });

  it('holds a high-risk action for a person, tells the supervisor, and runs it once approved with the same params', async () => {
    s = await inProcessSession();
    const pending = s.actor.execute([{ id: 'd1', name: 'delete_file', params: { path: 'gone.txt' } }]);
    const asked = await approvalRequested(s);
    expect(asked.session).toBe(KEY);
    expect(asked.approval).toMatchObject({
      action_id: 'd1',
      name: 'delete_file',
      params: { path: 'gone.txt' },
    });
    expect(s.actor.state).toBe('waiting_approval');
    // Approval bound to other params is refused and changes nothing.
    expect(() =>
      s!.actor.approve('d1', { granted: true, params_hash: paramsHash({ path: 'other.txt' }) }, 'alice'),
    ).toThrow(expect.objectContaining({ code: 'approval_params_mismatch' }));
    s.actor.approve('d1', { granted: true, params_hash: asked.approval.params_hash }, 'alice');
    const [result] = await pending;
    // The file never existed: the tool ran (and said so), which is what approval allows.
    expect(result).toMatchObject({ action_id: 'd1', success: false, error: { code: 'file_not_found' } });
    const decided = s.events().find((e) => e.event_type === 'approval_granted');
    expect(decided).toMatchObject({ approval_granted: true, metadata: { decided_by: 'alice' } });
  });

  it('a denied action is rejected with approval_denied and never runs', async () => {
    s = await inProcessSession();
    const pending = s.actor.execute([{ id: 'd2', name: 'delete_file', params: { path: 'keep.txt' } }]);
    await approvalRequested(s);
    s.actor.approve('d2', { granted: false, reason: 'no' }, 'bob');
    const [result] = await pending;
    expect(result).toMatchObject({ success: false, error: { code: 'approval_denied' } });
    expect(types(s)).not.toContain('action_started');
    expect(types(s)).toContain('action_rejected');
  });

  it('an action past action_timeout_seconds fails with action_timeout; the session goes on', async () => {
    s = await inProcessSession({ policy: { action_timeout_seconds: 0.05 } });
    const [slow] = await s.actor.execute([{ id: 's1', name: 'sleep', params: { ms: 5_000 } }]);
    expect(slow).toMatchObject({ success: false, error: { code: 'action_timeout' } });
    const [next] = await s.actor.execute([{ id: 'e1', name: 'echo', params: { message: 'after' } }]);
    expect(next).toMatchObject({ success: true });
  });

  it('cancel fails what is running with action_cancelled, ends the session once, and refuses more work', async () => {
    s = await inProcessSession();
    const running = s.actor.execute([{ id: 's2', name: 'sleep', params: { ms: 5_000 } }]);
    await new Promise((r) => setTimeout(r, 20));
    const status = await s.actor.cancel('enough');
    expect(status).toMatchObject({ state: 'cancelled', error: { code: 'action_cancelled' } });
    expect((await running)[0]).toMatchObject({ success: false, error: { code: 'action_cancelled' } });
    expect(s.notified.filter((m) => m.type === 'supervisor.session_ended')).toEqual([
      expect.objectContaining({ session: KEY, state: 'cancelled' }),
    ]);
    await expect(
      s.actor.execute([{ id: 'x', name: 'echo', params: { message: 'late' } }]),
    ).rejects.toMatchObject({
      code: 'session_not_active',
    });
    expect(types(s).at(-1)).toBe('session_ended');
    expect(verifyChain('in-process', s.events())).toMatchObject({ ok: true, complete: true });
  });

  it('the session protocol: each command reaches its handler and answers its reply', async () => {
    s = await inProcessSession();
    const results = await handleCommand(s.actor, {
      command: 'execute',
      session: KEY,
      actions: [{ id: 'p1', name: 'echo', params: { message: 'via protocol' } }],
    });
    expect(results).toEqual([expect.objectContaining({ action_id: 'p1', success: true })]);
    expect(await handleCommand(s.actor, { command: 'status', session: KEY })).toMatchObject({
      session_id: 'in-process',
      org_id: 'acme',
      state: 'running',
      iteration: 1,
    });
    await expect(
      Promise.resolve().then(() => handleCommand(s!.actor, { command: 'run', session: KEY })),
    ).rejects.toMatchObject({ code: 'wrong_planner' });
    expect(() =>
      handleCommand(s!.actor, {
        command: 'approve',
        session: KEY,
        action_id: 'nothing-waits',
        decision: { granted: true },
      }),
    ).toThrow(expect.objectContaining({ code: 'approval_not_found' }));
    expect(await handleCommand(s.actor, { command: 'end', session: KEY })).toMatchObject({
      state: 'completed',
    });
  });

  it('a scripted planner runs to its end through run(), one iteration per step', async () => {
    s = await inProcessSession({
      planner: {
        type: 'scripted',
        steps: [
          [{ name: 'echo', params: { message: 'one' } }],
          [{ name: 'echo', params: { message: 'two' } }],
        ],
      },
    });
    const status = await s.actor.run();
    expect(status).toMatchObject({ state: 'completed', iteration: 2 });
    expect(status.results.map((r) => r.result)).toEqual([{ message: 'one' }, { message: 'two' }]);
    expect(verifyChain('in-process', s.events())).toMatchObject({ ok: true, complete: true });
  });
});
