/**
 * Real failures of the real server (this suite runs alone: see vitest.fault.config.ts):
 *   1. pg_terminate_backend on the writer's connection in the middle of a COPY
 *   2. the writer's backend frozen with SIGSTOP (the watchdog abandons it)
 *   3. the PostgreSQL server stopped and started under a running runtime
 *   4. the server down while a runtime process is SIGKILLed, then both restarted
 * Each ends by counting rows: every acknowledged event is in the table exactly once.
 *
 * "Acknowledged" means: the write of its batch resolved (SpoolingWriter.write, which the
 * Batcher awaits before acking producers), or — for a runtime — runtime.audit.flush()
 * returned after the event was produced. Both happen only once the events are durable:
 * committed in PostgreSQL, or appended to the local spool and fsynced.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Spool, SpoolingWriter } from '../../actors/audit/spool.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { verifyChain } from '../../src/audit/hash-chain.ts';
import { PostgresCopyAuditStore } from '../../src/audit/stores/postgres-copy.ts';
import { makeChain } from '../helpers/audit-events.ts';
import { startTestRuntime } from '../helpers/runtime.ts';
import {
  createTestDatabase,
  databaseConfig,
  type TestDatabase,
  withClient,
} from '../integration/postgres/pg-test-db.ts';
import { canControlServer, isReady, startServer, stopServer } from './pg-server.ts';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  if (!(await isReady())) await startServer();
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'audit-fault-'));
});
afterAll(async () => {
  try {
    // Whatever happened above, leave the server running for everyone else.
    if (canControlServer() && !(await isReady())) await startServer();
  } finally {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  }
});

async function storedIds(sessionPrefix: string): Promise<string[]> {
  return (
    await db.sql<{ event_id: string }>('SELECT event_id FROM audit_events WHERE session_id LIKE $1', [
      `${sessionPrefix}%`,
    ])
  ).map((r) => r.event_id);
}

function expectExactlyOnce(stored: string[], acked: readonly AuditEvent[]): void {
  expect(stored.length).toBe(new Set(stored).size); // no duplicates
  expect(new Set(stored)).toEqual(new Set(acked.map((e) => e.event_id))); // nothing lost
}

/** Finds the backend running our COPY (polling pg_stat_activity from another connection). */
async function copyBackend(timeoutMs = 20_000): Promise<number> {
  return withClient(db.url, async (c) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const { rows } = await c.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'semibot-audit' AND query LIKE 'COPY%' AND state = 'active'`,
      );
      if (rows[0]) return rows[0].pid;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error('no COPY backend seen');
  });
}

function writerFor(prefix: string, copyDeadlineMs = 30_000) {
  const store = new PostgresCopyAuditStore({
    database: databaseConfig(db.url),
    copyDeadlineMs,
    deadLetterDir: join(dir, prefix),
  });
  const writer = new SpoolingWriter({
    store,
    spool: new Spool({ dir: join(dir, prefix, 'spool'), maxBytes: 1 << 30 }),
  });
  return { store, writer };
}

describe('the writer connection dies mid-COPY', () => {
  it('pg_terminate_backend: the batch is spooled, replayed, and stored exactly once', async () => {
    const { store, writer } = writerFor('term');
    await store.init();
    await writer.open();
    // Big enough that the COPY is still streaming when we find and kill its backend.
    const batch = makeChain('term-1', 30_000, { start: new Date().toISOString(), stepMs: 1 });
    const writing = writer.write(batch);
    const pid = await copyBackend();
    const [killed] = await db.sql<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(killed!.ok).toBe(true);

    await writing; // acknowledged: committed or spooled
    expect(writer.stats.spooled_batches).toBe(1);
    await writer.drained();
    expectExactlyOnce(await storedIds('term-'), batch);
    expect(verifyChain('term-1', await store.sessionEvents('term-1')).ok).toBe(true);
    await writer.close();
    await store.close();
  });

  it('SIGSTOP on the backend: the watchdog abandons the COPY at its deadline; after SIGCONT the replay stores it once', async () => {
    const { store, writer } = writerFor('stop', 1_500);
    await store.init();
    await writer.open();
    const batch = makeChain('stop-1', 30_000, { start: new Date().toISOString(), stepMs: 1 });
    const writing = writer.write(batch);
    const pid = await copyBackend();
    process.kill(pid, 'SIGSTOP');
    try {
      await writing; // resolves through the spool once the watchdog fires
      expect(writer.stats.spooled_batches).toBe(1);
      expect(writer.health().detail).toMatch(/did not answer within 1500 ms/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await writer.drained();
    expectExactlyOnce(await storedIds('stop-'), batch);
    await writer.close();
    await store.close();
  });
});

describe.runIf(canControlServer())('the PostgreSQL server stops and starts', () => {
  it('under a running runtime: sessions go on, health turns degraded, every event lands once when it is back', async () => {
    const t = await startTestRuntime({
      database: { url: db.url, pool_size: 1, max_overflow: 1 },
      audit: { storage_type: 'database', batch_size: 100, copy_deadline_ms: 3000 },
    });
    const sessions: string[] = [];
    const runSession = async () => {
      const s = await t.runtime.createSession({
        org_id: 'org-restart',
        user_id: 'u',
        agent_id: 'a',
        tools: ['echo'],
      });
      for (let j = 0; j < 4; j++) await s.execute({ name: 'echo', params: { message: `x${j}` } });
      await s.end();
      sessions.push(s.id);
    };
    try {
      // 1. Normal service.
      for (let i = 0; i < 5; i++) await runSession();
      await t.runtime.audit.flush();

      // 2. The server goes away; sessions carry on; flush still returns (events are spooled).
      await stopServer();
      for (let i = 0; i < 5; i++) await runSession();
      await t.runtime.audit.flush();
      const health = await t.runtime.health();
      expect(health.status).toBe('degraded');
      expect(health.components.database).toMatchObject({ status: 'degraded' });

      // 3. Back: the spool is replayed in the background.
      await startServer();
      for (let i = 0; i < 3; i++) await runSession();
      for (let i = 0; i < 600; i++) {
        const stats = await t.runtime.audit.stats();
        if (stats.spool?.records === 0 && stats.buffered === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await t.runtime.audit.flush();
      expect((await t.runtime.health()).components.database).toMatchObject({ status: 'healthy' });

      // 4. Every session's trail is whole (a hash chain from seq 0 to session_ended) and unique.
      for (const id of sessions) {
        const trail = await t.runtime.audit.verify(id);
        expect(trail).toMatchObject({ ok: true, complete: true });
      }
      const [dups] = await db.sql<{ n: number; d: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM audit_events WHERE org_id = 'org-restart'`,
      );
      expect(dups!.n).toBe(dups!.d);
    } finally {
      if (!(await isReady())) await startServer();
      await t.cleanup();
    }
  });

  it('down while the runtime is SIGKILLed; both restarted; every acknowledged session is in the table once', async () => {
    const logDir = join(dir, 'kill');
    const env = { ...process.env, DATABASE_URL: db.url, AUDIT_LOG_DIR: logDir };
    const acked: string[] = [];
    let child: ChildProcess | undefined;
    try {
      // 1. A runtime process produces sessions and reports each once acknowledged.
      child = spawnChild('produce', env, (line) => {
        if (line.startsWith('acked ')) acked.push(line.slice(6));
      });
      await until(() => acked.length >= 3, 60_000);
      // 2. The database goes down; the runtime keeps acknowledging (into its spool).
      await stopServer();
      const before = acked.length;
      await until(() => acked.length >= before + 3, 60_000);
      // 3. SIGKILL: no graceful stop, no final flush.
      child.kill('SIGKILL');
      await exitOf(child);
      expect(acked.length).toBeGreaterThanOrEqual(6);

      // 4. Both come back: the new runtime replays what the dead one spooled.
      await startServer();
      let drained = false;
      const recover = spawnChild('recover', env, (line) => {
        if (line === 'drained') drained = true;
      });
      await until(() => drained, 90_000);
      await exitOf(recover);
    } finally {
      child?.kill('SIGKILL');
      if (!(await isReady())) await startServer();
    }

    // 5. Count: every acknowledged session's whole chain, each event exactly once.
    for (const id of acked) {
      const rows = await db.sql<AuditEvent>(
        `SELECT event_id, seq, event_type FROM audit_events WHERE session_id = $1 ORDER BY seq`,
        [id],
      );
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i));
      expect(rows.at(-1)?.event_type).toBe('session_ended');
    }
    const [dups] = await db.sql<{ n: number; d: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM audit_events WHERE org_id = 'org-kill'`,
    );
    expect(dups!.n).toBe(dups!.d);
  }, 300_000); // its bounded waits (60 + 60 + 90 s) can exceed the suite default on a slow run
});

function spawnChild(mode: string, env: NodeJS.ProcessEnv, onLine: (line: string) => void): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'fixtures/runtime-child.ts'), mode],
    {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  createInterface({ input: child.stdout! }).on('line', onLine);
  return child;
}

/** Resolves when the child has exited, also when it already has (its 'exit' event is then past). */
function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
