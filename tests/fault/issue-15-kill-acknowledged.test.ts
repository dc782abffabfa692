/**
 * Issue 15, finding 3: under load, `kill -9` of the daemon lost actions that had been answered
 * 200 + success (205 of 3,655 with the PostgreSQL store; with AUDIT_FLUSH_INTERVAL=10 a whole
 * session's trail). With AUDIT_DURABILITY=strict (the default) an answer leaves only once the
 * action's closing event is on stable storage, so after a SIGKILL at any moment and a restart on
 * the same storage every acknowledged action has its action_started and action_completed, and
 * every session's chain verifies.
 *
 *   1. a real daemon (file store, then PostgreSQL), AUDIT_FLUSH_INTERVAL=10 (the reproduction)
 *   2. 12 clients, each its own session, submit echo and write_file actions back to back
 *   3. SIGKILL mid-load; 4. a runtime on the same storage reads the trail back
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/index.ts';
import { call, startDaemon } from '../e2e/daemon-harness.ts';
import { createTestDatabase, type TestDatabase } from '../integration/postgres/pg-test-db.ts';

const CLIENTS = 12;
const LOAD_MS = 1500;

interface Acknowledged {
  session_id: string;
  action_id: string;
}

async function loadThenKill(
  env: Record<string, string>,
): Promise<{ acked: Acknowledged[]; sessions: string[] }> {
  const daemon = await startDaemon({
    API_TOKENS: 'tok=acme',
    AUDIT_FLUSH_INTERVAL: '10',
    RUNTIME_WORKERS: '2',
    ...env,
  });
  const acked: Acknowledged[] = [];
  const sessions: string[] = [];
  let killed = false;
  const client = async (n: number) => {
    const created = await call<{ session_id: string }>(daemon.api, 'tok', 'POST', '/v1/sessions', {
      org_id: 'acme',
      user_id: 'u',
      agent_id: 'load',
      tools: ['echo', 'write_file'],
      policy: { max_iterations: 100_000 },
      planner: { type: 'external' },
    });
    expect(created.status).toBe(201);
    const sessionId = created.body.session_id;
    sessions.push(sessionId);
    for (let i = 0; !killed; i++) {
      const action =
        i % 2 === 0
          ? { id: `c${n}-a${i}`, name: 'echo', params: { message: `m${i}` } }
          : { id: `c${n}-a${i}`, name: 'write_file', params: { path: `f${i % 10}.txt`, content: `v${i}` } };
      try {
        const res = await call<{ results: Array<{ action_id: string; success: boolean }> }>(
          daemon.api,
          'tok',
          'POST',
          `/v1/sessions/${sessionId}/actions`,
          [action],
        );
        if (res.status === 200 && res.body.results[0]?.success) {
          acked.push({ session_id: sessionId, action_id: res.body.results[0].action_id });
        }
      } catch {
        return; // the daemon is gone
      }
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, n) => client(n));
  await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
  daemon.proc.kill('SIGKILL');
  killed = true;
  await daemon.exited;
  await Promise.allSettled(clients);
  return { acked, sessions };
}

async function expectNothingLost(
  config: Parameters<typeof createRuntime>[0],
  { acked, sessions }: { acked: Acknowledged[]; sessions: string[] },
): Promise<void> {
  expect(acked.length).toBeGreaterThan(50);
  // Restarting on the same storage replays what waited on local disk (the spool).
  const runtime = createRuntime(config, { env: { ENVIRONMENT: 'test' } });
  await runtime.start();
  try {
    const missing: string[] = [];
    for (const sessionId of sessions) {
      const events = await runtime.audit.query({ session_id: sessionId, limit: 10_000 });
      const completed = new Set(
        events.filter((e) => e.event_type === 'action_completed').map((e) => e.action_id),
      );
      const started = new Set(
        events.filter((e) => e.event_type === 'action_started').map((e) => e.action_id),
      );
      for (const a of acked) {
        if (a.session_id === sessionId && !(completed.has(a.action_id) && started.has(a.action_id))) {
          missing.push(a.action_id);
        }
      }
      const verified = await runtime.audit.verify(sessionId);
      expect(verified.ok, `${sessionId}: ${JSON.stringify(verified)}`).toBe(true);
    }
    expect(missing, `${missing.length} of ${acked.length} acknowledged actions lost`).toEqual([]);
  } finally {
    await runtime.stop();
  }
}

describe('issue-15: a SIGKILL loses no acknowledged action (AUDIT_DURABILITY=strict)', () => {
  let dir: string;
  let db: TestDatabase;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-kill-'));
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('file store', async () => {
    const logDir = path.join(dir, 'file-audit');
    const outcome = await loadThenKill({
      AUDIT_STORAGE_TYPE: 'file',
      AUDIT_LOG_DIR: logDir,
      SANDBOX_DIR: path.join(dir, 'sandbox-file'),
    });
    await expectNothingLost(
      { audit: { storage_type: 'file', log_dir: logDir }, runtime: { workers: 1 } },
      outcome,
    );
  });

  it('PostgreSQL store', async () => {
    const logDir = path.join(dir, 'pg-spool');
    const outcome = await loadThenKill({
      AUDIT_STORAGE_TYPE: 'database',
      DATABASE_URL: db.url,
      AUDIT_LOG_DIR: logDir,
      SANDBOX_DIR: path.join(dir, 'sandbox-pg'),
    });
    await expectNothingLost(
      {
        audit: { storage_type: 'database', log_dir: logDir },
        database: { url: db.url },
        runtime: { workers: 1 },
      },
      outcome,
    );
  });
});
