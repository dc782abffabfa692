import { lstat, unlink } from 'node:fs/promises';
import { RuntimeError } from '../../errors.ts';
import { requireString } from './params.ts';
import { fsError, resolveSandboxPath } from './sandbox-path.ts';
import type { BuiltinTool } from './tool.ts';

/** `delete_file` {path} → {deleted: true}: removes one file (not a directory) from the sandbox. */
export const deleteFileTool: BuiltinTool = {
  name: 'delete_file',
  description: "Deletes a file from the session's sandbox directory.",
  version: '1.0.0',
  inputSchema: {
    type: 'object',
    properties: { path: { type: 'string', minLength: 1, description: 'relative to the sandbox' } },
    required: ['path'],
    additionalProperties: false,
  },
  async run(params, ctx) {
    const relPath = requireString('delete_file', params, 'path');
    try {
      const target = await resolveSandboxPath(ctx.sandboxDir, relPath);
      // unlink on a directory gives EPERM/EISDIR depending on the OS; say it plainly instead.
      if ((await lstat(target)).isDirectory()) {
        throw new RuntimeError(
          'tool_error',
          `delete_file: "${relPath}" is a directory; only files are deleted`,
        );
      }
      await unlink(target);
      return { deleted: true };
    } catch (err) {
      throw fsError('delete_file', relPath, err);
    }
  },
};
