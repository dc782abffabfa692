/**
 * Upgrade and rollback (issue 7):
 * - up → down → up across every migration: after each `migrate down` (exactly one step) the
 *   schema (`pg_dump --schema-only`) is the one of the level below, and up again restores it;
 * - start-up refuses a schema newer than the code knows (schema_too_new, saying what to do),
 *   warns about pending migrations, and /version reports the level.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { versionDocument } from '../../../src/api/version.ts';
import { Daemon } from '../../../src/daemon/daemon.ts';
import { MIGRATIONS_DIR, loadMigrations, migrateDown, migrateUp } from '../../../src/db/migrate.ts';
import { checkSchemaLevel, knownSchemaVersion } from '../../../src/db/schema-check.ts';
import { type TestDatabase, createTestDatabase, withClient } from './pg-test-db.ts';

const run = promisify(execFile);

async function schemaDump(url: string): Promise<string> {
  const { stdout } = await run('pg_dump', ['--schema-only', '--no-comments', `--dbname=${url}`], { maxBuffer: 64 << 20 });
  // pg_dump 15.14+ wraps the dump in \restrict <random key>: not part of the schema.
  return stdout
    .split('\n')
    .filter((l) => !l.startsWith('\\restrict') && !l.startsWith('\\unrestrict') && !l.startsWith('--'))
    .join('\n');
}

describe('migrations: up → down → up across every migration', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-migrations-'));
  });
  afterAll(async () => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('each down undoes exactly one step and restores the schema of the level below', async () => {
    const migrations = await loadMigrations();
    expect(migrations.length).toBeGreaterThanOrEqual(2);
    // 1. The schema at every level k, reached by applying the first k migrations.
    const dumps: string[] = [await withClient(db.url, (c) => migrateUp(c, dir)).then(() => schemaDump(db.url))];
    const files = (await readdir(MIGRATIONS_DIR)).sort();
    for (const m of migrations) {
      const prefix = String(m.version).padStart(4, '0');
      for (const f of files.filter((f) => f.startsWith(`${prefix}_`))) await copyFile(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
      const applied = await withClient(db.url, (c) => migrateUp(c, dir));
      expect(applied.map((s) => s.version)).toEqual([m.version]);
      dumps.push(await schemaDump(db.url));
    }
    // 2. Down one step at a time: each lands exactly on the level below.
    for (let k = migrations.length; k > 0; k--) {
      const done = await withClient(db.url, (c) => migrateDown(c, 1));
      expect(done.map((s) => s.version)).toEqual([migrations[k - 1]!.version]);
      expect(await schemaDump(db.url), `schema after down to level ${k - 1}`).toBe(dumps[k - 1]);
    }
    // 3. Up again (the real migrations folder): the newest schema, identical.
    await withClient(db.url, (c) => migrateUp(c));
    expect(await schemaDump(db.url)).toBe(dumps[migrations.length]);
  });
});

describe('schema level check at start-up', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('passes at the current level and /version reports it', async () => {
    const known = knownSchemaVersion();
    const outcome = await checkSchemaLevel(db.url);
    expect(outcome).toEqual({ level: { known, applied: known } });
    expect(versionDocument()).toMatchObject({ schema: { known, applied: known } });
  });

  it('warns, without refusing, when migrations are pending', async () => {
    await withClient(db.url, (c) => migrateDown(c, 1));
    const outcome = await checkSchemaLevel(db.url);
    expect(outcome.warning).toContain("run 'semibot-runtime migrate up'");
    await withClient(db.url, (c) => migrateUp(c));
  });

  it('refuses a schema newer than the code, saying what to do; the daemon does not start', async () => {
    const known = knownSchemaVersion();
    await db.sql('INSERT INTO semibot_schema_migrations (version, name) VALUES ($1, $2)', [known + 1, 'from_the_future']);
    await expect(checkSchemaLevel(db.url)).rejects.toMatchObject({
      code: 'schema_too_new',
      message: expect.stringContaining(`migrate down --steps 1`),
    });
    const daemon = new Daemon({
      env: { ENVIRONMENT: 'test', AUDIT_STORAGE_TYPE: 'database', DATABASE_URL: db.url, LOG_LEVEL: 'silent', HTTP_PORT: '0', ADMIN_PORT: '0' },
    });
    await expect(daemon.start()).rejects.toMatchObject({ code: 'schema_too_new' });
    await db.sql('DELETE FROM semibot_schema_migrations WHERE version = $1', [known + 1]);
    // nothing was lost: the schema is still complete
    expect((await checkSchemaLevel(db.url)).level).toEqual({ known, applied: known });
  });

  it('an unreachable database is a warning, not a refusal (the spool covers outages)', async () => {
    const outcome = await checkSchemaLevel('postgres://postgres@127.0.0.1:1/none');
    expect(outcome.level).toBeUndefined();
    expect(outcome.warning).toContain('cannot read the database schema level');
  });
});
