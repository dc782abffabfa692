import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { requireString } from './params.ts';
import { fsError, O_NOFOLLOW, resolveSandboxPath } from './sandbox-path.ts';
import type { BuiltinTool } from './tool.ts';

/** `write_file` {path, content} → {bytes}: writes UTF-8 text, creating parent directories. */
export const writeFileTool: BuiltinTool = {
  name: 'write_file',
  description: "Writes a UTF-8 text file in the session's sandbox directory, creating parent directories.",
  version: '1.0.0',
  inputSchema: {
    type: 'object',
    properties: {
      path: { type: 'string', minLength: 1, description: 'relative to the sandbox' },
      content: { type: 'string' },
    },
    required: ['path', 'content'],
    additionalProperties: false,
  },
  async run(params, ctx) {
    const relPath = requireString('write_file', params, 'path');
    const content = requireString('write_file', params, 'content');
    try {
      const target = await resolveSandboxPath(ctx.sandboxDir, relPath);
      // The parents are real (resolved) or missing, so mkdir only creates inside the sandbox.
      await mkdir(path.dirname(target), { recursive: true });
      const data = Buffer.from(content, 'utf8');
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | O_NOFOLLOW;
      const handle = await open(target, flags, 0o644);
      try {
        await handle.writeFile(data);
      } finally {
        await handle.close();
      }
      return { bytes: data.byteLength };
    } catch (err) {
      throw fsError('write_file', relPath, err);
    }
  },
};
