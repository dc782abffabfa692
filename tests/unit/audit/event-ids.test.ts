import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventIdList, EventIdSet } from '../../../src/audit/stores/event-ids.ts';

// A small id space, so the same ids come back and tables wrap around and shift on delete:
// canonical UUIDs (most), near-misses that must be kept as plain strings, and other ids.
const HEX = '0123456789abcdef';
const uuid = fc
  .tuple(fc.integer({ min: 0, max: 63 }), fc.constantFrom('a', 'b'))
  .map(([n, v]) => `${HEX[n >> 4]}${HEX[n & 15]}00000${v}-0000-4000-8000-00000000000${HEX[n & 15]}`);
const notCanonical = fc.constantFrom(
  '6F1C0E3A-2B7D-4C1E-9A55-0D2F3B4C5D6E', // upper case: another id than its lower-case form
  '6f1c0e3a-2b7d-4c1e-9a55-0d2f3b4c5d6',
  '6f1c0e3a-2b7d-4c1e-9a55-0d2f3b4c5d6e0',
  '6f1c0e3a_2b7d-4c1e-9a55-0d2f3b4c5d6e',
  '6f1c0e3a-2b7d-4c1e-9a55-0d2f3b4c5d6g',
  '',
  'e-1',
  'évènement',
);
const anyId = fc.oneof({ weight: 6, arbitrary: uuid }, { weight: 1, arbitrary: notCanonical }, { weight: 1, arbitrary: fc.string() });
const op = fc.tuple(fc.constantFrom('add', 'delete', 'has'), anyId);

describe('EventIdSet', () => {
  it('answers like a Set<string> through any sequence of adds, deletes and lookups', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.constantFrom(2, 4, 16), (ops, slots) => {
        const set = new EventIdSet(slots);
        const model = new Set<string>();
        for (const [kind, id] of ops) {
          if (kind === 'add') {
            expect(set.add(id)).toBe(!model.has(id));
            model.add(id);
          } else if (kind === 'delete') expect(set.delete(id)).toBe(model.delete(id));
          else expect(set.has(id)).toBe(model.has(id));
          expect(set.size).toBe(model.size);
        }
        for (const id of model) expect(set.has(id)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('holds a hundred thousand random ids, and forgets exactly the ones deleted', () => {
    const set = new EventIdSet();
    const ids = Array.from({ length: 100_000 }, () => randomUUID());
    for (const id of ids) expect(set.add(id)).toBe(true);
    for (let i = 0; i < ids.length; i += 2) expect(set.delete(ids[i]!)).toBe(true);
    expect(set.size).toBe(50_000);
    for (let i = 0; i < ids.length; i++) expect(set.has(ids[i]!)).toBe(i % 2 === 1);
  });

  it('refuses a table size that is not a power of two', () => {
    expect(() => new EventIdSet(1000)).toThrow(RangeError);
  });
});

describe('EventIdList', () => {
  it('deleteAll forgets the ids of a list, without touching the others; without() drops a set', () => {
    fc.assert(
      fc.property(fc.uniqueArray(anyId, { maxLength: 120 }), fc.uniqueArray(anyId, { maxLength: 120 }), (mine, theirs) => {
        const list = new EventIdList();
        const set = new EventIdSet(4);
        for (const id of mine) {
          list.push(id);
          set.add(id);
        }
        for (const id of theirs) set.add(id);
        expect(list.length).toBe(mine.length);

        const drop = new EventIdSet(2);
        for (const id of theirs) drop.add(id);
        const kept = list.without(drop);
        expect(kept.length).toBe(mine.filter((id) => !drop.has(id)).length);

        set.deleteAll(list);
        for (const id of mine) expect(set.has(id)).toBe(false);
        for (const id of theirs) if (!mine.includes(id)) expect(set.has(id)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
