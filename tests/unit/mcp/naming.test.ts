/** Tool names that every LLM tool-calling API accepts, and connection keys. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TOOL_NAME_PATTERN,
  disambiguatedName,
  mcpConnectionKey,
  mcpToolName,
} from '../../../src/capabilities/mcp/naming.ts';

describe('mcpToolName', () => {
  it('keeps plain names readable: mcp__<server_id>__<tool_name>', () => {
    expect(mcpToolName('github', 'create_issue')).toBe('mcp__github__create_issue');
    expect(mcpToolName('everything', 'get-sum')).toBe('mcp__everything__get-sum');
  });

  it('rewrites other characters and over-long names, with a hash so distinct tools stay distinct', () => {
    const dotted = mcpToolName('fs', 'files.read');
    const spaced = mcpToolName('fs', 'files read');
    expect(dotted).toMatch(/^mcp__fs__files_read_[0-9a-f]{8}$/);
    expect(dotted).not.toBe(spaced);
    const long = mcpToolName('a'.repeat(32), 'x'.repeat(100));
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).toMatch(TOOL_NAME_PATTERN);
  });

  it('always yields a valid, injective name for any server id and tool name', () => {
    const serverId = fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/);
    fc.assert(
      fc.property(
        serverId,
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.string({ minLength: 1, maxLength: 200 }),
        (id, a, b) => {
          const na = mcpToolName(id, a);
          expect(na).toMatch(TOOL_NAME_PATTERN);
          expect(disambiguatedName(id, a)).toMatch(TOOL_NAME_PATTERN);
          if (a !== b) expect(na).not.toBe(mcpToolName(id, b));
        },
      ),
    );
  });
});

describe('mcpConnectionKey', () => {
  const server = { id: 'gh', transport: { type: 'stdio' as const, command: 'gh-mcp', args: ['--x'] } };
  it('is the same for the same org and config, whatever the key order or the display name', () => {
    const reordered = {
      id: 'gh',
      name: 'GitHub',
      transport: { args: ['--x'], command: 'gh-mcp', type: 'stdio' as const },
    };
    expect(mcpConnectionKey('acme', server)).toBe(mcpConnectionKey('acme', reordered));
  });
  it('differs per org and per transport config', () => {
    expect(mcpConnectionKey('acme', server)).not.toBe(mcpConnectionKey('globex', server));
    expect(mcpConnectionKey('acme', server)).not.toBe(
      mcpConnectionKey('acme', { ...server, transport: { ...server.transport, args: ['--y'] } }),
    );
  });
});
