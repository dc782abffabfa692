import { describe, expect, it } from 'vitest';
import { MemoryAuditStore } from '../../../src/audit/stores/memory.ts';
import { makeChain, q } from '../../helpers/audit-events.ts';

describe('MemoryAuditStore', () => {
  it('is bounded: when full, the oldest events are dropped and counted', async () => {
    const store = new MemoryAuditStore({ maxEvents: 5 });
    const events = makeChain('sess-1', 8);

    // 1. fill it exactly
    await store.append(events.slice(0, 5));
    expect(store.size).toBe(5);
    expect(store.dropped).toBe(0);

    // 2. three more push out the three oldest
    await store.append(events.slice(5));
    expect(store.size).toBe(5);
    expect(store.dropped).toBe(3);
    expect(await store.query(q())).toStrictEqual(events.slice(3));
    expect((await store.health()).status).toBe('healthy');
  });

  it('drops by arrival, not by timestamp', async () => {
    const store = new MemoryAuditStore({ maxEvents: 2 });
    const late = makeChain('sess-late', 1, { start: '2025-06-01T00:00:00.000Z' });
    const early = makeChain('sess-early', 2, { start: '2025-01-01T00:00:00.000Z' });
    await store.append(late);
    await store.append(early);
    expect((await store.query(q())).map((e) => e.session_id)).toStrictEqual(['sess-early', 'sess-early']);
  });

  it('a batch bigger than the store keeps its newest events', async () => {
    const store = new MemoryAuditStore({ maxEvents: 3 });
    const events = makeChain('sess-1', 10);
    await store.append(events);
    expect(await store.query(q())).toStrictEqual(events.slice(7));
    expect(store.dropped).toBe(7);
  });

  it('keeps dropping the oldest through long churn, retention deletes and emptying in between', async () => {
    const store = new MemoryAuditStore({ maxEvents: 50 });
    const events = makeChain('sess-churn', 400, { start: '2025-01-01T00:00:00.000Z' });
    for (let i = 0; i < 200; i += 10) await store.append(events.slice(i, i + 10));
    expect(await store.query(q({ limit: 1000 }))).toStrictEqual(events.slice(150, 200));
    // Retention removes everything older than event 180 (one second apart): 20 are left.
    expect(await store.deleteOlderThan(new Date(events[180]!.timestamp))).toBe(30);
    await store.append(events.slice(200, 240));
    expect(await store.query(q({ limit: 1000 }))).toStrictEqual(events.slice(190, 240));
    // Emptied completely, then filled and overfilled again.
    await store.deleteOlderThan(new Date('2100-01-01T00:00:00.000Z'));
    await store.append(events.slice(240, 400));
    expect(await store.query(q({ limit: 1000 }))).toStrictEqual(events.slice(350, 400));
    expect(store.dropped).toBe(150 + 10 + 110);
  });

  it('a duplicate in a full store drops nothing', async () => {
    const store = new MemoryAuditStore({ maxEvents: 3 });
    const events = makeChain('sess-1', 3);
    await store.append(events);
    await store.append([events[0]!]);
    expect(store.dropped).toBe(0);
    expect(await store.count(q())).toBe(3);
  });

  it('keeps its own copies: mutating what went in or came out changes nothing stored', async () => {
    const store = new MemoryAuditStore({ maxEvents: 10 });
    const [event] = makeChain('sess-1', 1, { fields: { metadata: { tag: 'original' } } });
    await store.append([event!]);

    event!.metadata.tag = 'changed by the producer';
    const [read] = await store.query(q());
    read!.message = 'changed by a reader';

    const [stored] = await store.sessionEvents('sess-1');
    expect(stored!.metadata.tag).toBe('original');
    expect(stored!.message).not.toBe('changed by a reader');
  });

  it('rejects a maxEvents that is not a positive integer', () => {
    expect(() => new MemoryAuditStore({ maxEvents: 0 })).toThrow(/maxEvents/);
    expect(() => new MemoryAuditStore({ maxEvents: 1.5 })).toThrow(/maxEvents/);
    expect(() => new MemoryAuditStore({ maxEvents: Number.NaN })).toThrow(/maxEvents/);
  });
});
