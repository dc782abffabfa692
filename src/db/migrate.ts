/**
 * A small migration runner over plain SQL files: migrations/NNNN_name.up.sql and
 * NNNN_name.down.sql, applied in number order, each in its own transaction, recorded in
 * semibot_schema_migrations.
 *
 * Why not a migration tool: none is installed here (and this schema needs no more than this),
 * the SQL has to be readable by a DBA as it is (partitions, SECURITY DEFINER functions, roles,
 * row-level security), and a hundred lines keep the behaviour obvious: one advisory lock so two
 * runtimes starting together cannot both migrate, one transaction per file so a failure leaves
 * the previous version intact.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { RuntimeError } from '../errors.ts';
import { packagePath } from '../package-paths.ts';

export const MIGRATIONS_DIR = packagePath('migrations');
const LOCK_KEY = 'semibot_schema_migrations';
const FILE = /^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$/;

export interface Migration {
  version: number;
  name: string;
  up: string;
  down: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const byVersion = new Map<number, Partial<Migration> & { version: number; name: string }>();
  for (const file of (await readdir(dir)).sort()) {
    const m = FILE.exec(file);
    if (!m) continue;
    const version = Number(m[1]);
    const entry = byVersion.get(version) ?? { version, name: m[2]! };
    entry[m[3] as 'up' | 'down'] = await readFile(path.join(dir, file), 'utf8');
    byVersion.set(version, entry);
  }
  const migrations = [...byVersion.values()].sort((a, b) => a.version - b.version);
  for (const m of migrations) {
    if (m.up === undefined || m.down === undefined) {
      throw new RuntimeError(
        'migration_failed',
        `migration ${m.version}_${m.name} needs both an up and a down file`,
      );
    }
  }
  return migrations as Migration[];
}

export interface MigrationStep {
  version: number;
  name: string;
  direction: 'up' | 'down';
}

/** Applies every pending migration; returns what it applied. */
export async function migrateUp(client: pg.ClientBase, dir = MIGRATIONS_DIR): Promise<MigrationStep[]> {
  const migrations = await loadMigrations(dir);
  return withLock(client, async () => {
    const applied = await appliedVersions(client);
    const steps: MigrationStep[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await inTransaction(client, `${m.version}_${m.name} up`, async () => {
        await client.query(m.up);
        await client.query('INSERT INTO semibot_schema_migrations (version, name) VALUES ($1, $2)', [
          m.version,
          m.name,
        ]);
      });
      steps.push({ version: m.version, name: m.name, direction: 'up' });
    }
    return steps;
  });
}

/** Reverts the newest `steps` applied migrations (all of them with steps = Infinity). */
export async function migrateDown(
  client: pg.ClientBase,
  steps = 1,
  dir = MIGRATIONS_DIR,
): Promise<MigrationStep[]> {
  const migrations = new Map((await loadMigrations(dir)).map((m) => [m.version, m]));
  return withLock(client, async () => {
    const applied = [...(await appliedVersions(client))].sort((a, b) => b - a).slice(0, steps);
    const done: MigrationStep[] = [];
    for (const version of applied) {
      const m = migrations.get(version);
      if (!m)
        throw new RuntimeError(
          'migration_failed',
          `migration ${version} is applied but its files are missing`,
        );
      await inTransaction(client, `${m.version}_${m.name} down`, async () => {
        await client.query(m.down);
        await client.query('DELETE FROM semibot_schema_migrations WHERE version = $1', [version]);
      });
      done.push({ version, name: m.name, direction: 'down' });
    }
    return done;
  });
}

export async function appliedVersions(client: pg.ClientBase): Promise<Set<number>> {
  await client.query(`CREATE TABLE IF NOT EXISTS semibot_schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const { rows } = await client.query<{ version: number }>('SELECT version FROM semibot_schema_migrations');
  return new Set(rows.map((r) => r.version));
}

async function withLock<T>(client: pg.ClientBase, task: () => Promise<T>): Promise<T> {
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [LOCK_KEY]);
  try {
    return await task();
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [LOCK_KEY]).catch(() => {});
  }
}

async function inTransaction(client: pg.ClientBase, label: string, task: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await task();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw new RuntimeError('migration_failed', `migration ${label} failed: ${(err as Error).message}`);
  }
}
