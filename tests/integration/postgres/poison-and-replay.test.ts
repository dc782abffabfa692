/**
 * Rows PostgreSQL refuses, and batches written twice: one bad event must not sink its batch
 * (it is isolated and dead-lettered, the rest lands), and a retried batch never duplicates.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../../../src/audit/hash-chain.ts';
import { PostgresCopyAuditStore } from '../../../src/audit/stores/postgres-copy.ts';
import { makeChain, q } from '../../helpers/audit-events.ts';
import { createTestDatabase, databaseConfig, type TestDatabase, withClient } from './pg-test-db.ts';

let db: TestDatabase;
let dir: string;
let store: PostgresCopyAuditStore;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.sql('TRUNCATE audit_events');
  dir = await mkdtemp(join(tmpdir(), 'audit-poison-'));
  store = new PostgresCopyAuditStore({ database: databaseConfig(db.url), deadLetterDir: dir });
  await store.init();
  return async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
});

describe('poison events', () => {
  it('NUL in text and \\u0000 in params (which abort a plain COPY) are sanitised losslessly and land', async () => {
    const events = makeChain('sess-nul', 3, {
      at: (seq) => (seq === 1 ? { message: 'tool said \u0000', action_params: { out: 'a\u0000b' } } : {}),
    });
    await store.append(events);
    expect(await store.sessionEvents('sess-nul')).toStrictEqual(events);
    const [row] = await db.sql<{ escaped: boolean }>('SELECT escaped FROM audit_events WHERE event_id = $1', [
      events[1]!.event_id,
    ]);
    expect(row!.escaped).toBe(true);
    expect(store.deadLettered).toBe(0);
  });

  it('a batch with two events PostgreSQL refuses: the other 98 land, the two go to the dead-letter file', async () => {
    const events = makeChain('sess-poison', 100, { start: '2025-05-01T00:00:00.000Z' });
    // 1. not a uuid (22P02); 2. a session id too big for its btree index entry (54000)
    events[37] = { ...events[37]!, event_id: 'not-a-uuid' };
    events[80] = { ...events[80]!, session_id: randomBytes(12_000).toString('hex') };

    await store.append(events);

    const landed = await store.count(q({ session_id: 'sess-poison' }));
    expect(landed).toBe(98);
    expect(store.deadLettered).toBe(2);
    const lines = (await readFile(store.deadLetterFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.error.code).sort()).toEqual(['22P02', '54000']);
    expect(lines.map((l) => l.event.seq).sort((a: number, b: number) => a - b)).toEqual([37, 80]);
    // The store held the batch as COPY rows: the events it kept are read back from them, exactly.
    const kept = lines.sort((a, b) => a.event.seq - b.event.seq).map((l) => l.event);
    expect(kept).toStrictEqual([events[37], events[80]]);
    expect((await store.health()).detail).toContain('2 events dead-lettered');
  });
});

describe('idempotent retries', () => {
  it('a batch written again after an ambiguous failure (it had in fact committed) is not duplicated', async () => {
    const batch = makeChain('sess-retry', 50);
    await store.append(batch); // committed; imagine the connection dropped before the reply
    const next = makeChain('sess-next', 10);
    await store.append([...batch, ...next]); // the retry carries the old batch and new events

    expect(await store.count(q())).toBe(60);
    const ids = await db.sql<{ n: number }>('SELECT count(DISTINCT event_id)::int AS n FROM audit_events');
    expect(ids[0]!.n).toBe(60);
    expect(verifyChain('sess-retry', await store.sessionEvents('sess-retry')).ok).toBe(true);
  });

  it('two writers racing with the same batch store it once', async () => {
    const other = new PostgresCopyAuditStore({ database: databaseConfig(db.url), deadLetterDir: dir });
    await other.init();
    const batch = makeChain('sess-race', 500);
    await Promise.all([store.append(batch), other.append(batch), store.append(batch.slice(100, 300))]);
    await other.close();
    expect(await store.count(q())).toBe(500);
  });
});

describe('queries use the indexes', () => {
  it('EXPLAIN of an org query, a session trail and an event-type count shows index scans', async () => {
    for (let i = 0; i < 20; i++)
      await store.append(makeChain(`s-${i}`, 50, { fields: { org_id: `org-${i % 4}` } }));
    await db.sql('ANALYZE audit_events');
    // A thousand rows fit a few pages, where a sequential scan is cheaper: switch it off to see
    // which index the planner would use once the table is big.
    const plan = (sql: string) =>
      withClient(db.url, async (c) => {
        await c.query('SET enable_seqscan = off');
        return (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`)).rows
          .map((r) => r['QUERY PLAN'])
          .join('\n');
      });

    const byOrg = await plan(
      `SELECT * FROM audit_events WHERE org_id = 'org-1' AND "timestamp" >= '2025-01-01' ORDER BY "timestamp" LIMIT 100`,
    );
    expect(byOrg).toMatch(/Index Scan using audit_events_y2025m01_org_id_timestamp_idx/);
    const bySession = await plan(`SELECT * FROM audit_events WHERE session_id = 's-3' ORDER BY seq`);
    expect(bySession).toMatch(/Index.*session_id/);
    const byType = await plan(`SELECT count(*) FROM audit_events WHERE event_type = 'session_ended'`);
    expect(byType).toMatch(/Index.*event_type/);
  });
});
