/**
 * Issue 15, finding 5: one org's session took others down. A session keeping thousands of large
 * results ran its worker out of heap, and an idle session of another org on that worker failed
 * with worker_crashed. Now a session is bounded in the memory it keeps (SESSION_MAX_MEMORY_BYTES:
 * it fails alone with session_memory_exceeded), an org in its active sessions (ORG_MAX_SESSIONS)
 * and a session's sandbox in bytes (SANDBOX_MAX_BYTES).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.ts';

const session = (org: string, tools = ['echo']) => ({
  org_id: org,
  user_id: 'u',
  agent_id: 'a',
  tools,
  planner: { type: 'external' as const },
  policy: { max_iterations: 10_000 },
});

describe('issue-15: per-session and per-org bounds', () => {
  let runtime: Runtime;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-tenants-'));
    runtime = createRuntime(
      {
        audit: { storage_type: 'memory' },
        // One worker: every session below shares it, as the orgs of the finding did.
        runtime: {
          workers: 1,
          sandbox_dir: dir,
          session_max_memory_bytes: 4 * 1024 * 1024,
          org_max_sessions: 3,
          sandbox_max_bytes: 1000,
        },
      },
      { env: { ENVIRONMENT: 'test' } },
    );
    await runtime.start();
  });
  afterAll(async () => {
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a session keeping large results fails alone with session_memory_exceeded; another org on the worker goes on', async () => {
    const bystander = await runtime.createSession(session('globex'));
    const hog = await runtime.createSession(session('acme'));
    const big = 'x'.repeat(256 * 1024);
    let failure: unknown;
    for (let i = 0; i < 100 && failure === undefined; i++) {
      await hog.execute({ name: 'echo', params: { message: `${i}${big}` } }).catch((err: unknown) => {
        failure = err;
      });
    }
    expect(failure).toMatchObject({ code: 'session_memory_exceeded' });
    const status = await hog.status();
    expect(status).toMatchObject({ state: 'failed', error: { code: 'session_memory_exceeded' } });
    const ok = await bystander.execute({ name: 'echo', params: { message: 'still here' } });
    expect(ok).toMatchObject({ success: true, result: { message: 'still here' } });
    const ended = await runtime.audit.query({ session_id: hog.id, event_types: ['session_ended'] });
    expect(ended[0]).toMatchObject({ success: false, metadata: { error_code: 'session_memory_exceeded' } });
    await bystander.end();
  });

  it('ORG_MAX_SESSIONS refuses an org its next session, and no other org', async () => {
    const a = await Promise.all([1, 2, 3].map(() => runtime.createSession(session('initech'))));
    await expect(runtime.createSession(session('initech'))).rejects.toMatchObject({
      code: 'org_session_limit',
    });
    const other = await runtime.createSession(session('umbrella'));
    await a[0]!.end();
    const again = await runtime.createSession(session('initech'));
    for (const s of [...a.slice(1), other, again]) await s.end();
  });

  it('SANDBOX_MAX_BYTES refuses a write that would overflow the sandbox, and leaves it as it was', async () => {
    const s = await runtime.createSession(session('hooli', ['write_file']));
    expect(
      await s.execute({ name: 'write_file', params: { path: 'a.txt', content: 'a'.repeat(600) } }),
    ).toMatchObject({
      success: true,
    });
    const refused = await s.execute({
      name: 'write_file',
      params: { path: 'b.txt', content: 'b'.repeat(600) },
    });
    expect(refused).toMatchObject({ success: false, error: { code: 'sandbox_quota_exceeded' } });
    // The session's sandbox: <SANDBOX_DIR>/<org segment>/<session segment> (session-actor.ts).
    const orgDir = (await readdir(dir)).find((d) => d.startsWith('hooli-'))!;
    const sandbox = path.join(dir, orgDir, (await readdir(path.join(dir, orgDir)))[0]!);
    expect(existsSync(path.join(sandbox, 'a.txt'))).toBe(true);
    expect(existsSync(path.join(sandbox, 'b.txt'))).toBe(false);
    // Replacing a file counts its new size only.
    expect(
      await s.execute({ name: 'write_file', params: { path: 'a.txt', content: 'a'.repeat(900) } }),
    ).toMatchObject({
      success: true,
    });
    await s.end();
  });
});
