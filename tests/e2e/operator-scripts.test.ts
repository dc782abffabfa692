/**
 * The operator scripts under scripts/, run as an operator runs them:
 * - health_check.sh against a tiny HTTP server on 127.0.0.1 answering 200 and 503, and a
 *   port nobody listens on;
 * - backup-audit-db.sh / restore-audit-db.sh on a throw-away database migrated by the real
 *   `semibot-runtime migrate up`: rows in, backup, database dropped, restored, every row back.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../../src/db/pool.ts';

const root = path.resolve(import.meta.dirname, '../..');
const script = (name: string) => path.join(root, 'scripts', name);
const run = promisify(execFile);

async function exec(cmd: string, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: root, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('scripts/health_check.sh', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"healthy","components":{"audit_logger":{"status":"healthy"}}}');
      } else {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"status":"unhealthy","components":{"audit_logger":{"status":"healthy"},"database":{"status":"unhealthy","detail":"ECONNREFUSED"},"daemon":{"status":"unhealthy","detail":"draining"}}}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('exits 0 when /health answers 200', async () => {
    const r = await exec('bash', [script('health_check.sh'), '-u', `${base}/ok`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('OK');
  });

  it('exits 1 on a 503 and names the status and the unhealthy components', async () => {
    const r = await exec('bash', [script('health_check.sh'), '-u', `${base}/down`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('HTTP 503');
    expect(r.stderr).toContain('database=unhealthy');
    expect(r.stderr).toContain('daemon=unhealthy');
    expect(r.stderr).not.toContain('audit_logger=');
  });

  it('exits 1 when nothing listens, saying there was no answer', async () => {
    // A port that was just free: bind, read the number, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = await exec('bash', [script('health_check.sh'), '-t', '2'], { HEALTH_URL: `http://127.0.0.1:${port}/health` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no answer from .*:\d+\/health/);
  });

  it('refuses a bad timeout with exit 2', async () => {
    const r = await exec('bash', [script('health_check.sh'), '-t', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('TIMEOUT must be a number');
  });
});

describe('scripts/backup-audit-db.sh and restore-audit-db.sh', () => {
  const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const name = `semibot_backup_${randomBytes(5).toString('hex')}`;
  const target = `${name}_restored`;
  const url = withDatabase(BASE_URL, name);
  const targetUrl = withDatabase(BASE_URL, target);
  let dir: string;

  const sql = async <R extends pg.QueryResultRow>(db: string, text: string, values: unknown[] = []) => {
    const client = new pg.Client({ connectionString: db });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end();
    }
  };
  const snapshot = (db: string) =>
    sql<{ row: string }>(db, 'SELECT to_jsonb(e)::text AS row FROM audit_events e ORDER BY session_id, seq').then((r) =>
      r.map((x) => x.row),
    );

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-dbbackup-'));
    await sql(BASE_URL, `CREATE DATABASE ${name}`);
  });
  afterAll(async () => {
    await sql(BASE_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await sql(BASE_URL, `DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
    await rm(dir, { recursive: true, force: true });
  });

  it('backs up a migrated audit store and restores every row into an empty database', async () => {
    // 1. Migrate with the real CLI, as an operator would.
    const migrated = await exec('node', ['--import', 'tsx', 'src/cli/main.ts', 'migrate', 'up'], { DATABASE_URL: url });
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);

    // 2. Some events, including text that needs escaping and a json payload.
    const session = randomUUID();
    await sql(
      url,
      `INSERT INTO audit_events (event_id, event_type, "timestamp", org_id, user_id, agent_id, session_id,
         severity, message, action_params, seq, prev_hash, hash)
       SELECT gen_random_uuid(), 'action_completed', now(), 'acme', 'alice', 'assistant', $1, 'info',
         'line ' || s || E'\ttab ''quote'' \\ back', jsonb_build_object('seq', s, 'note', 'ünïcode'),
         s, 'h' || (s - 1), 'h' || s
       FROM generate_series(0, 24) AS s`,
      [session],
    );
    const before = await snapshot(url);
    expect(before).toHaveLength(25);

    // 3. Back up, then lose the database.
    const backups = path.join(dir, 'backups');
    const backup = await exec('bash', [script('backup-audit-db.sh'), '-d', url, '-o', backups]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toContain('schema version 4');
    const files = (await readdir(backups)).sort();
    expect(files).toHaveLength(2);
    const archive = path.join(backups, files.find((f) => f.endsWith('.sql.gz'))!);
    await sql(BASE_URL, `DROP DATABASE ${name} WITH (FORCE)`);

    // 4. Restore into a new, empty database: every row, the migration level, the partitions.
    await sql(BASE_URL, `CREATE DATABASE ${target}`);
    const restored = await exec('bash', [script('restore-audit-db.sh'), '-d', targetUrl, archive]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain('25 audit event(s), schema version 4');
    expect(await snapshot(targetUrl)).toEqual(before);
    const status = await exec('node', ['--import', 'tsx', 'src/cli/main.ts', 'migrate', 'status'], { DATABASE_URL: targetUrl });
    expect(status.stdout).not.toContain('pending');

    // 5. A second restore over it is refused, and the rows are untouched.
    const again = await exec('bash', [script('restore-audit-db.sh'), '-d', targetUrl, archive]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already holds an audit store');
    expect(await snapshot(targetUrl)).toEqual(before);
  });

  it('refuses a damaged backup before touching the database', async () => {
    const bad = path.join(dir, 'semibot-auditdb-bad.sql.gz');
    await writeFile(bad, 'not gzip');
    await writeFile(`${bad}.sha256`, `${'0'.repeat(64)}  semibot-auditdb-bad.sql.gz\n`);
    const r = await exec('bash', [script('restore-audit-db.sh'), '-d', targetUrl, bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('does not match its .sha256');
  });

  it('refuses to back up a database that is not an audit store, and needs DATABASE_URL', async () => {
    const r = await exec('bash', [script('backup-audit-db.sh'), '-d', BASE_URL, '-o', path.join(dir, 'x')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no semibot_schema_migrations table');
    const none = await exec('bash', [script('backup-audit-db.sh'), '-o', path.join(dir, 'x')], { DATABASE_URL: '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('DATABASE_URL is not set');
  });
});
