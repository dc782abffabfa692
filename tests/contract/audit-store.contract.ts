/**
 * The AuditStore contract: every backend (memory, file, PostgreSQL COPY) runs this same suite.
 * A new store passes when `auditStoreContract('my store', makeStore)` is green.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent, AuditQuery } from '../../src/audit/events.ts';
import { verifyChain } from '../../src/audit/hash-chain.ts';
import type { AuditStore } from '../../src/audit/stores/store.ts';
import { byTimeSessionSeq, type EventFields, makeChain, q, scramble } from '../helpers/audit-events.ts';

/** Makes a fresh, empty store (the suite calls init() and close()); cleanup frees what it used. */
export type MakeStore = () => Promise<{ store: AuditStore; cleanup: () => Promise<void> }>;

const T0 = Date.parse('2025-03-01T12:00:00.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();

/**
 * Three sessions over two orgs, two users and two agents. Session b's events fall between
 * session a's (timestamps interleave); session c starts 10 s later.
 */
function fixture(): { a: AuditEvent[]; b: AuditEvent[]; c: AuditEvent[]; all: AuditEvent[] } {
  const a = makeChain('sess-a', 6, { start: T0, fields: owner('org-a', 'user-1', 'agent-x') });
  const b = makeChain('sess-b', 5, { start: T0 + 500, fields: owner('org-a', 'user-2', 'agent-y') });
  const c = makeChain('sess-c', 4, { start: T0 + 10_000, fields: owner('org-b', 'user-1', 'agent-x') });
  return { a, b, c, all: [...a, ...b, ...c] };
}

function owner(org_id: string, user_id: string, agent_id: string): EventFields {
  return { org_id, user_id, agent_id };
}

// Text that breaks naive line-based or escaping code.
const NASTY = [
  'unicode: ünïcödé 日本語 עברית Ωμέγα',
  'emoji: 👩‍💻🔥🇫🇮',
  'tab:\there',
  'newline:\nsecond line',
  'crlf:\r\nand lone cr:\r',
  'backslashes: \\ \\\\ \\n (not a newline)',
  `quotes: " ' \``,
  'nul:\u0000:after',
  'line separators: \u2028 \u2029 \u0085',
  'escape: \u001b[31m',
  '{"looks":"like json"}\n{"event_id":"fake"}',
].join(' | ');

/** Every field of an event set, none null, with the nastiest content we can think of. */
function everyField(seq: number): EventFields {
  if (seq !== 1) return {};
  return {
    event_type: 'mcp_call_failed',
    severity: 'critical',
    message: NASTY,
    action_id: 'act-\u0000-1',
    action_name: 'mcp__srv__tool "x"',
    action_params: {
      text: NASTY,
      nul: 'a\u0000b',
      'key "quoted"\t\n': 'v',
      'émoji 🔑': ['\\', '"', '\u0000', null, true, false, 0, -1.5, 1e21, ''],
      nested: { deeper: { deepest: [{ a: 1 }, [[], {}], 'x\ny'] } },
    },
    capability_type: 'mcp',
    capability_source: 'srv\\path',
    capability_version: '1.2.3-β',
    mcp_server_id: 'srv',
    mcp_server_name: 'Server «one»',
    success: false,
    error_message: 'boom:\n\t"quoted"\u0000',
    duration_ms: 12.5,
    requires_approval: true,
    approval_granted: false,
    metadata: { trace: 'tr\u0000ace', nested: { list: [1, 'two', { three: 3 }] }, emoji: '✅' },
  };
}

/** Defines the contract suite for one store. */
export function auditStoreContract(name: string, makeStore: MakeStore): void {
  describe(name, () => {
    let store: AuditStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.init();
    });

    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it('starts empty and treats an empty append as a no-op', async () => {
      await store.append([]);
      expect(await store.query(q())).toStrictEqual([]);
      expect(await store.count(q())).toBe(0);
      expect(await store.sessionEvents('nobody')).toStrictEqual([]);
    });

    it('round-trips an event with every field set and hostile strings, deep-equal', async () => {
      const events = makeChain('sess-rt', 3, { at: everyField });
      const full = events[1]!;
      expect(Object.entries(full).filter(([, v]) => v === null)).toStrictEqual([]);

      await store.append(events);

      expect(await store.query(q({ session_id: 'sess-rt' }))).toStrictEqual(events);
      const trail = await store.sessionEvents('sess-rt');
      expect(trail).toStrictEqual(events);
      expect(verifyChain('sess-rt', trail).ok).toBe(true);
    });

    describe('filters (query and count agree)', () => {
      const cases: [label: string, query: AuditQuery, keep: (e: AuditEvent) => boolean][] = [
        ['org_id', { org_id: 'org-a' }, (e) => e.org_id === 'org-a'],
        ['user_id', { user_id: 'user-1' }, (e) => e.user_id === 'user-1'],
        ['agent_id', { agent_id: 'agent-y' }, (e) => e.agent_id === 'agent-y'],
        ['session_id', { session_id: 'sess-b' }, (e) => e.session_id === 'sess-b'],
        [
          'event_types (several)',
          { event_types: ['session_started', 'action_failed', 'session_ended'] },
          (e) => ['session_started', 'action_failed', 'session_ended'].includes(e.event_type),
        ],
        [
          'event_types (one)',
          { event_types: ['action_completed'] },
          (e) => e.event_type === 'action_completed',
        ],
        ['success: true', { success: true }, (e) => e.success === true],
        ['success: false', { success: false }, (e) => e.success === false],
        ['since (inclusive)', { since: at(2000) }, (e) => Date.parse(e.timestamp) >= T0 + 2000],
        ['until (exclusive)', { until: at(10_000) }, (e) => Date.parse(e.timestamp) < T0 + 10_000],
        // The same instant written with an offset: stores compare instants, not strings.
        [
          'since with a +01:00 offset',
          { since: '2025-03-01T13:00:02.000+01:00' },
          (e) => Date.parse(e.timestamp) >= T0 + 2000,
        ],
        [
          'since and until together',
          { since: at(1500), until: at(3000) },
          (e) => Date.parse(e.timestamp) >= T0 + 1500 && Date.parse(e.timestamp) < T0 + 3000,
        ],
        [
          'several filters at once',
          { org_id: 'org-a', event_types: ['action_completed', 'action_failed'], success: true },
          (e) => e.org_id === 'org-a' && e.event_type === 'action_completed',
        ],
      ];

      for (const [label, query, keep] of cases) {
        it(label, async () => {
          const { all } = fixture();
          await store.append(scramble(all));
          const expected = all.filter(keep).sort(byTimeSessionSeq);
          // A filter that keeps everything or nothing would prove nothing.
          expect(expected.length).toBeGreaterThan(0);
          expect(expected.length).toBeLessThan(all.length);

          expect(await store.query(q({ ...query, limit: 10_000 }))).toStrictEqual(expected);
          expect(await store.count(q(query))).toBe(expected.length);
        });
      }

      it('an empty event_types list filters nothing', async () => {
        const { all } = fixture();
        await store.append(all);
        expect(await store.count(q({ event_types: [] }))).toBe(all.length);
      });

      it('event_id finds exactly that event (with other filters too); an unknown or malformed id finds none', async () => {
        const { a, all } = fixture();
        await store.append(all);
        const target = a[3]!;
        expect(await store.query(q({ event_id: target.event_id }))).toStrictEqual([target]);
        expect(await store.count(q({ event_id: target.event_id, org_id: target.org_id }))).toBe(1);
        expect(await store.query(q({ event_id: target.event_id, org_id: 'org-b' }))).toStrictEqual([]);
        expect(await store.query(q({ event_id: '00000000-0000-4000-8000-000000000000' }))).toStrictEqual([]);
        expect(await store.query(q({ event_id: "not-a-uuid' OR 1=1 --" }))).toStrictEqual([]);
      });

      it('a filter that matches nothing gives [] and 0', async () => {
        await store.append(fixture().all);
        expect(await store.query(q({ org_id: 'org-none' }))).toStrictEqual([]);
        expect(await store.count(q({ org_id: 'org-none' }))).toBe(0);
      });
    });

    describe('limit and offset', () => {
      it('limit takes the first events in order', async () => {
        const { all } = fixture();
        await store.append(scramble(all));
        const sorted = [...all].sort(byTimeSessionSeq);
        expect(await store.query(q({ limit: 4 }))).toStrictEqual(sorted.slice(0, 4));
      });

      it('offset skips, then limit cuts', async () => {
        const { all } = fixture();
        await store.append(scramble(all));
        const sorted = [...all].sort(byTimeSessionSeq);
        expect(await store.query(q({ offset: 3, limit: 4 }))).toStrictEqual(sorted.slice(3, 7));
        expect(await store.query(q({ offset: 12 }))).toStrictEqual(sorted.slice(12));
        expect(await store.query(q({ offset: all.length }))).toStrictEqual([]);
      });

      it('pages after filtering, and count ignores limit and offset', async () => {
        const { all } = fixture();
        await store.append(scramble(all));
        const orgA = all.filter((e) => e.org_id === 'org-a').sort(byTimeSessionSeq);
        const page = q({ org_id: 'org-a', offset: 2, limit: 3 });
        expect(await store.query(page)).toStrictEqual(orgA.slice(2, 5));
        expect(await store.count(page)).toBe(orgA.length);
      });

      it('pages put together give every event exactly once', async () => {
        const { all } = fixture();
        await store.append(scramble(all));
        const seen: AuditEvent[] = [];
        for (let offset = 0; offset < all.length; offset += 4) {
          seen.push(...(await store.query(q({ offset, limit: 4 }))));
        }
        expect(seen).toStrictEqual([...all].sort(byTimeSessionSeq));
      });
    });

    it('orders by timestamp, then session_id, then seq, whatever the arrival order', async () => {
      // Same instant for every event of both sessions: only session_id and seq can order them.
      const z = makeChain('sess-z', 3, { start: T0, stepMs: 0 });
      const y = makeChain('sess-y', 3, { start: T0, stepMs: 0 });
      const later = makeChain('sess-0', 2, { start: T0 + 1, stepMs: 0 });
      const arrivals = scramble([...z, ...y, ...later]);
      await store.append(arrivals.slice(0, 3));
      await store.append(arrivals.slice(3));

      const got = await store.query(q());
      expect(got.map((e) => `${e.session_id}/${e.seq}`)).toStrictEqual([
        'sess-y/0',
        'sess-y/1',
        'sess-y/2',
        'sess-z/0',
        'sess-z/1',
        'sess-z/2',
        'sess-0/0',
        'sess-0/1',
      ]);
    });

    describe('idempotency by event_id', () => {
      it('re-appending stored events changes nothing', async () => {
        const { all } = fixture();
        await store.append(all);
        const before = await store.query(q({ limit: 10_000 }));

        await store.append(all);
        await store.append(scramble(all).slice(0, 5));

        expect(await store.count(q())).toBe(all.length);
        expect(await store.query(q({ limit: 10_000 }))).toStrictEqual(before);
      });

      it('the first write wins: a later event with a stored event_id does not replace it', async () => {
        const { a } = fixture();
        await store.append(a);
        await store.append([{ ...a[2]!, message: 'rewritten' }]);
        expect(await store.sessionEvents('sess-a')).toStrictEqual(a);
      });

      it('a batch mixing stored, new and repeated events stores each new one once', async () => {
        const { a, b } = fixture();
        await store.append(a);
        await store.append([...a.slice(0, 2), b[0]!, b[0]!, ...b.slice(1), a[3]!]);
        expect(await store.count(q())).toBe(a.length + b.length);
        expect(await store.sessionEvents('sess-b')).toStrictEqual(b);
      });

      it('concurrent appends of the same and different batches neither lose nor duplicate', async () => {
        const { a, b, c, all } = fixture();
        await Promise.all([
          store.append(a),
          store.append(b),
          store.append(a),
          store.append(c),
          store.append(b),
        ]);
        expect(await store.count(q())).toBe(all.length);
        expect(await store.query(q({ limit: 10_000 }))).toStrictEqual([...all].sort(byTimeSessionSeq));
      });
    });

    describe('sessionEvents', () => {
      it('returns one session in seq order, and its chain verifies', async () => {
        const { a, all } = fixture();
        await store.append(scramble(all).slice(0, 7));
        await store.append(scramble(all).slice(7));

        const trail = await store.sessionEvents('sess-a');
        expect(trail).toStrictEqual(a);
        expect(verifyChain('sess-a', trail)).toStrictEqual({
          session_id: 'sess-a',
          org_id: a[0]!.org_id,
          ok: true,
          events: a.length,
          complete: true,
          head: { seq: a.at(-1)!.seq, hash: a.at(-1)!.hash },
        });
      });

      it('keeps seq order when every event has the same timestamp', async () => {
        const same = makeChain('sess-same', 5, { start: T0, stepMs: 0 });
        await store.append([...same].reverse());
        const trail = await store.sessionEvents('sess-same');
        expect(trail.map((e) => e.seq)).toStrictEqual([0, 1, 2, 3, 4]);
        expect(verifyChain('sess-same', trail).ok).toBe(true);
      });

      it('returns [] for an unknown session', async () => {
        await store.append(fixture().all);
        expect(await store.sessionEvents('sess-unknown')).toStrictEqual([]);
      });
    });

    describe('deleteOlderThan', () => {
      it('removes exactly the events strictly before the cutoff and says how many', async () => {
        const { all } = fixture();
        await store.append(scramble(all));
        const cutoff = T0 + 2000; // a's seq 2 is exactly at the cutoff and stays
        const kept = all.filter((e) => Date.parse(e.timestamp) >= cutoff).sort(byTimeSessionSeq);

        expect(await store.deleteOlderThan(new Date(cutoff))).toBe(all.length - kept.length);

        expect(await store.query(q({ limit: 10_000 }))).toStrictEqual(kept);
        expect(await store.count(q())).toBe(kept.length);
        expect((await store.sessionEvents('sess-a')).map((e) => e.seq)).toStrictEqual([2, 3, 4, 5]);
        expect(await store.deleteOlderThan(new Date(cutoff))).toBe(0);
      });

      it('deletes nothing when nothing is old, everything when all is, and appends still work', async () => {
        const { a, b, c } = fixture();
        await store.append([...a, ...b]);
        expect(await store.deleteOlderThan(new Date(T0 - 1))).toBe(0);
        expect(await store.deleteOlderThan(new Date(T0 + 60_000))).toBe(a.length + b.length);
        expect(await store.count(q())).toBe(0);

        await store.append(c);
        expect(await store.query(q())).toStrictEqual(c);
      });
    });

    it('reports healthy', async () => {
      expect((await store.health()).status).toBe('healthy');
    });
  });
}
