/**
 * The least-privilege roles of migration 0002: the writer can only add rows (by COPY too, in
 * spite of row-level security), the reader sees only its org, the retention role can only drop
 * old partitions — and nobody of the app can UPDATE, DELETE or TRUNCATE audit rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyDirectSql } from '../../../src/audit/stores/postgres/queries.ts';
import { RowBlock } from '../../../src/audit/stores/postgres/row-block.ts';
import { PostgresCopyAuditStore } from '../../../src/audit/stores/postgres-copy.ts';
import { makeChain } from '../../helpers/audit-events.ts';
import { createTestDatabase, databaseConfig, type TestDatabase, withClient } from './pg-test-db.ts';

let db: TestDatabase;
let dir: string;
const THIS_MONTH = new Date().toISOString();
const orgA = makeChain('sess-a', 4, { start: THIS_MONTH, fields: { org_id: 'org-a' } });
const orgB = makeChain('sess-b', 3, { start: THIS_MONTH, fields: { org_id: 'org-b' } });

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'audit-roles-'));
  const store = new PostgresCopyAuditStore({ database: databaseConfig(db.url), deadLetterDir: dir });
  await store.init();
  await store.append([...orgA, ...orgB]);
  await store.close();
});
afterAll(async () => {
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `task` as `role` (SET ROLE from the superuser connection, as a login granted it would be). */
function as<T>(role: string, task: (c: pg.Client) => Promise<T>, orgId?: string): Promise<T> {
  return withClient(db.url, async (c) => {
    await c.query(`SET ROLE ${role}`);
    if (orgId) await c.query(`SELECT set_config('semibot.org_id', $1, false)`, [orgId]);
    return task(c);
  });
}

const denied = { code: '42501' }; // insufficient_privilege

describe('semibot_audit_writer', () => {
  it('COPYs rows in although the table has row-level security', async () => {
    const more = makeChain('sess-w', 2, { start: THIS_MONTH, fields: { org_id: 'org-a' } });
    await as(
      'semibot_audit_writer',
      (c) =>
        new Promise<void>((resolve, reject) => {
          const stream = c.query(copyFrom(copyDirectSql()));
          stream.on('error', reject);
          stream.on('finish', () => resolve());
          stream.end(RowBlock.encode(more).bytes);
        }),
    );
    expect((await db.sql(`SELECT 1 FROM audit_events WHERE session_id = 'sess-w'`)).length).toBe(2);
  });

  it.each([
    ['UPDATE', `UPDATE audit_events SET message = 'x'`],
    ['DELETE', 'DELETE FROM audit_events'],
    ['TRUNCATE', 'TRUNCATE audit_events'],
    ['SELECT', 'SELECT count(*) FROM audit_events'],
    ['DROP a partition', 'SELECT audit_apply_retention(now())'],
  ])('cannot %s', async (_, sql) => {
    await expect(as('semibot_audit_writer', (c) => c.query(sql))).rejects.toMatchObject(denied);
  });
});

describe('semibot_audit_reader', () => {
  it('sees only the org named by semibot.org_id', async () => {
    const rows = await as(
      'semibot_audit_reader',
      (c) => c.query('SELECT DISTINCT org_id FROM audit_events'),
      'org-b',
    );
    expect(rows.rows).toEqual([{ org_id: 'org-b' }]);
  });

  it('sees nothing when no org is set', async () => {
    const rows = await as('semibot_audit_reader', (c) =>
      c.query('SELECT count(*)::int AS n FROM audit_events'),
    );
    expect(rows.rows).toEqual([{ n: 0 }]);
  });

  it.each([
    ['UPDATE', `UPDATE audit_events SET message = 'x'`],
    ['DELETE', 'DELETE FROM audit_events'],
    ['TRUNCATE', 'TRUNCATE audit_events'],
    ['INSERT', `INSERT INTO audit_events (event_id) VALUES (gen_random_uuid())`],
  ])('cannot %s', async (_, sql) => {
    await expect(as('semibot_audit_reader', (c) => c.query(sql), 'org-a')).rejects.toMatchObject(denied);
  });
});

describe('semibot_audit_retention', () => {
  it.each([
    ['UPDATE', `UPDATE audit_events SET message = 'x'`],
    ['DELETE', 'DELETE FROM audit_events'],
    ['TRUNCATE', 'TRUNCATE audit_events'],
    ['SELECT', 'SELECT 1 FROM audit_events'],
  ])('cannot %s', async (_, sql) => {
    await expect(as('semibot_audit_retention', (c) => c.query(sql))).rejects.toMatchObject(denied);
  });

  it('can drop whole old partitions through audit_apply_retention, and nothing newer', async () => {
    const old = makeChain('sess-old', 3, { start: '2020-05-10T00:00:00.000Z' });
    const store = new PostgresCopyAuditStore({ database: databaseConfig(db.url), deadLetterDir: dir });
    await store.init();
    await store.append(old);
    await store.close();
    expect((await db.sql(`SELECT to_regclass('audit_events_y2020m05')::text AS t`))[0]).toEqual({
      t: 'audit_events_y2020m05',
    });

    const removed = await as('semibot_audit_retention', (c) =>
      c.query<{ n: string }>(`SELECT audit_apply_retention('2021-01-01T00:00:00Z')::text AS n`),
    );
    expect(removed.rows).toEqual([{ n: '3' }]);
    expect((await db.sql(`SELECT to_regclass('audit_events_y2020m05')::text AS t`))[0]).toEqual({ t: null });
    expect((await db.sql<{ n: number }>('SELECT count(*)::int AS n FROM audit_events'))[0]!.n).toBe(
      orgA.length + orgB.length + 2,
    );
  });
});
