/**
 * End to end over HTTP with the daemon as a child process: a session with a high-risk action
 * waits for approval, is approved through the API and completes; its audit rows read back
 * through GET /v1/audit/events agree with what the store holds (read directly: the JSON-lines
 * files, or PostgreSQL's audit_events table when the database store is available), and
 * `audit verify` finds the hash chain intact.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.ts';
import { ROOT, call, startDaemon, waitFor } from './daemon-harness.ts';

const run = promisify(execFile);
const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Why the database variant cannot run yet, or undefined when it can. */
function databaseStoreMissing(): string | undefined {
  if (!existsSync(path.join(ROOT, 'src/cli/commands/migrate.ts')))
    return 'no `migrate` command in this build yet';
  if (!existsSync(path.join(ROOT, 'src/audit/stores/postgres-copy.ts')))
    return 'no PostgreSQL audit store in this build yet';
  return undefined;
}

interface Variant {
  name: 'file' | 'database';
  skip: string | undefined;
  setup(): Promise<{
    env: Record<string, string>;
    stored(sessionId: string): Promise<AuditEvent[]>;
    cleanup(): Promise<void>;
  }>;
}

const variants: Variant[] = [
  {
    name: 'file',
    skip: undefined,
    async setup() {
      const dir = await mkdtemp(path.join(tmpdir(), 'semibot-e2e-'));
      const auditDir = path.join(dir, 'audit');
      return {
        env: {
          AUDIT_STORAGE_TYPE: 'file',
          AUDIT_LOG_DIR: auditDir,
          SANDBOX_DIR: path.join(dir, 'sandbox'),
          AUDIT_FLUSH_INTERVAL: '0.05',
        },
        async stored(sessionId) {
          const events: AuditEvent[] = [];
          for (const f of (await readdir(auditDir)).filter((n) => n.endsWith('.jsonl'))) {
            for (const line of (await readFile(path.join(auditDir, f), 'utf8')).split('\n')) {
              if (line.trim()) events.push(JSON.parse(line));
            }
          }
          return events.filter((e) => e.session_id === sessionId);
        },
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'database',
    skip: databaseStoreMissing(),
    async setup() {
      const dir = await mkdtemp(path.join(tmpdir(), 'semibot-e2e-'));
      const db = `semibot_e2e_${process.pid}_${Date.now()}`;
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${db}`);
      await admin.end();
      const url = `postgres://postgres@127.0.0.1:5432/${db}`;
      const env = {
        AUDIT_STORAGE_TYPE: 'database',
        DATABASE_URL: url,
        AUDIT_LOG_DIR: path.join(dir, 'spool'),
        SANDBOX_DIR: path.join(dir, 'sandbox'),
        AUDIT_FLUSH_INTERVAL: '0.05',
      };
      await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'migrate', 'up'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', ENVIRONMENT: 'test', ...env },
      });
      return {
        env,
        async stored(sessionId) {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          try {
            const { rows } = await client.query(
              'SELECT * FROM audit_events WHERE session_id = $1 ORDER BY seq',
              [sessionId],
            );
            return rows.map((r) => ({ ...r, timestamp: new Date(r.timestamp).toISOString() }));
          } finally {
            await client.end();
          }
        },
        async cleanup() {
          const c = new pg.Client({ connectionString: ADMIN_URL });
          await c.connect();
          await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
          await c.end();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => {});
});

describe.each(variants)('daemon with the $name audit store', (variant) => {
  it.skipIf(variant.skip !== undefined)(
    `approval over HTTP, then audit rows from the API and from storage agree${variant.skip ? ` (skipped: ${variant.skip})` : ''}`,
    async () => {
      const store = await variant.setup();
      cleanups.push(store.cleanup);
      const daemon = await startDaemon({ ...store.env, API_TOKENS: 'tok-acme=acme,tok-globex=globex' });
      cleanups.push(async () => daemon.kill());
      const { api } = daemon;

      // 1. A scripted session whose second step is high-risk (delete_file).
      const created = await call<{ session_id: string }>(api, 'tok-acme', 'POST', '/v1/sessions', {
        org_id: 'acme',
        user_id: 'alice',
        agent_id: 'cleanup-agent',
        tools: ['write_file', 'delete_file'],
        policy: { approval_timeout_seconds: 60 },
        planner: {
          type: 'scripted',
          steps: [
            [{ name: 'write_file', params: { path: 'old.log', content: 'old' } }],
            [{ id: 'delete-old-log', name: 'delete_file', params: { path: 'old.log' } }],
          ],
        },
      });
      expect(created.status).toBe(201);
      const id = created.body.session_id;

      // 2. It waits for a person.
      const waiting = await waitFor(
        () =>
          call<{ state: string; pending_approvals: Array<{ action_id: string }> }>(
            api,
            'tok-acme',
            'GET',
            `/v1/sessions/${id}`,
          ),
        (r) => r.body.state === 'waiting_approval',
      );
      expect(waiting.body.pending_approvals.map((a) => a.action_id)).toEqual(['delete-old-log']);
      // Another org cannot approve it (nor see it).
      const foreign = await call(api, 'tok-globex', 'POST', `/v1/sessions/${id}/approvals/delete-old-log`, {
        granted: true,
      });
      expect(foreign.status).toBe(404);

      // 3. Approved through the API, it completes.
      const approved = await call(api, 'tok-acme', 'POST', `/v1/sessions/${id}/approvals/delete-old-log`, {
        granted: true,
        reason: 'old logs may go',
      });
      expect(approved.status).toBe(200);
      const done = await waitFor(
        () =>
          call<{ state: string; results: Array<{ name: string; success: boolean }> }>(
            api,
            'tok-acme',
            'GET',
            `/v1/sessions/${id}`,
          ),
        (r) => r.body.state === 'completed' || r.body.state === 'failed',
      );
      expect(done.body.state).toBe('completed');
      expect(done.body.results.map((r) => [r.name, r.success])).toEqual([
        ['write_file', true],
        ['delete_file', true],
      ]);

      // 4. The trail through the API ...
      const viaApi = await call<{ events: AuditEvent[] }>(
        api,
        'tok-acme',
        'GET',
        `/v1/audit/events?session_id=${id}&limit=1000`,
      );
      const types = viaApi.body.events.sort((a, b) => a.seq - b.seq).map((e) => e.event_type);
      expect(types).toEqual(
        expect.arrayContaining(['approval_requested', 'approval_granted', 'session_ended']),
      );
      expect(types.indexOf('approval_requested')).toBeLessThan(types.indexOf('approval_granted'));
      const count = await call<{ count: number }>(api, 'tok-acme', 'GET', `/v1/audit/count?session_id=${id}`);
      expect(count.body.count).toBe(viaApi.body.events.length);

      // ... and straight from storage agree, event for event.
      const key = (e: AuditEvent) => [e.seq, e.event_id, e.event_type, e.hash, e.prev_hash].join(' ');
      const stored = await store.stored(id);
      expect(stored.map(key).sort()).toEqual(viaApi.body.events.map(key).sort());

      // 5. A graceful stop, then the chain verifies from storage with the CLI.
      daemon.proc.kill('SIGTERM');
      expect((await daemon.exited).code).toBe(0);
      const verify = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'audit', 'verify', '--session', id],
        {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', ENVIRONMENT: 'test', ...store.env },
        },
      );
      expect(verify.stdout).toContain(`ok      ${id}`);
    },
    60_000,
  );
});
