/**
 * `semibot-runtime migrate up|down` on a fresh database: the schema of the SPEC with fitting
 * types, the four indexes, monthly partitions (and more on demand), and a clean way back down.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../../src/cli/command.ts';
import { migrateCommand } from '../../../src/cli/commands/migrate.ts';
import { createTestDatabase, type TestDatabase } from './pg-test-db.ts';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

/** The real binary: used once, to show `semibot-runtime migrate up` works from a shell. */
async function spawnCli(
  db: TestDatabase,
  ...args: string[]
): Promise<{ stdout: string; code: number; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, ...args], {
      env: { ...process.env, DATABASE_URL: db.url, ENVIRONMENT: 'test' },
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

/** The same command in this process (spawning tsx costs seconds on this machine). */
async function cli(
  db: TestDatabase,
  ...args: string[]
): Promise<{ stdout: string; code: number; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi
    .spyOn(console, 'error')
    .mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const saved = process.env.DATABASE_URL;
  process.env.DATABASE_URL = db.url;
  try {
    const code = await migrateCommand.run(args.slice(1)).catch((e: Error) => {
      // what src/cli/main.ts does with a thrown error
      err.push(e.message);
      return e instanceof UsageError ? 2 : 1;
    });
    return { stdout: out.join('\n'), stderr: err.join('\n'), code };
  } finally {
    process.env.DATABASE_URL = saved;
    log.mockRestore();
    error.mockRestore();
  }
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await db?.drop();
});

describe('migrate up / down through the CLI', () => {
  it('1. up creates audit_events with the SPEC fields and fitting types', async () => {
    const up = await spawnCli(db, 'migrate', 'up');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('applied  0001_audit_events');
    expect(up.stdout).toContain('applied  0002_audit_roles');
    expect(up.stdout).toContain('applied  0003_audit_checkpoints');
    expect(up.stdout).toContain('applied  0004_mcp_tool_pins');

    const cols = await db.sql<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_name = 'audit_events' ORDER BY ordinal_position`,
    );
    const types = Object.fromEntries(cols.map((c) => [c.column_name, c.data_type]));
    expect(types).toMatchObject({
      event_id: 'uuid',
      event_type: 'text',
      timestamp: 'timestamp with time zone',
      org_id: 'text',
      session_id: 'text',
      action_params: 'jsonb',
      metadata: 'jsonb',
      success: 'boolean',
      requires_approval: 'boolean',
      approval_granted: 'boolean',
      duration_ms: 'double precision',
      seq: 'integer',
      prev_hash: 'text',
      hash: 'text',
      key_id: 'text',
      sealed: 'bytea',
    });
  });

  it('2. has the indexes on session_id, org_id, timestamp and event_type, and a primary key with event_id', async () => {
    const idx = await db.sql<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events' ORDER BY indexname`,
    );
    const names = idx.map((i) => i.indexname);
    expect(names).toEqual(
      expect.arrayContaining([
        'audit_events_pkey',
        'idx_audit_events_event_type',
        'idx_audit_events_org_id',
        'idx_audit_events_session_id',
        'idx_audit_events_timestamp',
      ]),
    );
    expect(idx.find((i) => i.indexname === 'audit_events_pkey')!.indexdef).toContain(
      '(event_id, "timestamp")',
    );
  });

  it('3. is partitioned by month on timestamp, this month and the next two ready; `migrate partitions` adds more', async () => {
    const partitions = async () =>
      (
        await db.sql<{ relname: string }>(
          `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1`,
        )
      ).map((r) => r.relname);
    const now = new Date();
    const month = (ahead: number) => {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + ahead, 1));
      return `audit_events_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    };
    expect(await partitions()).toEqual([month(0), month(1), month(2)]);

    const more = await cli(db, 'migrate', 'partitions', '--months', '5');
    expect(more.code).toBe(0);
    expect(more.stdout).toContain('2 partition(s) created');
    expect(await partitions()).toEqual([0, 1, 2, 3, 4].map(month));
  });

  it('4. up again is a no-op; status lists both as applied', async () => {
    expect((await cli(db, 'migrate', 'up')).stdout).toContain('the schema is up to date');
    const status = await cli(db, 'migrate', 'status');
    expect(status.stdout).toMatch(/applied\s+0001_audit_events/);
    expect(status.stdout).toMatch(/applied\s+0002_audit_roles/);
    expect(status.stdout).toMatch(/applied\s+0003_audit_checkpoints/);
    expect(status.stdout).toMatch(/applied\s+0004_mcp_tool_pins/);
  });

  it('5. down reverts one step at a time, --all the rest, and up again restores everything', async () => {
    const pins = await cli(db, 'migrate', 'down');
    expect(pins.stdout).toContain('reverted 0004_mcp_tool_pins');
    expect(
      (await db.sql<{ t: string | null }>(`SELECT to_regclass('mcp_tool_pins')::text AS t`))[0]!.t,
    ).toBeNull();
    const checkpoints = await cli(db, 'migrate', 'down');
    expect(checkpoints.stdout).toContain('reverted 0003_audit_checkpoints');
    expect(
      (await db.sql<{ t: string | null }>(`SELECT to_regclass('audit_checkpoints')::text AS t`))[0]!.t,
    ).toBeNull();
    const one = await cli(db, 'migrate', 'down');
    expect(one.stdout).toContain('reverted 0002_audit_roles');
    expect((await db.sql(`SELECT 1 FROM pg_policies WHERE tablename = 'audit_events'`)).length).toBe(0);

    const all = await cli(db, 'migrate', 'down', '--all');
    expect(all.stdout).toContain('reverted 0001_audit_events');
    expect(
      (await db.sql<{ t: string | null }>(`SELECT to_regclass('audit_events')::text AS t`))[0]!.t,
    ).toBeNull();

    expect((await cli(db, 'migrate', 'up')).code).toBe(0);
    expect((await db.sql<{ t: string | null }>(`SELECT to_regclass('audit_events')::text AS t`))[0]!.t).toBe(
      'audit_events',
    );
  });

  it('6. a bad option is a usage error (exit 2), and no DATABASE_URL is a clear error', async () => {
    const bad = await cli(db, 'migrate', 'down', '--steps', 'zero');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--steps must be a positive integer');

    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = '';
    try {
      await expect(migrateCommand.run(['up'])).rejects.toMatchObject({
        code: 'invalid_request',
        message: 'DATABASE_URL is not set',
      });
    } finally {
      process.env.DATABASE_URL = saved;
    }
  });
});
