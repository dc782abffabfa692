/**
 * parseAction's fast path must build exactly what ActionSchema builds, and refuse exactly what
 * it refuses, with the schema's own message. Checked against the schema itself on generated
 * actions, well-formed and not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActionSchema } from '../../../src/contracts.ts';
import { RuntimeError } from '../../../src/errors.ts';
import { parseAction, parseOrThrow } from '../../../src/validation.ts';

function outcome(parse: () => unknown): { ok: true; value: unknown } | { ok: false; code: string; message: string } {
  try {
    return { ok: true, value: parse() };
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    return { ok: false, code: (err as RuntimeError).code, message: (err as RuntimeError).message };
  }
}

function sameAsSchema(value: unknown): void {
  const fast = outcome(() => parseAction(value, 'action'));
  const schema = outcome(() => parseOrThrow(ActionSchema, value, 'invalid_request', 'action'));
  expect(fast).toEqual(schema);
  if (fast.ok && schema.ok) {
    // Same keys in the output, and params copied (not the caller's object).
    expect(Object.keys(fast.value as object).sort()).toEqual(Object.keys(schema.value as object).sort());
    const input = value as { params?: unknown };
    if (input.params !== undefined) expect((fast.value as { params: unknown }).params).not.toBe(input.params);
  }
}

const text = fc.oneof(fc.string({ maxLength: 8 }), fc.constant(''), fc.constant('x'.repeat(200)), fc.constant('y'.repeat(201)));
const anyValue = fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.array(fc.integer(), { maxLength: 2 }));
const params = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  anyValue,
  fc.constant(Object.create(null) as object),
  fc.constant(new Date(0)),
  fc.constant(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as object),
  fc.constant({ [Symbol('s')]: 1, a: 1 }),
);

describe('parseAction', () => {
  it('builds and refuses exactly what ActionSchema does', () => {
    fc.assert(
      fc.property(
        fc.record(
          { id: fc.oneof(text, anyValue), name: fc.oneof(text, anyValue), params, extra: anyValue },
          { requiredKeys: [] },
        ),
        (action) => sameAsSchema(action),
      ),
      { numRuns: 2000 },
    );
  });

  it('matches the schema on inputs that are not objects at all', () => {
    for (const value of [null, undefined, 'echo', 42, [], [{ name: 'echo' }], new Map()]) sameAsSchema(value);
  });

  it('takes the usual action without the schema, params copied', () => {
    const input = { name: 'echo', params: { message: 'hi', nested: { a: 1 } } };
    const parsed = parseAction(input, 'action');
    expect(parsed).toEqual({ name: 'echo', params: { message: 'hi', nested: { a: 1 } } });
    expect(parsed.params).not.toBe(input.params);
    expect(parseAction({ name: 'echo' }, 'action')).toEqual({ name: 'echo', params: {} });
    expect(parseAction({ id: 'a-1', name: 'echo', params: {} }, 'action')).toEqual({ id: 'a-1', name: 'echo', params: {} });
  });

  it('names the offending field, as the schema does', () => {
    expect(() => parseAction({ name: '', params: {} }, 'action 2')).toThrow(/invalid action 2: name/);
    expect(() => parseAction({ name: 'echo', params: [] }, 'action')).toThrow(/invalid action: params/);
    expect(() => parseAction({ name: 'echo', colour: 'red' }, 'action')).toThrow(/unknown field\(s\) colour/);
  });
});
