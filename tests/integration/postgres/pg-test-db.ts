/**
 * A throw-away PostgreSQL database per test file: semibot_test_<random> on the server named by
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), migrated up, dropped after.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { withDatabase } from '../../../src/db/pool.ts';
import { migrateUp } from '../../../src/db/migrate.ts';

export const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  name: string;
  url: string;
  /** runs one query on a fresh connection */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

export async function createTestDatabase({ migrate = true } = {}): Promise<TestDatabase> {
  const name = `semibot_test_${randomBytes(6).toString('hex')}`;
  await withClient(BASE_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(BASE_URL, name);
  if (migrate) await withClient(url, (c) => migrateUp(c));
  return {
    name,
    url,
    sql: async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) =>
      withClient(url, async (c) => (await c.query<R>(text, values)).rows),
    drop: () =>
      withClient(BASE_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

export async function withClient<T>(url: string, task: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // a server restart in a fault test must not crash the runner
  await client.connect();
  try {
    return await task(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export function databaseConfig(url: string, overrides: { pool_size?: number; max_overflow?: number } = {}) {
  return { url, pool_size: overrides.pool_size ?? 2, max_overflow: overrides.max_overflow ?? 2 };
}
