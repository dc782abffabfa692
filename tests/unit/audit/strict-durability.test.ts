/**
 * Issue 15, finding 3: the pieces that make AUDIT_DURABILITY=strict hold. A producer waiting
 * for its events sends them at once, marked urgent; the batcher writes urgent events without
 * waiting for flush_interval; and acknowledgements leave in the order batches started, even
 * when a later batch is stored first, so counting acks never takes an unstored event for stored.
 */
import { describe, expect, it } from 'vitest';
import { Batcher } from '../../../actors/audit/batcher.ts';
import { AuditOutbox, SessionChain } from '../../../src/audit/emit.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { makeChain } from '../../helpers/audit-events.ts';

const identity = { org_id: 'o', user_id: 'u', agent_id: 'a', session_id: 's' };

describe('AuditOutbox.durable()', () => {
  it('sends pending events at once, marked urgent, and resolves only when they are acknowledged', async () => {
    const sent: Array<{ events: AuditEvent[]; urgent: boolean }> = [];
    const outbox = new AuditOutbox({ send: (events, urgent) => sent.push({ events, urgent }) }, 100);
    const chain = new SessionChain(identity, outbox);
    expect(outbox.durable()).toBeUndefined();
    // 1. Two events emitted; a third comes after the wait began.
    chain.emit({ event_type: 'action_started', message: 'a' });
    chain.emit({ event_type: 'action_completed', message: 'b' });
    let stored = false;
    const wait = outbox.durable()!.then(() => {
      stored = true;
    });
    expect(sent).toEqual([{ events: expect.any(Array), urgent: true }]);
    expect(sent[0]!.events).toHaveLength(2);
    chain.emit({ event_type: 'action_started', message: 'c' });
    // 2. One of the two acknowledged: still waiting.
    outbox.ack(1);
    await Promise.resolve();
    expect(stored).toBe(false);
    // 3. Both: resolved, although the third is not stored yet.
    outbox.ack(1);
    await wait;
    expect(stored).toBe(true);
    expect(outbox.durable()).toBeInstanceOf(Promise);
  });
});

describe('Batcher under strict durability', () => {
  it('writes urgent events before flush_interval, one write for what arrived in the same turn', async () => {
    const written: number[] = [];
    const batcher = new Batcher<readonly AuditEvent[]>({
      writer: { write: async (pieces) => void written.push(pieces.flat().length) },
      batchSize: 1000,
      flushIntervalMs: 60_000,
      onStored: () => {},
      onWriteError: () => {},
    });
    batcher.add(0, makeChain('a', 2));
    batcher.urge();
    batcher.add(1, makeChain('b', 3));
    batcher.urge();
    await expect.poll(() => written).toEqual([5]);
    batcher.stop();
  });

  it('acknowledges batches in the order they started when a later one is stored first', async () => {
    const release: Array<() => void> = [];
    const acks: Array<[number, number]> = [];
    const batcher = new Batcher<readonly AuditEvent[]>({
      writer: { write: () => new Promise<void>((resolve) => release.push(resolve)) },
      batchSize: 2,
      flushIntervalMs: 60_000,
      onStored: (producer, count) => acks.push([producer, count]),
      onWriteError: () => {},
      maxInFlight: 3,
    });
    batcher.add(0, makeChain('a', 2)); // batch 0
    batcher.add(0, makeChain('b', 2)); // batch 1
    expect(release).toHaveLength(2);
    // 1. The second write finishes first: nothing may be acknowledged yet.
    release[1]!();
    await new Promise((r) => setImmediate(r));
    expect(acks).toEqual([]);
    // 2. The first finishes: both, in order.
    release[0]!();
    await expect
      .poll(() => acks)
      .toEqual([
        [0, 2],
        [0, 2],
      ]);
    batcher.stop();
  });
});
