import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/index.ts';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';

/** Most actions running at once, computed from action_started / action_completed timestamps. */
function maxOverlap(events: AuditEvent[]): number {
  const points: Array<[number, number]> = [];
  for (const e of events) {
    if (e.event_type === 'action_started') points.push([Date.parse(e.timestamp), +1]);
    if (e.event_type === 'action_completed' || e.event_type === 'action_failed') points.push([Date.parse(e.timestamp), -1]);
  }
  // Ends sort before starts at the same millisecond, so touching intervals do not overlap.
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let max = 0;
  for (const [, delta] of points) {
    running += delta;
    max = Math.max(max, running);
  }
  return max;
}

describe('policy limits', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await startTestRuntime();
  });
  afterAll(() => t.cleanup());

  it('never runs more than max_concurrent_actions at once (seen in the audit trail)', async () => {
    const session = await t.runtime.createSession({ ...IDS, tools: ['sleep'], policy: { max_concurrent_actions: 2 } });
    const results = await session.execute(Array.from({ length: 6 }, () => ({ name: 'sleep', params: { ms: 80 } })));
    expect(results.every((r) => r.success)).toBe(true);
    const events = await t.runtime.audit.query({ session_id: session.id, limit: 1000 });
    expect(maxOverlap(events)).toBe(2);
  });

  it('stops an action at action_timeout_seconds with action_timeout', async () => {
    const session = await t.runtime.createSession({ ...IDS, tools: ['sleep'], policy: { action_timeout_seconds: 0.1 } });
    const result = await session.execute({ name: 'sleep', params: { ms: 10_000 } });
    expect(result.error?.code).toBe('action_timeout');
    const [failed] = await t.runtime.audit.query({ session_id: session.id, event_types: ['action_failed'] });
    expect(failed?.metadata.error_code).toBe('action_timeout');
    expect((await session.status()).state).toBe('running');
  });

  it('ends the whole session at timeout_seconds with session_timeout', async () => {
    const session = await t.runtime.createSession({ ...IDS, tools: ['sleep'], policy: { timeout_seconds: 0.2 } });
    const result = await session.execute({ name: 'sleep', params: { ms: 10_000 } });
    expect(result.error?.code).toBe('session_timeout');
    const status = await session.status();
    expect(status).toMatchObject({ state: 'failed', error: { code: 'session_timeout' } });
    const trail = await t.runtime.audit.query({ session_id: session.id, limit: 100 });
    expect(trail.at(-1)?.event_type).toBe('session_ended');
    expect(await t.runtime.audit.verify(session.id)).toMatchObject({ ok: true, complete: true });
  });

  it('takes timeouts up to the longest timer Node can set, and refuses longer ones by name', async () => {
    // A longer timer would fire at once: a 30-day session would have ended a millisecond in.
    const longest = { timeout_seconds: 2_147_483, action_timeout_seconds: 2_147_483, approval_timeout_seconds: 2_147_483 };
    const session = await t.runtime.createSession({ ...IDS, tools: ['sleep'], policy: longest });
    const result = await session.execute({ name: 'sleep', params: { ms: 50 } });
    expect(result).toMatchObject({ success: true, result: { slept_ms: 50 } });
    expect((await session.status()).state).toBe('running');
    for (const key of ['timeout_seconds', 'action_timeout_seconds', 'approval_timeout_seconds']) {
      const refused = t.runtime.createSession({ ...IDS, tools: ['sleep'], policy: { [key]: 30 * 24 * 3600 } });
      await expect(refused).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringMatching(new RegExp(`policy\\.${key}: must be at most 2147483 s`)),
      });
    }
  });

  it('refuses new sessions with runtime_busy at max_sessions, and takes them again when one ends', async () => {
    const small = await startTestRuntime({ runtime: { max_sessions: 2 } });
    try {
      const a = await small.runtime.createSession({ ...IDS, tools: ['echo'] });
      await small.runtime.createSession({ ...IDS, tools: ['echo'] });
      const err = await small.runtime.createSession({ ...IDS }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'runtime_busy' });
      expect((err as Error).message).toContain('2 active sessions');
      await a.end();
      await expect(small.runtime.createSession({ ...IDS, tools: ['echo'] })).resolves.toBeDefined();
    } finally {
      await small.cleanup();
    }
  });
});
