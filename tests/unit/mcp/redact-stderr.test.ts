/** MCP servers' stderr is piped into our log, redacted (FACTS: by default it would go to ours). */
import { describe, expect, it } from 'vitest';
import { redactLine } from '../../../src/capabilities/mcp/client-identity.ts';

describe('redactLine', () => {
  it('hides credential-looking values, bearer tokens and the configured env values', () => {
    expect(redactLine('starting with api_key=abc123 and password: "p w"', [])).toBe(
      'starting with api_key=[REDACTED] and password: [REDACTED]',
    );
    expect(redactLine('Authorization: Bearer eyJhbGciOi', [])).toBe('Authorization: [REDACTED]');
    expect(redactLine('using ghp_secretvalue123 for calls', ['ghp_secretvalue123'])).toBe(
      'using [REDACTED] for calls',
    );
  });
  it('leaves ordinary lines alone', () => {
    expect(redactLine('listening on stdio', ['ab'])).toBe('listening on stdio');
  });
});
