/**
 * Issue 15, finding 6: the trail could not prove what is missing. Deleting a session's last
 * events (file or PostgreSQL), garbling the last line, or editing an event and recomputing the
 * plain SHA-256 chain all passed `audit verify`, and the file store skipped bad lines silently.
 * Now signed checkpoints (AUDIT_SIGNING_KEY) certify every session's head; verify names a
 * removed tail, a removed session, an unreadable line, a recomputed chain, a removed checkpoint
 * and a checkpoint signed with a key it does not know.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSigningKeys } from '../../src/audit/checkpoints.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { hashEvent } from '../../src/audit/hash-chain.ts';
import { FileAuditStore } from '../../src/audit/stores/file.ts';
import { verifyTrail } from '../../src/audit/verify-trail.ts';
import { createRuntime } from '../../src/index.ts';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../integration/postgres/pg-test-db.ts';

const KEY_A = `key-a:hmac:${randomBytes(32).toString('base64')}`;
const KEY_B = `key-b:hmac:${randomBytes(32).toString('base64')}`;
const IDS = {
  org_id: 'acme',
  user_id: 'u',
  agent_id: 'a',
  tools: ['echo'],
  planner: { type: 'external' as const },
};

/** Two ended sessions of four echo actions each, checkpointed, in a file store at `dir`. */
async function writeTrail(dir: string, signingKey: string): Promise<string[]> {
  const runtime = createRuntime(
    { audit: { storage_type: 'file', log_dir: dir, signing_key: signingKey }, runtime: { workers: 1 } },
    { env: { ENVIRONMENT: 'test' } },
  );
  await runtime.start();
  const ids: string[] = [];
  for (const name of ['first', 'second']) {
    const session = await runtime.createSession({ ...IDS, session_id: `trail-${name}` });
    for (let i = 0; i < 4; i++) await session.execute({ name: 'echo', params: { message: `${name} ${i}` } });
    await session.end();
    // One checkpoint per session, so the chain of checkpoints has links to remove.
    await runtime.audit.checkpoint();
    ids.push(session.id);
  }
  await runtime.stop();
  return ids;
}

async function verdict(dir: string, keys = KEY_A) {
  const store = new FileAuditStore({ dir, maxFileSize: 100 * 1024 * 1024, maxFiles: 10 });
  await store.init();
  try {
    return await verifyTrail(store, parseSigningKeys(keys), [
      { session_id: 'trail-first' },
      { session_id: 'trail-second' },
    ]);
  } finally {
    await store.close();
  }
}

async function editLines(dir: string, edit: (lines: string[]) => string[]): Promise<void> {
  const file = path.join(dir, 'audit.jsonl');
  const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  await writeFile(file, `${edit(lines).join('\n')}\n`);
}

describe('issue-15: signed checkpoints, file store', () => {
  let root: string;
  let pristine: string;
  let n = 0;
  const copy = async () => {
    const dir = path.join(root, `case-${n++}`);
    await cp(pristine, dir, { recursive: true });
    return dir;
  };
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'semibot-signed-'));
    pristine = path.join(root, 'pristine');
    await writeTrail(pristine, KEY_A);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('an untouched trail verifies, signed, with its checkpoints', async () => {
    const v = await verdict(await copy());
    expect(v.problems).toEqual([]);
    expect(v.valid).toBe(true);
    expect(v.signed).toBe(true);
    expect(v.checkpoints).toBeGreaterThan(0);
  });

  it('names a removed tail (the last events of a session deleted)', async () => {
    const dir = await copy();
    await editLines(dir, (lines) => {
      const last = lines.findLastIndex((l) => l.includes('"session_id":"trail-second"'));
      return lines.filter((_, i) => i !== last && i !== last - 1);
    });
    const v = await verdict(dir);
    expect(v.valid).toBe(false);
    expect(v.problems).toContainEqual(
      expect.objectContaining({ kind: 'removed_tail', session_id: 'trail-second' }),
    );
  });

  it('names a removed session', async () => {
    const dir = await copy();
    await editLines(dir, (lines) => lines.filter((l) => !l.includes('"session_id":"trail-first"')));
    const v = await verdict(dir);
    expect(v.problems).toContainEqual(
      expect.objectContaining({ kind: 'removed_session', session_id: 'trail-first' }),
    );
  });

  it('names a garbled last line by file and line, never skipping it silently', async () => {
    const dir = await copy();
    let count = 0;
    await editLines(dir, (lines) => {
      count = lines.length;
      return [...lines.slice(0, -1), '{"event_id": "torn'];
    });
    const v = await verdict(dir);
    expect(v.problems).toContainEqual(
      expect.objectContaining({
        kind: 'unreadable_line',
        detail: expect.stringContaining(`audit.jsonl:${count}`),
      }),
    );
  });

  it('names a chain edited and recomputed by someone without the key', async () => {
    const dir = await copy();
    await editLines(dir, (lines) => {
      const events = lines.map((l) => JSON.parse(l) as AuditEvent);
      let prev: string | undefined;
      for (const e of events) {
        if (e.session_id !== 'trail-first') continue;
        if (e.event_type === 'action_completed' && e.seq < 6) e.message = 'nothing to see here';
        if (prev !== undefined) e.prev_hash = prev;
        const { hash: _old, ...rest } = e;
        e.hash = hashEvent(rest);
        prev = e.hash;
      }
      return events.map((e) => JSON.stringify(e));
    });
    const v = await verdict(dir);
    // The plain chain checks out: only the signed head tells.
    expect(v.sessions.find((s) => s.session_id === 'trail-first')?.ok).toBe(true);
    expect(v.problems).toContainEqual(
      expect.objectContaining({ kind: 'recomputed_chain', session_id: 'trail-first' }),
    );
  });

  it('names a removed checkpoint, and a checkpoint signed by a key it does not know', async () => {
    const dir = await copy();
    const file = path.join(dir, 'checkpoints.jsonl');
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    await writeFile(file, `${lines.slice(1).join('\n')}\n`);
    expect((await verdict(dir)).problems).toContainEqual(
      expect.objectContaining({ kind: 'checkpoint_removed' }),
    );
    expect((await verdict(await copy(), KEY_B)).problems).toContainEqual(
      expect.objectContaining({ kind: 'checkpoint_unknown_key' }),
    );
  });

  it('verifies a trail across a key rotation when both keys are known', async () => {
    const dir = path.join(root, 'rotated');
    await writeTrail(dir, KEY_A);
    // The next run signs with the newer key (listed last); the old one still verifies.
    const runtime = createRuntime(
      {
        audit: { storage_type: 'file', log_dir: dir, signing_key: `${KEY_A},${KEY_B}` },
        runtime: { workers: 1 },
      },
      { env: { ENVIRONMENT: 'test' } },
    );
    await runtime.start();
    const session = await runtime.createSession({ ...IDS, session_id: 'trail-third' });
    await session.execute({ name: 'echo', params: { message: 'after rotation' } });
    await session.end();
    await runtime.audit.checkpoint();
    await runtime.stop();
    const checkpoints = (await readFile(path.join(dir, 'checkpoints.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean);
    expect(checkpoints.map((l) => JSON.parse(l).key_id)).toEqual(expect.arrayContaining(['key-a', 'key-b']));
    expect((await verdict(dir, `${KEY_A},${KEY_B}`)).problems).toEqual([]);
  });

  it('does not report what retention deleted, and still reports what was deleted by hand after it', async () => {
    const dir = await copy();
    const runtime = createRuntime(
      { audit: { storage_type: 'file', log_dir: dir, signing_key: KEY_A }, runtime: { workers: 1 } },
      { env: { ENVIRONMENT: 'test' } },
    );
    await runtime.start();
    // 1. Retention removes every event so far (a cut-off in the future); it is signed.
    await runtime.audit.deleteOlderThan(new Date(Date.now() + 1000));
    await new Promise((r) => setTimeout(r, 1100));
    const later = await runtime.createSession({ ...IDS, session_id: 'trail-later' });
    await later.execute({ name: 'echo', params: { message: 'after retention' } });
    await later.end();
    await runtime.audit.checkpoint();
    await runtime.stop();
    const store = new FileAuditStore({ dir, maxFileSize: 100 * 1024 * 1024, maxFiles: 10 });
    await store.init();
    try {
      expect((await verifyTrail(store, parseSigningKeys(KEY_A), [])).problems).toEqual([]);
    } finally {
      await store.close();
    }
    // 2. A session removed by hand after the cut-off is still named.
    await editLines(dir, (lines) => lines.filter((l) => !l.includes('"session_id":"trail-later"')));
    const again = new FileAuditStore({ dir, maxFileSize: 100 * 1024 * 1024, maxFiles: 10 });
    await again.init();
    try {
      expect((await verifyTrail(again, parseSigningKeys(KEY_A), [])).problems).toContainEqual(
        expect.objectContaining({ kind: 'removed_session', session_id: 'trail-later' }),
      );
    } finally {
      await again.close();
    }
  });

  it('audit verify (the CLI) exits 1 and names the problem', async () => {
    const dir = await copy();
    await editLines(dir, (lines) => lines.slice(0, -1));
    const env = {
      ENVIRONMENT: 'test',
      AUDIT_STORAGE_TYPE: 'file',
      AUDIT_LOG_DIR: dir,
      AUDIT_SIGNING_KEY: KEY_A,
    };
    const broken = await runCli(['audit', 'verify'], env);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/REMOVED_TAIL session trail-second/);
    const intact = await runCli(['audit', 'verify'], { ...env, AUDIT_LOG_DIR: await copy() });
    expect(intact.code, intact.stdout + intact.stderr).toBe(0);
  });
});

describe('issue-15: signed checkpoints, PostgreSQL store', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('names the rows deleted from the end of a session', async () => {
    const config = {
      audit: {
        storage_type: 'database' as const,
        signing_key: KEY_A,
        log_dir: path.join(tmpdir(), `semibot-spool-${randomBytes(4).toString('hex')}`),
      },
      database: { url: db.url },
      runtime: { workers: 1 },
    };
    const runtime = createRuntime(config, { env: { ENVIRONMENT: 'test' } });
    await runtime.start();
    try {
      const session = await runtime.createSession({ ...IDS, session_id: 'pg-trail' });
      for (let i = 0; i < 3; i++) await session.execute({ name: 'echo', params: { message: `pg ${i}` } });
      await session.end();
      await runtime.audit.checkpoint();
      expect((await runtime.audit.verify('pg-trail')).ok).toBe(true);
      await db.sql(
        `DELETE FROM audit_events WHERE session_id = 'pg-trail' AND seq >= (SELECT max(seq) - 1 FROM audit_events WHERE session_id = 'pg-trail')`,
      );
      const after = await runtime.audit.verify('pg-trail');
      expect(after.ok).toBe(false);
      expect(after.problems).toContainEqual(
        expect.objectContaining({ kind: 'removed_tail', session_id: 'pg-trail' }),
      );
    } finally {
      await runtime.stop();
    }
  });
});
