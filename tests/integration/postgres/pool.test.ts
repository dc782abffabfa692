/**
 * The pool honours DATABASE_POOL_SIZE and DATABASE_MAX_OVERFLOW, and a connection killed under
 * it (idle or busy) never crashes the process: every pool and client has an error listener.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../config/schema.ts';
import { createPool } from '../../../src/db/pool.ts';
import { createTestDatabase, type TestDatabase } from './pg-test-db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await db?.drop();
});

const config = (pool_size: number, max_overflow: number) =>
  ConfigSchema.parse({ database: { url: db.url, pool_size, max_overflow } }).database;

async function backends(appName: string): Promise<number> {
  const [row] = await db.sql<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
    [appName],
  );
  return row!.n;
}

describe('createPool', () => {
  it('opens at most pool_size + max_overflow connections under load', async () => {
    const pool = createPool(config(2, 1), { applicationName: 'pool-cap' });
    let peak = 0;
    const probe = setInterval(() => void backends('pool-cap').then((n) => (peak = Math.max(peak, n))), 20);
    // 12 queries that each hold a connection for 300 ms: only 3 can run at once.
    await Promise.all(Array.from({ length: 12 }, () => pool.query('SELECT pg_sleep(0.3)')));
    clearInterval(probe);
    expect(peak).toBeGreaterThanOrEqual(2); // the probe saw the pool at work
    expect(peak).toBeLessThanOrEqual(3);
    expect(pool.totalCount).toBeLessThanOrEqual(3);
    await pool.end();
  });

  it('survives its connections being terminated while idle, and serves the next query', async () => {
    const errors: string[] = [];
    const pool = createPool(config(2, 0), { applicationName: 'pool-kill', onError: (e) => errors.push(e.message) });
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]);
    await db.sql(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pool-kill'`,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(errors.length).toBeGreaterThan(0); // told, not crashed
    expect((await pool.query('SELECT 42 AS x')).rows).toEqual([{ x: 42 }]);
    await pool.end();
  });

  it('refuses to start without DATABASE_URL, with a clear error', () => {
    expect(() => createPool(ConfigSchema.parse({}).database)).toThrow(
      expect.objectContaining({ code: 'audit_unavailable', message: expect.stringContaining('DATABASE_URL') }),
    );
  });
});
