/**
 * Start-up check of the database schema against the migrations this code ships, and the
 * schema level /version reports.
 *
 *   Daemon.start ──► checkSchemaLevel(url) ──► semibot_schema_migrations (max version)
 *                      applied > known  → refuse: schema_too_new (roll the code forward, or
 *                                         `migrate down` with the newer release)
 *                      applied < known  → warn: run `semibot-runtime migrate up`
 *                      unreachable      → warn and go on (the spool holds events meanwhile)
 *
 * Why refuse only "newer": an older schema is what every upgrade looks like between
 * installing the code and `migrate up`; a newer one means this code would write rows into
 * tables it does not understand (after a rollback of the code without `migrate down`).
 */
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { RuntimeError } from '../errors.ts';
import { MIGRATIONS_DIR } from './migrate.ts';

export interface SchemaLevel {
  /** the newest migration this code ships */
  known: number;
  /** the newest migration applied to the database (0: none) */
  applied: number;
}

let lastLevel: SchemaLevel | undefined;

/** The newest migration number in the migrations folder. */
export function knownSchemaVersion(dir = MIGRATIONS_DIR): number {
  let max = 0;
  for (const file of readdirSync(dir)) {
    const m = /^(\d{4})_[a-z0-9_]+\.up\.sql$/.exec(file);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max;
}

/** Reads the applied level without creating anything (a read-only role can run it). */
export async function readSchemaLevel(client: pg.ClientBase, dir = MIGRATIONS_DIR): Promise<SchemaLevel> {
  const known = knownSchemaVersion(dir);
  const { rows } = await client.query<{ applied: number | null }>(
    `SELECT CASE WHEN to_regclass('semibot_schema_migrations') IS NULL THEN 0
       ELSE (SELECT coalesce(max(version), 0) FROM semibot_schema_migrations) END AS applied`,
  );
  return { known, applied: Number(rows[0]?.applied ?? 0) };
}

/** Throws schema_too_new when the database is ahead of this code; records the level for /version. */
export function assertSchemaNotNewer(level: SchemaLevel): SchemaLevel {
  lastLevel = level;
  if (level.applied > level.known) {
    throw new RuntimeError(
      'schema_too_new',
      `the database schema is at migration ${level.applied} but this release knows only up to ${level.known}: ` +
        `start the newer release again, or run 'semibot-runtime migrate down --steps ${level.applied - level.known}' ` +
        'with the newer release installed before rolling the code back',
    );
  }
  return level;
}

export interface SchemaCheckOutcome {
  level?: SchemaLevel;
  /** why the level could not be read, or that migrations are pending */
  warning?: string;
}

/** Connects once to `url`, reads the level, refuses a newer schema. */
export async function checkSchemaLevel(url: string, dir = MIGRATIONS_DIR): Promise<SchemaCheckOutcome> {
  const client = new pg.Client({ connectionString: url, application_name: 'semibot-schema-check' });
  client.on('error', () => {}); // reported by the failing call instead of crashing the process
  let level: SchemaLevel;
  try {
    await client.connect();
    level = await readSchemaLevel(client, dir);
  } catch (err) {
    return { warning: `cannot read the database schema level (${(err as Error).message}); not checked` };
  } finally {
    await client.end().catch(() => {});
  }
  assertSchemaNotNewer(level);
  if (level.applied < level.known) {
    return {
      level,
      warning: `the database schema is at migration ${level.applied}, this release has ${level.known}: run 'semibot-runtime migrate up'`,
    };
  }
  return { level };
}

/** What /version adds: the migration levels, once the start-up check has read them. */
export function schemaLevelDocument(): { schema: SchemaLevel } | Record<string, never> {
  return lastLevel ? { schema: { ...lastLevel } } : {};
}
