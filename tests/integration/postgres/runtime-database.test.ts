/**
 * The whole path with AUDIT_STORAGE_TYPE=database: session actors on worker threads → audit
 * thread → COPY into PostgreSQL. Secrets in params are redacted before any store sees them,
 * the trail verifies from the table, and health() has a database component.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS, startTestRuntime, type TestRuntime } from '../../helpers/runtime.ts';
import { createTestDatabase, type TestDatabase } from './pg-test-db.ts';

let db: TestDatabase;
let t: TestRuntime;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestRuntime({
    database: { url: db.url, pool_size: 2, max_overflow: 1 },
    audit: { storage_type: 'database', batch_size: 100 },
  });
});
afterAll(async () => {
  try {
    await t?.cleanup();
  } finally {
    await db?.drop();
  }
});

describe('runtime with the database audit store', () => {
  it('writes the trail to audit_events, with password, token, secret, api_key and authorization redacted', async () => {
    const session = await t.runtime.createSession({ ...IDS, tools: ['echo'] });
    const secrets = {
      message: 'hi',
      password: 'hunter2',
      token: 'tok-123',
      client_secret: 's3cr3t',
      api_key: 'ak-999',
      headers: { Authorization: 'Bearer abc' },
    };
    // echo takes only `message`, so this is rejected as invalid_params — and audited, params and all.
    const result = await session.execute({ name: 'echo', params: secrets });
    expect(result.error?.code).toBe('invalid_params');
    expect((await session.execute({ name: 'echo', params: { message: 'ok' } })).success).toBe(true);
    await session.end();
    await t.runtime.audit.flush();

    const rows = await db.sql<{ action_params: Record<string, unknown> | null; event_type: string }>(
      `SELECT event_type, action_params FROM audit_events WHERE session_id = $1 ORDER BY seq`,
      [session.id],
    );
    expect(rows.map((r) => r.event_type)).toEqual(
      expect.arrayContaining([
        'session_started',
        'capability_validation_failed',
        'action_completed',
        'session_ended',
      ]),
    );
    const text = JSON.stringify(rows);
    for (const secret of ['hunter2', 'tok-123', 's3cr3t', 'ak-999', 'Bearer abc'])
      expect(text).not.toContain(secret);
    const rejected = rows.find((r) => r.event_type === 'capability_validation_failed')!;
    expect(rejected.action_params).toMatchObject({
      message: 'hi',
      password: '[REDACTED]',
      token: '[REDACTED]',
      client_secret: '[REDACTED]',
      api_key: '[REDACTED]',
      headers: { Authorization: '[REDACTED]' },
    });

    expect((await t.runtime.audit.verify(session.id)).ok).toBe(true);
    expect(await t.runtime.audit.count({ session_id: session.id })).toBe(rows.length);
  });

  it('health() reports the database component healthy, and no spool left behind', async () => {
    const health = await t.runtime.health();
    expect(health.components.database).toMatchObject({ status: 'healthy' });
    expect(health.components.audit_logger).toMatchObject({ status: 'healthy' });
    const stats = await t.runtime.audit.stats();
    expect(stats.store).toBe('database');
    expect(stats.spool).toMatchObject({ records: 0, dead_lettered: 0 });
    expect(path.basename(t.dir)).toMatch(/^semibot-test-/);
  });
});
