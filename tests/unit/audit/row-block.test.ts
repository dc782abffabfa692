/**
 * RowBlock: the database store holds a batch as COPY text rows from the moment it arrives, and
 * reads an event back from its row when it must (spooling a refused batch, dead-lettering a
 * poison row). What is read back must be exactly the event that was encoded, or the spool would
 * replay, and the dead-letter file keep, something else than what the session hashed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditCipher } from '../../../src/audit/crypto.ts';
import { actionOutcome, UNKNOWN_ACTION } from '../../../src/audit/events.ts';
import { verifyChain } from '../../../src/audit/hash-chain.ts';
import { encodeRow, parseCopyRow } from '../../../src/audit/stores/postgres/encode.ts';
import { RowBlock } from '../../../src/audit/stores/postgres/row-block.ts';
import { chainAroundFields, makeChain } from '../../helpers/audit-events.ts';
import { hostile, params } from '../../helpers/hostile.ts';

const cipher = AuditCipher.fromKeyText(`k1:${Buffer.alloc(32, 7).toString('base64')}`);

let run = 0;
const awkwardChain = (
  message: string,
  errorText: string,
  p: Record<string, unknown>,
  meta: Record<string, unknown>,
) =>
  chainAroundFields(`rows-${run++}`, {
    message,
    error_message: errorText,
    action_id: message,
    action_params: p,
    metadata: meta,
    duration_ms: 1.5,
  });

describe('RowBlock', () => {
  it('reads back exactly the events it encoded, whatever their text (property-based)', () => {
    fc.assert(
      fc.property(hostile, hostile, params, params, (message, errorText, p, meta) => {
        const events = awkwardChain(message, errorText, p, meta);
        const back = RowBlock.encode(events).events();
        expect(back).toStrictEqual(events);
        expect(verifyChain(events[0]!.session_id, back).ok).toBe(true);
      }),
      {
        numRuns: 300,
        examples: [
          ['', '', JSON.parse('{"__proto__":{},"":{"\\u0000":null}}') as Record<string, unknown>, {}],
        ],
      },
    );
  });

  it('reads back sealed events with the cipher they were sealed with', () => {
    fc.assert(
      fc.property(hostile, params, (message, p) => {
        const events = awkwardChain(message, message, p, { note: message });
        expect(RowBlock.encode(events, cipher).events(cipher)).toStrictEqual(events);
      }),
      { numRuns: 100 },
    );
  });

  it('parses a row into the columns PostgreSQL would return for it', () => {
    const [event] = makeChain('cols', 1, {
      fields: { message: 'tab\there, newline\nhere, backslash \\ here' },
    });
    const row = parseCopyRow(encodeRow(event!).slice(0, -1));
    expect(row.message).toBe(event!.message);
    expect(row.timestamp.toISOString()).toBe(event!.timestamp);
    expect(row.timestamp_text).toBeNull();
    expect(row.escaped).toBe(false);
    expect(row.key_id).toBeNull();
    expect(() => parseCopyRow('too\tfew')).toThrow(/a COPY row has 2 columns/);
  });

  it('slices, drops and joins rows without mixing them up', () => {
    const events = makeChain('slices', 10, { fields: { message: 'ünïcödé 🔥' } });
    const block = RowBlock.encode(events);
    expect(block.length).toBe(10);
    expect(block.slice(3, 6).events()).toStrictEqual(events.slice(3, 6));
    expect(block.slice(0, 0).length).toBe(0);
    expect(block.without(new Set([0, 4, 9])).events()).toStrictEqual(
      events.filter((_, i) => ![0, 4, 9].includes(i)),
    );
    const joined = RowBlock.concat([block.slice(0, 2), block.slice(2, 7), block.slice(7)]);
    expect(joined.bytes.equals(block.bytes)).toBe(true);
    expect(joined.events()).toStrictEqual(events);
    expect(Array.from({ length: joined.length }, (_, i) => joined.id(i))).toEqual(
      events.map((e) => e.event_id),
    );
  });

  it('keeps each row month and how each action ended, through slices and joins', () => {
    const events = makeChain('meta', 8, {
      start: '2025-01-31T23:59:59.998Z',
      stepMs: 1,
      at: (seq) =>
        seq === 2
          ? { event_type: 'action_rejected', capability_type: null, action_name: 'made_up_tool' }
          : seq === 3
            ? { event_type: 'action_completed', action_name: 'echo', duration_ms: null }
            : {},
    });
    const block = RowBlock.encode(events);
    const monthsOf = (b: RowBlock) => Array.from({ length: b.length }, (_, i) => b.month(i));
    expect(monthsOf(block)).toEqual(['2025-01', '2025-01', ...Array(6).fill('2025-02')]);
    expect(block.months()).toEqual(['2025-01', '2025-02']);
    const expected = events.map(actionOutcome).filter((o) => o !== undefined);
    expect(block.outcomes()).toEqual(expected);
    expect(block.outcomes()).toContainEqual({
      status: 'rejected',
      name: UNKNOWN_ACTION,
      duration_ms: events[2]!.duration_ms,
    });
    expect(block.outcomes()).toContainEqual({ status: 'success', name: 'echo', duration_ms: null });
    expect(block.slice(0, 1).outcomes()).toEqual([]);
    // Joined in another order: each block's strings are renumbered, the facts stay with their rows.
    const swapped = RowBlock.concat([block.slice(2), block.slice(0, 2)]);
    expect(monthsOf(swapped)).toEqual([...monthsOf(block).slice(2), ...monthsOf(block).slice(0, 2)]);
    expect(swapped.outcomes()).toEqual(
      [...events.slice(2).map(actionOutcome), ...events.slice(0, 2).map(actionOutcome)].filter(
        (o) => o !== undefined,
      ),
    );
  });
});
