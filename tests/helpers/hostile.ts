/**
 * fast-check arbitraries for text and JSON that storage layers find awkward: NUL, tabs, newlines,
 * backslashes, COPY's own markers, the private-use escape character, lone surrogates, emoji.
 */
import fc from 'fast-check';

export const hostileUnit = fc.oneof(
  fc.constantFrom(
    '\u0000',
    '\t',
    '\n',
    '\r',
    '\\',
    '\\N',
    '\\.',
    '"',
    "'",
    '\uE000',
    '\uE000e',
    '\uD800',
    '\uDFFF',
    '\u2028',
    '\u001b',
    '🔥',
  ),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
export const hostile = fc.string({ unit: hostileUnit, maxLength: 40 });
export const jsonScalar = fc.oneof(
  hostile,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
  fc.boolean(),
  fc.constant(null),
);
export const params = fc.object({ key: hostile, values: [jsonScalar], maxDepth: 3, maxKeys: 5 });
