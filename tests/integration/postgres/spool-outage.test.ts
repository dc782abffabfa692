/**
 * The database goes away (a proxy in front of PostgreSQL cuts or freezes the connection):
 * batches go to the local spool, are acknowledged only once synced there, are replayed in
 * order when the database is back, and end up in the table exactly once. A torn spool tail is
 * cut and the rest recovered; a full spool makes writers wait instead of growing memory.
 */
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditActor } from '../../../actors/audit/audit-actor.ts';
import { scan, Spool, SpoolingWriter } from '../../../actors/audit/spool.ts';
import { ConfigSchema } from '../../../config/schema.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { verifyChain } from '../../../src/audit/hash-chain.ts';
import { PostgresCopyAuditStore } from '../../../src/audit/stores/postgres-copy.ts';
import { makeChain, q } from '../../helpers/audit-events.ts';
import { createTestDatabase, databaseConfig, type TestDatabase } from './pg-test-db.ts';
import { TcpProxy } from './tcp-proxy.ts';

let db: TestDatabase;
let proxy: TcpProxy;
let proxiedUrl: string;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  proxy = new TcpProxy(db.url);
  proxiedUrl = proxy.url(db.url, await proxy.start());
});
afterAll(async () => {
  await proxy?.close();
  await db?.drop();
});
beforeEach(async () => {
  proxy.up();
  await db.sql('TRUNCATE audit_events');
  dir = await mkdtemp(join(tmpdir(), 'audit-spool-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function store(copyDeadlineMs = 2_000): PostgresCopyAuditStore {
  return new PostgresCopyAuditStore({
    database: { ...databaseConfig(proxiedUrl), pool_size: 1, max_overflow: 1 },
    copyDeadlineMs,
    deadLetterDir: dir,
  });
}

async function tableIds(): Promise<string[]> {
  return (await db.sql<{ event_id: string }>('SELECT event_id FROM audit_events')).map((r) => r.event_id);
}

describe('Spool (segments on disk)', () => {
  const batch = (n: number) => makeChain(`sp-${n}`, 3);

  it('keeps every whole record and cuts a torn tail after a crash', async () => {
    const spool = new Spool({ dir, maxBytes: 1 << 20 });
    await spool.open();
    const batches = [batch(1), batch(2), batch(3)];
    for (const b of batches) await spool.append(b);
    await spool.close();
    const [segment] = (await readdir(dir)).filter((f) => f.endsWith('.seg'));
    const before = await readFile(join(dir, segment!));
    // 1. A crash in the middle of the 4th record: its header promises more bytes than exist.
    const torn = Buffer.from(before.subarray(0, 20));
    await appendFile(join(dir, segment!), torn);

    const again = new Spool({ dir, maxBytes: 1 << 20 });
    const recovered = await again.open();
    expect(recovered).toEqual({ segments: 1, records: 3, truncatedBytes: 20 });
    expect((await again.oldest())!.batches).toStrictEqual(batches);
    expect((await readFile(join(dir, segment!))).length).toBe(before.length);
  });

  it('stops at a record whose checksum fails and keeps those before it', async () => {
    const spool = new Spool({ dir, maxBytes: 1 << 20 });
    await spool.open();
    for (const b of [batch(1), batch(2), batch(3)]) await spool.append(b);
    await spool.close();
    const [segment] = (await readdir(dir)).filter((f) => f.endsWith('.seg'));
    const data = await readFile(join(dir, segment!));
    const firstLen = data.readUInt32LE(4) + 12;
    data[firstLen + 12 + 5]! ^= 0xff; // a flipped byte inside the 2nd record's payload
    await writeFile(join(dir, segment!), data);
    expect(scan(data).records).toHaveLength(1);
    const again = new Spool({ dir, maxBytes: 1 << 20 });
    expect((await again.open()).records).toBe(1);
  });
});

describe('SpoolingWriter against a database that goes away', () => {
  it('1. spools while the database is down (degraded), 2. replays in order when it is back, 3. exactly once', async () => {
    const s = store();
    await s.init();
    const writer = new SpoolingWriter({
      store: s,
      spool: new Spool({ dir: join(dir, 'spool'), maxBytes: 1 << 30 }),
    });
    await writer.open();
    const sessions = Array.from({ length: 6 }, (_, i) => makeChain(`out-${i}`, 40));

    await writer.write(sessions[0]!);
    proxy.down();
    // 1. Each write resolves only once its batch is synced in the spool: that is the ack.
    for (const events of sessions.slice(1, 4)) await writer.write(events);
    expect(writer.health().status).toBe('degraded');
    expect(writer.spool.records).toBeGreaterThanOrEqual(3);
    expect((await s.health()).status).toBe('degraded');

    // 2. Back up; writes that arrive while the spool drains queue behind it, in order.
    proxy.up();
    for (const events of sessions.slice(4)) await writer.write(events);
    await writer.drained();

    // 3. Every event produced is in the table exactly once; the spool is gone.
    const ids = await tableIds();
    const produced = sessions.flat().map((e) => e.event_id);
    expect(ids.length).toBe(produced.length);
    expect(new Set(ids)).toEqual(new Set(produced));
    expect(writer.spool.isEmpty).toBe(true);
    expect((await readdir(join(dir, 'spool'))).filter((f) => f.endsWith('.seg'))).toEqual([]);
    expect(writer.health().status).toBe('healthy');
    for (let i = 0; i < sessions.length; i++)
      expect(verifyChain(`out-${i}`, await s.sessionEvents(`out-${i}`)).ok).toBe(true);
    await writer.close();
    await s.close();
  });

  it('a connection that stops answering (frozen backend) is abandoned by the watchdog and the batch spooled', async () => {
    const s = store(400);
    await s.init();
    const writer = new SpoolingWriter({
      store: s,
      spool: new Spool({ dir: join(dir, 'spool'), maxBytes: 1 << 30 }),
    });
    await writer.open();
    proxy.freeze();
    const events = makeChain('frozen', 100);
    await writer.write(events); // would hang for ever without the watchdog
    expect(writer.spool.records).toBe(1);
    expect(writer.health().detail).toMatch(/did not answer within 400 ms/);
    // health() answers too (its own short deadline covers connecting), instead of hanging.
    expect(await s.health()).toMatchObject({ status: 'degraded' });

    proxy.up();
    await writer.drained();
    expect((await tableIds()).sort()).toEqual(events.map((e) => e.event_id).sort());
    await writer.close();
    await s.close();
  });

  it('a full spool makes the writer wait (backpressure) until the database drains it', async () => {
    const s = store();
    await s.init();
    const first = makeChain('full-1', 50);
    const oneRecord = Buffer.byteLength(JSON.stringify(first)) + 12;
    const writer = new SpoolingWriter({
      store: s,
      spool: new Spool({ dir: join(dir, 'spool'), maxBytes: oneRecord + 100 }),
    });
    await writer.open();
    proxy.down();
    await writer.write(first);
    let secondDone = false;
    const second = writer.write(makeChain('full-2', 50)).then(() => {
      secondDone = true;
    });
    // Give the second write every chance to finish wrongly: replay retries, timers fire.
    await new Promise((r) => setTimeout(r, 500));
    expect(secondDone).toBe(false);
    expect(writer.spool.bytes).toBeLessThanOrEqual(oneRecord + 100);

    proxy.up();
    await second;
    await writer.drained();
    expect(await s.count(q())).toBe(100);
    await writer.close();
    await s.close();
  });
});

describe('AuditActor with the database store', () => {
  it('acknowledges (flush returns) while the database is down, reports database: degraded, and catches up', async () => {
    const config = ConfigSchema.parse({
      audit: { storage_type: 'database', log_dir: dir, flush_interval: 0.01, batch_size: 50 },
    }).audit;
    const s = store();
    const actor = new AuditActor(config, s);
    await actor.init();
    proxy.down();
    const identity = { org_id: 'org-1', user_id: 'u', agent_id: 'a', session_id: 'actor-s' };
    await actor.appendChained(
      Array.from({ length: 120 }, (_, i) => ({
        identity,
        draft: { event_type: 'action_started' as const, message: `m${i}` },
      })),
    );
    await actor.flush(); // "acknowledged": every event is durable — in the spool, synced

    const health = await actor.health();
    expect(health.status).toBe('degraded');
    expect(health.database).toMatchObject({ status: 'degraded' });
    expect(health.database!.detail).toMatch(/spooled/);
    expect(actor.stats().spool!.records).toBeGreaterThan(0);

    proxy.up();
    let trail: AuditEvent[] = [];
    for (let i = 0; i < 200 && trail.length < 120; i++) {
      await new Promise((r) => setTimeout(r, 50));
      trail = await db.sql<AuditEvent>(`SELECT event_id FROM audit_events WHERE session_id = 'actor-s'`);
    }
    expect(trail).toHaveLength(120);
    expect((await actor.verify('actor-s')).ok).toBe(true);
    expect((await actor.health()).database).toMatchObject({ status: 'healthy' });
    await actor.close();
  });
});
