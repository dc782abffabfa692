import { describe, expect, it } from 'vitest';
import { BUILTIN_TOOLS } from '../../../../src/capabilities/tools/index.ts';

describe('BUILTIN_TOOLS', () => {
  it('lists every tool of the SPEC under its own name', () => {
    expect([...BUILTIN_TOOLS.keys()].sort()).toEqual([
      'delete_file',
      'echo',
      'execute_code',
      'http_request',
      'read_file',
      'sleep',
      'write_file',
    ]);
    for (const [name, tool] of BUILTIN_TOOLS) expect(tool.name).toBe(name);
  });

  it('gives each tool a version, a description and a closed object schema', () => {
    for (const tool of BUILTIN_TOOLS.values()) {
      expect(tool.version).toBe('1.0.0');
      expect(tool.description.length).toBeGreaterThan(0);
      expect(tool.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
      expect(Array.isArray(tool.inputSchema['required'])).toBe(true);
    }
  });
});
