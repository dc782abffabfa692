import { describe, expect, it } from 'vitest';
import { AuditOutbox, SessionChain } from '../../../src/audit/emit.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { verifyChain } from '../../../src/audit/hash-chain.ts';

const identity = { org_id: 'o', user_id: 'u', agent_id: 'a', session_id: 's' };

describe('AuditOutbox backpressure', () => {
  it('lets producers run while under the window, makes them wait past it, and wakes them on acks', async () => {
    const sent: AuditEvent[][] = [];
    const outbox = new AuditOutbox({ send: (events) => sent.push(events) }, 3);
    const chain = new SessionChain(identity, outbox);
    // 1. Under the window: no waiting.
    chain.emit({ event_type: 'action_started', message: 'a' });
    chain.emit({ event_type: 'action_completed', message: 'b' });
    expect(outbox.ready()).toBeUndefined();
    // 2. At the window: ready() is a promise that has not resolved.
    chain.emit({ event_type: 'action_started', message: 'c' });
    const waiting = outbox.ready();
    expect(waiting).toBeInstanceOf(Promise);
    let woke = false;
    void waiting!.then(() => {
      woke = true;
    });
    await Promise.resolve();
    expect(woke).toBe(false);
    // 3. Events wait a moment and leave together as one batch.
    expect(sent).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toHaveLength(3);
    // 4. The audit actor acknowledges two: the producer wakes.
    outbox.ack(2);
    await waiting;
    expect(woke).toBe(true);
    expect(outbox.unacked).toBe(1);
  });

  it('drained() resolves only when every event is acknowledged', async () => {
    const outbox = new AuditOutbox({ send: () => {} }, 100);
    const chain = new SessionChain(identity, outbox);
    for (let i = 0; i < 5; i++) chain.emit({ event_type: 'error', message: `${i}` });
    let drained = false;
    const done = outbox.drained().then(() => {
      drained = true;
    });
    outbox.ack(4);
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    outbox.ack(1);
    await done;
    expect(drained).toBe(true);
  });

  it('chains every event of a session to the one before it', () => {
    const emitted: AuditEvent[] = [];
    const outbox = new AuditOutbox({ send: (e) => emitted.push(...e) }, 100);
    const chain = new SessionChain(identity, outbox);
    for (const i of [1, 2, 3]) chain.emit({ event_type: 'action_started', message: `${i}`, action_params: { i, when: undefined } });
    outbox.flush();
    expect(emitted.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(emitted[1]?.prev_hash).toBe(emitted[0]?.hash);
    // undefined inside params is normalised before hashing, so the chain survives JSON stores.
    expect(emitted[0]?.action_params).toEqual({ i: 1 });
    expect(verifyChain('s', JSON.parse(JSON.stringify(emitted)))).toMatchObject({ ok: true, events: 3 });
  });
});
