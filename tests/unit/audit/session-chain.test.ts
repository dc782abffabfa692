import { describe, expect, it } from 'vitest';
import { AuditOutbox, SessionChain } from '../../../src/audit/emit.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { verifyChain } from '../../../src/audit/hash-chain.ts';

const identity = (session_id: string) => ({ org_id: 'o', user_id: 'u', agent_id: 'a', session_id });

describe('SessionChain: content fixed at emit, linked as it leaves', () => {
  it('records params and metadata as they were at emit, even if the caller changes them before the flush', () => {
    const sent: AuditEvent[] = [];
    const outbox = new AuditOutbox({ send: (e) => sent.push(...e) }, 100);
    const chain = new SessionChain(identity('s'), outbox);
    const params = { path: 'a.txt', nested: { n: 1 } };
    const metadata = { result: ['first'] };
    chain.emit({ event_type: 'action_started', message: 'm', action_params: params, metadata });
    params.path = 'changed.txt';
    params.nested.n = 2;
    metadata.result.push('second');
    outbox.flush();
    expect(sent[0]?.action_params).toEqual({ path: 'a.txt', nested: { n: 1 } });
    expect(sent[0]?.metadata).toEqual({ result: ['first'] });
  });

  it('takes the time of the emit, not of the flush', async () => {
    const sent: AuditEvent[] = [];
    const outbox = new AuditOutbox({ send: (e) => sent.push(...e) }, 100);
    const chain = new SessionChain(identity('s'), outbox);
    const before = Date.now();
    chain.emit({ event_type: 'action_started', message: 'm' });
    const after = Date.now();
    await new Promise((r) => setTimeout(r, 30));
    outbox.flush();
    const at = Date.parse(sent[0]!.timestamp);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(after);
  });

  it('links interleaved sessions each in its own order, and a value JSON cannot hold fails the emit without a gap', () => {
    const sent: AuditEvent[] = [];
    const outbox = new AuditOutbox({ send: (e) => sent.push(...e) }, 100);
    const a = new SessionChain(identity('a'), outbox);
    const b = new SessionChain(identity('b'), outbox);
    a.emit({ event_type: 'session_started', message: 'a0' });
    b.emit({ event_type: 'session_started', message: 'b0' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => a.emit({ event_type: 'action_completed', message: 'bad', metadata: cyclic })).toThrow(TypeError);
    expect(() => b.emit({ event_type: 'action_completed', message: 'bad', metadata: { n: 10n } })).toThrow(TypeError);
    a.emit({ event_type: 'action_started', message: 'a1' });
    outbox.flush();
    b.emit({ event_type: 'action_started', message: 'b1' });
    outbox.flush();
    const of = (id: string) => sent.filter((e) => e.session_id === id);
    expect(of('a').map((e) => [e.seq, e.message])).toEqual([[0, 'a0'], [1, 'a1']]);
    expect(of('b').map((e) => [e.seq, e.message])).toEqual([[0, 'b0'], [1, 'b1']]);
    expect(verifyChain('a', of('a'))).toMatchObject({ ok: true, events: 2 });
    expect(verifyChain('b', of('b'))).toMatchObject({ ok: true, events: 2 });
  });
});
