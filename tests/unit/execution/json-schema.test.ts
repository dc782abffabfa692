/** Params validation against a capability's JSON Schema: readable problems, and declared formats enforced. */
import { describe, expect, it } from 'vitest';
import { compileParamsValidator } from '../../../src/execution/json-schema.ts';

describe('compileParamsValidator', () => {
  const validate = compileParamsValidator(
    {
      type: 'object',
      properties: {
        url: { type: 'string', format: 'uri' },
        when: { type: 'string', format: 'date-time' },
        count: { type: 'integer', minimum: 1 },
      },
      required: ['url'],
      additionalProperties: false,
    },
    'tool fetch',
  );

  it('accepts params that match, formats included', () => {
    expect(validate({ url: 'https://example.org/a?b=c', when: '2026-11-25T12:00:00Z', count: 2 })).toBeUndefined();
  });

  it('names the field and the rule that failed', () => {
    expect(validate({})).toMatch(/must have required property 'url'/);
    expect(validate({ url: 'https://x', count: 0 })).toMatch(/count must be >= 1/);
    expect(validate({ url: 'https://x', extra: 1 })).toMatch(/additional propert/);
  });

  it('checks the formats MCP servers declare instead of ignoring them', () => {
    expect(validate({ url: 'not a uri' })).toMatch(/url must match format "uri"/);
    expect(validate({ url: 'https://x', when: 'yesterday' })).toMatch(/when must match format "date-time"/);
  });

  it('refuses a schema that is not valid JSON Schema, naming its owner', () => {
    expect(() => compileParamsValidator({ type: 'no-such-type' }, 'tool broken')).toThrow(/tool broken/);
  });
});
